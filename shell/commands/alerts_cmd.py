"""`inferwatch alerts run | outbox | test`: the scheduled alert job and its tools."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from alerts.outbox import iso
from alerts.rule_replay import run_file
from inferwatch.schema import OutboxMessage
from shell.alert_job import run_once
from shell.commands.context import runtime
from shell.exits import CommandError


def register(app: typer.Typer) -> None:
    alerts_app = typer.Typer(help="Alert rules, the scheduled alert job and its outbox.", no_args_is_help=True)
    alerts_app.command("run")(alerts_run)
    alerts_app.command("outbox")(alerts_outbox)
    alerts_app.command("test")(alerts_test)
    app.add_typer(alerts_app, name="alerts")


def alerts_run(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Evaluate and show what would be sent; "
                                                            "save and send nothing.")] = False,
) -> None:
    """Evaluate every rule once, send due notifications, exit (run it from cron or a timer).

    Exit 0: evaluated and delivered (whether or not anything fires). 1: notifications stay
    queued in the outbox or a rule could not be evaluated. 2: configuration error.
    75: another run holds the lock, or the store is unreachable. See docs/alerts.md.
    """
    result = run_once(runtime(ctx), dry_run=dry_run)
    if dry_run:
        for message in result.messages:
            typer.echo(json.dumps(dict(message.payload), sort_keys=True))
    typer.echo(f"inferwatch alerts: {result.message}", err=result.exit_code != 0)
    raise typer.Exit(result.exit_code)

def alerts_outbox(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, delivered or dead (default: pending and dead).")] = None,
    retry: Annotated[str | None, typer.Option(help="Requeue this dead letter (by id) for new attempts.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show queued notifications and dead letters (what could not be delivered, and why)."""
    store = runtime(ctx).open_store()
    if retry is not None:
        if not store.requeue(retry, int(datetime.now(UTC).timestamp())):
            raise CommandError(f"no dead letter with id {retry}", exit_code=1)
        typer.echo(f"requeued {retry}: the next `inferwatch alerts run` sends it")
        return
    if status is not None and status not in ("pending", "delivered", "dead"):
        raise CommandError("--status must be pending, delivered or dead")
    rows: list[OutboxMessage] = []
    for s in [status] if status else ["pending", "dead"]:
        rows.extend(store.load_outbox(status=s))
    if as_json:
        typer.echo(json.dumps([{"id": m.id, "receiver": m.receiver, "group": m.group, "status": m.status,
                                "attempts": m.attempts, "created_at": iso(m.created_at_s),
                                "next_attempt_at": iso(m.next_attempt_at_s), "last_error": m.last_error,
                                "payload": dict(m.payload)} for m in rows], indent=2))
        return
    if not rows:
        typer.echo("outbox is empty: every notification was delivered")
        return
    for m in rows:
        colour = typer.colors.RED if m.status == "dead" else typer.colors.YELLOW
        typer.echo(f"{m.id}  {typer.style(m.status, fg=colour):<8} {m.receiver:<12} {m.group:<36} "
                   f"attempts={m.attempts} created={iso(m.created_at_s)}  {m.last_error or ''}")

def alerts_test(
    file: Annotated[Path, typer.Argument(help="Rule-test file (TOML), e.g. alerts/default_rules_test.toml.")],
) -> None:
    """Run promtool-style rule tests: input series, alerts expected at given times; report mismatches."""
    outcomes = run_file(file)  # a bad file: AlertConfigError, one line and exit 2 (shell.exits)
    failed = [o for o in outcomes if not o.ok]
    for o in outcomes:
        mark = typer.style("ok", fg="green") if o.ok else typer.style("FAIL", fg="red")
        typer.echo(f"  {mark}  {o.name}")
        for failure in o.failures:
            typer.echo(f"        {failure}")
    typer.echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed or not outcomes:
        raise typer.Exit(1)

