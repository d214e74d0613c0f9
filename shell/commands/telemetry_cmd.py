"""`inferwatch telemetry validate FILE`: which lines of a telemetry file the collectors would take, refuse
or count as carrying nothing, and whether each line's model has a baseline (exit 1 when a line is bad)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from collectors.telemetry_check import FileSummary, LineCheck, check_file
from inferwatch.paths import os_problem
from shell.collect import collector_context
from shell.commands.context import runtime
from shell.exits import CommandError


def describe_check(check: LineCheck) -> str:
    """One line of `telemetry validate`'s text output."""
    head = f"line {check.line_number}: {check.kind}"
    if not check.ok:
        return f"{head}: BAD: " + "; ".join(message for _, message in check.problems)
    model = "" if check.model is None else f" ({check.model.service} model {check.model.model_version})"
    baseline = f", baseline {check.baseline_id}" if check.baseline_id else ""
    return f"{head}: ok{model}{baseline}" + (f": {check.note}" if check.note else "")


def register(app: typer.Typer) -> None:
    telemetry_app = typer.Typer(help="Check telemetry lines against the contract (docs/telemetry.md).",
                                no_args_is_help=True)

    @telemetry_app.command("validate")
    def validate(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="A telemetry file: JSON lines (EMF, or the probe's window lines).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Say, line by line, whether a line is an invocation line, a window line, another tool's EMF or
        not EMF; which contract fields are missing or wrong (with the collectors' own parsers: a line
        passes exactly when collection would take it); and whether a baseline exists for its service and
        model. Exit 1 when any line is bad."""
        rt = runtime(ctx)
        baselines = collector_context(rt, rt.open_store()).baselines
        summary = FileSummary()
        checks = []
        try:
            for check in check_file(file, baselines):
                summary.add(check)
                if as_json:
                    checks.append(check.as_dict())
                else:
                    typer.echo(describe_check(check))
        except OSError as exc:
            raise CommandError(f"{file}: {os_problem(exc)}") from exc
        if as_json:
            typer.echo(json.dumps({"file": str(file), "lines": checks, "summary": {
                "lines": summary.lines, "bad": summary.bad, "without_baseline": summary.without_baseline,
                "by_kind": summary.by_kind}}, indent=2))
        else:
            typer.echo(f"{file}: {summary.lines} lines, {summary.bad} bad, {summary.without_baseline} without a "
                       "baseline")
        if summary.bad:
            raise typer.Exit(1)

    app.add_typer(telemetry_app, name="telemetry")
