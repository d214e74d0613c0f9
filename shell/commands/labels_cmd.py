"""`inferwatch labels ingest FILE`: labels that arrive after the predictions, for realised quality.

The file (CSV or JSON lines, see ``shell.labels_file``) names each labelled prediction by request id,
or by timestamp and prediction; rows are resolved, checked against their model and stored with the
per-step aggregates (``readmodels.labels``). Ingesting a file again changes nothing. Exit 0 when every
row was stored or matched no prediction, 1 when some rows were refused (each listed with its line),
2 when the file cannot be used at all.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from readmodels.labels import IngestReport, ingest_labels
from shell.commands.context import runtime
from shell.labels_file import read_label_file

SHOWN_ERRORS = 20


def _summary(path: Path, report: IngestReport, unread_count: int) -> list[str]:
    lines = [f"{path.name}: {report.read_count + unread_count:,} rows read"]
    if report.stored_count:
        per = ", ".join(f"{dep} ({n:,})" for dep, n in sorted(report.per_deployment.items()))
        lines.append(f"  stored {report.stored_count:,} labels ({report.new_count:,} new, "
                     f"{report.stored_count - report.new_count:,} already there) for {per}")
    else:
        lines.append("  stored no labels")
    if report.unmatched_count:
        lines.append(f"  {report.unmatched_count:,} labels matched no prediction (request ids unknown, of answers "
                     "that were not ok, or older than the 3 days predictions are kept)")
    return lines


def register(app: typer.Typer) -> None:
    labels_app = typer.Typer(help="Labels that arrive after the predictions: realised quality.", no_args_is_help=True)

    @labels_app.command("ingest")
    def ingest(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="CSV with a header, or JSON lines (.jsonl).")],
        deployment: Annotated[str | None, typer.Option(
            help="Deployment id (or name) of rows without a deployment column.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
    ) -> None:
        """Store labels for realised quality: columns label and request_id (the local collector keeps
        each request's prediction for 3 days), or label, timestamp, prediction and score (any deployment);
        optional deployment, row (within a batched request) and model_version.

        A row that cannot be used (a label that is not one of the model's classes, or not a number for
        a regressor; an unknown deployment; a bad timestamp) is refused alone with its line; the others
        are stored. The same file ingested twice changes nothing; a corrected label replaces the old one.
        """
        rt = runtime(ctx)
        inputs, file_errors = read_label_file(file)
        report = ingest_labels(rt.open_store(), inputs, now=datetime.now(UTC), source=file.name,
                               step_s=rt.settings.collect.step_s, deployment=deployment)
        errors = sorted(file_errors + report.errors, key=lambda e: e.line)
        refused = len(file_errors) + report.error_count
        if as_json:
            typer.echo(json.dumps({
                "file": str(file), "rows_read": report.read_count + len(file_errors),
                "stored": report.stored_count, "new": report.new_count, "unmatched": report.unmatched_count,
                "refused": refused, "per_deployment": dict(report.per_deployment),
                "errors": [{"line": e.line, "message": e.message} for e in errors]}, indent=2))
        else:
            for line in _summary(file, report, len(file_errors)):
                typer.echo(line)
            if refused:
                typer.secho(f"  {refused:,} rows refused:", fg=typer.colors.RED, err=True)
                for e in errors[:SHOWN_ERRORS]:
                    typer.secho(f"    line {e.line}: {e.message}", err=True)
                if refused > SHOWN_ERRORS:
                    typer.secho(f"    ... and {refused - SHOWN_ERRORS:,} more (--json lists the first 200)", err=True)
        if refused:
            raise typer.Exit(1)

    app.add_typer(labels_app, name="labels")
