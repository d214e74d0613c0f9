"""`inferwatch config check`: validate the config and ask each provider whether it can collect."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from alerts.errors import AlertConfigError
from collectors.base import CollectorContext, ProviderCheck
from collectors.local import telemetry_root
from collectors.registry import check_providers
from collectors.telemetry_check import folder_summaries
from inferwatch.store import Store, StoreError, redact
from shell.alert_job import build_notifiers
from shell.collect import collector_context
from shell.commands.context import runtime
from shell.runtime import Runtime


def notifier_check(rt: Runtime) -> ProviderCheck:
    """Can the alert job build its notifiers here: environment variables set, CA files readable.
    `inferwatch alerts run` refuses to start without them, with the same message."""
    try:
        notifiers = build_notifiers(rt.sections.alerts, rt)
    except AlertConfigError as exc:
        return ProviderCheck("alerts", "notifiers", False, str(exc))
    return ProviderCheck("alerts", "notifiers", True, f"notifiers ready: {', '.join(sorted(notifiers))}")


def store_check(rt: Runtime) -> ProviderCheck:
    """Does the store answer (every verb but this one needs it)."""
    url = redact(rt.store_url)
    try:
        with Store.open(rt.store_url, create=False) as store:
            store.ping()
    except StoreError as exc:
        return ProviderCheck("store", url, False, str(exc))
    return ProviderCheck("store", url, True, f"{url} answers")


def telemetry_checks(rt: Runtime, *, max_lines: int = 10_000) -> list[ProviderCheck]:
    """`inferwatch telemetry validate` over each local telemetry folder (its newest ``max_lines`` lines):
    lines, bad lines (a folder with any fails the check) and lines whose model has no baseline."""
    try:
        store: Store | None = Store.open(rt.store_url, create=False)
    except StoreError:
        store = None  # reported by the store's own check; the lines are still checked
    baselines = collector_context(rt, store).baselines if store is not None else None
    checks = []
    for folder, summary, unreadable in folder_summaries(telemetry_root(rt.home), baselines,
                                                        max_lines_per_folder=max_lines):
        detail = (f"{summary.lines} lines{' (the newest)' if summary.lines >= max_lines else ''}, "
                  f"{summary.bad} bad, " + (f"{summary.without_baseline} without a baseline" if baselines
                                           else "baselines not checked (no store)"))
        if unreadable:
            detail += f"; unreadable: {', '.join(unreadable[:3])}"
        if summary.bad:
            detail += f" (see `inferwatch telemetry validate <file>` in {folder})"
        checks.append(ProviderCheck("telemetry", str(folder), not summary.bad and not unreadable, detail))
    if store is not None:
        store.dispose()
    return checks


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Inspect and check inferwatch.toml.", no_args_is_help=True)

    @config_app.command("check")
    def check(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Validate inferwatch.toml as every command does (errors name the bad field, exit 2), then
        report per provider whether credentials are found, the API answers and the permissions
        suffice, whether the alert job's notifiers have their environment, whether the store answers,
        and per local telemetry folder how many of its newest lines are bad or have no baseline
        (`inferwatch telemetry validate`; exit 1 when one check fails). No tracebacks."""
        rt = runtime(ctx)
        results = [*check_providers(rt.settings, CollectorContext(home=rt.home, env=rt.env)), notifier_check(rt),
                   store_check(rt), *telemetry_checks(rt)]
        if as_json:
            typer.echo(json.dumps([r.as_dict() for r in results], indent=2))
        else:
            typer.echo(f"config: {rt.settings.source_path or 'built-in local demo defaults'} is valid")
            for r in results:
                mark = typer.style("ok", fg="green") if r.ok else typer.style("FAIL", fg="red")
                typer.echo(f"  {r.provider:<6} {mark}  {r.detail}")
        if not all(r.ok for r in results):
            raise typer.Exit(1)

    app.add_typer(config_app, name="config")
