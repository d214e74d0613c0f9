"""`inferwatch collect` and `inferwatch status`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import Progress

from readmodels.status import latest_status
from shell.collect import collect_once
from shell.commands.context import runtime


def register(app: typer.Typer) -> None:
    @app.command()
    def collect(
        ctx: typer.Context,
        again: Annotated[bool, typer.Option(
            "--again", help="Collect the units collected during this interval too (by hand, after a fix); "
            "units another process is collecting right now are still left to it.")] = False,
    ) -> None:
        """Run every configured collector once (in parallel across accounts and regions).

        Each collector resumes from its last complete window and writes in one transaction, so
        running it again never duplicates data. A failing or denied provider is recorded and shown
        (see the dashboard's Sources page) while the others still land; the exit code is 1 then.
        Several `inferwatch collect` processes sharing one store (hosts on one PostgreSQL) split the
        accounts, regions and services between them: a unit another process holds, or one collected
        during the current `[collect] interval_s`, is listed as skipped, which is not a failure
        (`--again` collects those too).
        """
        rt = runtime(ctx)
        store = rt.open_store()
        with Progress(transient=True) as progress:
            task = progress.add_task("collecting", total=None)
            done = collect_once(rt, store, on_start=lambda n: progress.update(task, total=n),
                                on_done=lambda _: progress.advance(task), on_skip=lambda _: progress.advance(task),
                                once_per_interval=not again)
        runs = done.runs
        for run in sorted(runs, key=lambda r: r.collector):
            colour = {"ok": "green", "partial": "yellow"}.get(run.status, "red")
            line = f"{run.collector:<40} {typer.style(run.status, fg=colour):<8} {run.points_written} records"
            typer.echo(line + (f"  {run.error}" if run.error else ""))
            for warning in run.warnings[:5]:
                typer.echo(f"    warning: {warning}")
        for skipped in sorted(done.skipped, key=lambda s: s.lease.unit):
            typer.echo(f"{skipped.lease.unit:<40} {typer.style('skipped', fg='cyan')}  {skipped.describe()}")
        if any(r.status == "failed" for r in runs):
            raise typer.Exit(1)

    @app.command()
    def status(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
        window: Annotated[int, typer.Option(help="Look back this many seconds.")] = 900,
    ) -> None:
        """Print the latest numbers per deployment: invocations, p50/p95/p99, error and cold-start rates."""
        rows = latest_status(runtime(ctx).open_store(), datetime.now(UTC), window_s=window)
        if as_json:
            typer.echo(json.dumps({"deployments": [r.as_dict() for r in rows]}, indent=2))
            return
        if not rows:
            typer.echo("no deployments yet: run `inferwatch demo` or `inferwatch collect`")
            return
        typer.echo(f"{'deployment':<32} {'inv':>7} {'p50':>8} {'p95':>8} {'p99':>8} {'err%':>6} {'cold':>5}")
        for r in rows:
            typer.echo(f"{r.deployment:<32} {r.invocations:>7} {_ms(r.p50_ms)} {_ms(r.p95_ms)} {_ms(r.p99_ms)} "
                       f"{_pct(r.error_rate)} {r.cold_starts:>5}")


def _ms(value: float | None) -> str:
    return f"{value:>6.1f}ms" if value is not None else f"{'-':>8}"


def _pct(value: float | None) -> str:
    return f"{value * 100:>5.1f}%" if value is not None else f"{'-':>6}"
