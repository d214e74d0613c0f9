"""`inferwatch advise` and `inferwatch report weekly`: the edges of costs/ (clock, files, settings)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from costs.advice import AdviceResult
from costs.advice_model import AdvicePolicy
from costs.catalogue import PriceCatalogue
from costs.errors import ReportInputError
from costs.power_tuning import parse_power_tuning
from costs.report import IsoWeek, WeeklyReport, render_csv, render_detail_csv, render_html, render_markdown
from inferwatch.errors import PathError
from inferwatch.paths import os_problem, usable_folder
from readmodels.costs import advice_end, load_advice, load_weekly_report
from shell.commands.context import runtime
from shell.runtime import Runtime

FORMATS = ("csv", "html", "md")


def report_files(report: WeeklyReport, formats: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``{file name: (mime type, content)}`` of the report in ``formats`` (csv gives summary and detail)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ReportInputError(f"format {','.join(unknown) or '(none)'} is not one of {', '.join(FORMATS)}",
                               field="format")
    out: dict[str, tuple[str, str]] = {}
    if "csv" in formats:
        out[f"{report.stem}.summary.csv"] = ("text/csv", render_csv(report))
        out[f"{report.stem}.detail.csv"] = ("text/csv", render_detail_csv(report))
    if "md" in formats:
        out[f"{report.stem}.md"] = ("text/markdown", render_markdown(report))
    if "html" in formats:
        out[f"{report.stem}.html"] = ("text/html", render_html(report))
    return out


def write_report_files(report: WeeklyReport, out_dir: Path, formats: Sequence[str], *,
                       generated_at: datetime) -> list[Path]:
    """Write the files and a manifest.json (generation time, sources, coverage, sha256 of each file)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written, hashes = [], {}
    for name, (_, content) in report_files(report, formats).items():
        path = out_dir / name
        path.write_text(content, encoding="utf-8", newline="")
        hashes[name] = hashlib.sha256(content.encode("utf-8")).hexdigest()
        written.append(path)
    manifest = {
        "week": report.week.label, "generated_at": generated_at.isoformat(), "estimated": True,
        "price_sources": [{"service": s, "url": u, "checked": c} for s, u, c in report.sources],
        "coverage": {r.deployment: {"days_with_data": r.days_with_data, "status": r.status,
                                    "billed_records": r.billed_usd is not None} for r in report.rows},
        "unpriced": dict(report.unpriced), "files": hashes,
    }
    path = out_dir / f"{report.stem}.manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return [*written, path]


def parse_formats(value: str) -> list[str]:
    formats = [f.strip() for f in value.split(",") if f.strip()]
    if not formats or any(f not in FORMATS for f in formats):
        raise ReportInputError(f"--format {value!r}: choose from {', '.join(FORMATS)}", field="format")
    return formats


def catalogue_and_policy(rt: Runtime) -> tuple[PriceCatalogue, AdvicePolicy]:
    return rt.sections.prices, AdvicePolicy(cold_start_rate_slo=rt.settings.slo.cold_start_rate)


def last_complete_week(now: datetime) -> IsoWeek:
    return IsoWeek.containing(now).previous()


def _memory_options(specs: Sequence[str]) -> dict[str, list[tuple[float, float, str]]]:
    out: dict[str, list[tuple[float, float, str]]] = {}
    for spec in specs:
        deployment, sep, path = spec.rpartition("=")
        if not sep or not deployment:
            raise ReportInputError(f"--power-tuning {spec!r}: expected DEPLOYMENT_ID=FILE", field="power-tuning")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ReportInputError(f"--power-tuning: cannot read {path}: {exc}", field="power-tuning") from exc
        out.setdefault(deployment, []).extend(parse_power_tuning(text).memory_options())
    return out


def _print_advice(result: AdviceResult) -> None:
    table = Table(title=f"Inferwatch advice, {result.window_label}", show_lines=True)
    for column in ("Deployment", "Advice", "Saves/month", "Latency", "Cold starts", "Confidence", "Evidence"):
        table.add_column(column, justify="right" if column == "Saves/month" else "left")
    for a in result.advice:
        change = f" ({a.current} -> {a.proposed})" if a.proposed != "-" else ""
        saving = f"{'-' if a.monthly_saving_usd < 0 else ''}${abs(a.monthly_saving_usd):,.2f}"
        table.add_row(a.deployment, a.summary + change, saving, a.latency_effect, a.cold_start_effect, a.confidence,
                      "\n".join(e.render() for e in a.evidence))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("advise")(advise_cmd)
    report_app = typer.Typer(help="Cost reports.", no_args_is_help=True)
    report_app.command("weekly")(weekly)
    app.add_typer(report_app, name="report")


def advise_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the advice as JSON.")] = False,
    days: Annotated[int, typer.Option(min=1, max=90, help="Look-back window in days.")] = 7,
    until: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"],
        help="End of the window, UTC (default: the end of the last complete collection step).")] = None,
    power_tuning: Annotated[list[str] | None, typer.Option(
        help="DEPLOYMENT_ID=FILE: an AWS Lambda Power Tuning result JSON for that deployment.")] = None,
) -> None:
    """Cost advice with evidence, monthly saving, latency/cold-start effect and confidence."""
    rt = runtime(ctx)
    catalogue, policy = catalogue_and_policy(rt)
    options = _memory_options(power_tuning or [])
    step_s = rt.settings.collect.step_s
    end = until.replace(tzinfo=UTC) if until else advice_end(datetime.now(UTC), step_s)
    result = load_advice(rt.open_store(), end - timedelta(days=days), end, catalogue, step_s=step_s,
                         policy=policy, memory_options=options)
    if as_json:
        typer.echo(json.dumps([a.as_dict() for a in result.advice], indent=2))
        if result.reason:
            typer.echo(f"No advice ({result.reason}): {result.explanation}.", err=True)
    elif result.reason:
        typer.echo(f"No advice over {result.window_label}: {result.explanation}.")
    else:
        _print_advice(result)


def weekly(
    ctx: typer.Context,
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W47 (default: last complete week).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Comma-separated: csv, html, md.")] = "csv,html,md",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: <home>/reports).")] = None,
) -> None:
    """Write the weekly cost report: per deployment cost, predictions, cost per 1,000, week-over-week
    change, idle cost and top advice; CSV safe for spreadsheets, HTML self-contained."""
    rt = runtime(ctx)
    now = datetime.now(UTC)
    what = "--out" if out else "home folder"
    out_dir = usable_folder(out or rt.home / "reports", what=what, create=True)  # before the work, not after
    try:
        catalogue, policy = catalogue_and_policy(rt)
        iso = IsoWeek.parse(week) if week else last_complete_week(now)
        formats = parse_formats(fmt)
        store = rt.open_store()
        report = load_weekly_report(store, iso, catalogue, step_s=rt.settings.collect.step_s, policy=policy,
                                    now=advice_end(now, rt.settings.collect.step_s))
        paths = write_report_files(report, out_dir, formats, generated_at=now)
    except OSError as exc:  # the folder was usable, a file in it was not (read-only, full, a folder)
        raise PathError(what, exc.filename or out_dir, os_problem(exc)) from exc
    state = "empty (no metrics that week)" if report.is_empty else f"${report.total_usd:,.2f} estimated"
    typer.echo(f"{iso.label}: {state}")
    for path in paths:
        typer.echo(f"  wrote {path}")
