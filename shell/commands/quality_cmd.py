"""`inferwatch quality check [--json]`: estimated and realised model quality per deployment and window.

Estimated quality comes from the score histograms without labels, with its 95% band; realised quality
from the labels of `inferwatch labels ingest`; both beside the baseline's level (``readmodels.quality``,
the loader the alert job and the dashboard share). With ``--floor`` it gates: exit 1 when a deployment's
newest window is under the floor (an estimate's whole band, or the realised value). A metric of the
other kind of model (accuracy of a regressor) is named for that deployment, and the others are still
checked; an unreadable baseline likewise. Either makes the exit code 2 when nothing is under the floor.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from quality import MetricKindError, PerformanceEstimate, QualityError, below_floor, check_metric
from readmodels.quality import DeploymentQuality, QualityLoad, load_quality
from shell.commands.context import runtime


def _shown(estimate: PerformanceEstimate | None, metric: str | None) -> str:
    if estimate is None:
        return "-"
    parts = []
    for m in estimate.metrics:
        if metric is not None and m.metric != metric:
            continue
        band = "" if m.low is None or m.high is None else f" [{m.low:.3f}, {m.high:.3f}]"
        parts.append(f"{m.metric} {m.value:.3f}{band}")
    return (", ".join(parts) or "-") + f" (N={estimate.n:,})"


MEANINGS = {"top_class": "top-class scores", "positive_class": "positive-class scores"}


def _header(q: DeploymentQuality) -> list[str]:
    meaning = MEANINGS.get(q.score_meaning or "", "")
    lines = [f"{q.deployment}  model {q.model_version or '-'}  {q.kind}{f' ({meaning})' if meaning else ''}"
             f"  baseline {q.baseline_id or '-'}"]
    if q.calibration is not None:
        c = q.calibration
        lines.append(f"  baseline calibration: {c.labelled_count} labelled rows, ECE {c.expected_calibration_error:.3f}"
                     f" ({'calibrated' if c.calibrated else 'NOT calibrated: estimates use its curve'})")
    elif q.kind != "regressor":
        lines.append("  baseline calibration: none (no labels): estimates take the scores as probabilities")
    if q.baseline_level:
        lines.append("  baseline level: " + ", ".join(f"{k} {v:.3f}" for k, v in q.baseline_level.items()))
    return lines


def _breached(q: DeploymentQuality, metric: str, floor: float) -> bool:
    """The newest window's estimate (whole band) or realised value under ``floor``."""
    w = q.latest
    if w is None:
        return False
    for estimate, estimated in ((w.estimate, True), (w.realised, False)):
        if estimate is not None and any(m.metric == metric for m in estimate.metrics):
            if below_floor(estimate, metric, floor, estimated=estimated):
                return True
    return False


def _window_json(q: DeploymentQuality) -> list[dict[str, Any]]:
    return [{"start": w.start.isoformat(), "end": w.end.isoformat(),
             "estimated": None if w.estimate is None else w.estimate.to_dict(),
             "realised": None if w.realised is None else w.realised.to_dict(), "note": w.note} for w in q.windows]


def _as_json(loaded: QualityLoad, now: datetime, breached: set[str], errors: dict[str, str]) -> dict[str, Any]:
    deployments = [{"deployment": dep, "model_version": q.model_version, "kind": q.kind,
                    "score_meaning": q.score_meaning, "baseline_id": q.baseline_id,
                    "baseline_level": dict(q.baseline_level),
                    "calibration": None if q.calibration is None else {
                        "labelled_count": q.calibration.labelled_count, "calibrated": q.calibration.calibrated,
                        "expected_calibration_error": q.calibration.expected_calibration_error},
                    "below_floor": dep in breached, "windows": _window_json(q)}
                   for dep, q in loaded.deployments.items() if dep not in errors]
    return {"evaluated_at": now.isoformat(), "deployments": deployments,
            "errors": [{"deployment": d, "problem": p} for d, p in errors.items()],
            "unreadable_baselines": [{"deployment": d, "baseline_id": e.baseline_id, "problem": e.problem,
                                      "remedy": e.remedy} for d, e in loaded.unreadable.items()]}


def _check_metric(loaded: QualityLoad, metric: str | None) -> dict[str, str]:
    """Deployments whose kind of model has no ``metric`` -> the message naming the metrics it has."""
    out = {}
    for dep, q in loaded.deployments.items():
        if metric is not None:
            try:
                check_metric(metric, q.kind)
            except MetricKindError as exc:
                out[dep] = str(exc)
    return out


def register(app: typer.Typer) -> None:
    quality_app = typer.Typer(help="Model quality: estimated without labels, realised with them.",
                              no_args_is_help=True)

    @quality_app.command("check")
    def check(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
        deployment: Annotated[list[str] | None, typer.Option(help="Only these deployment ids.")] = None,
        window_s: Annotated[int | None, typer.Option(help="Window length in seconds (default from [drift]).")] = None,
        windows: Annotated[int, typer.Option(help="Windows shown, newest last.")] = 4,
        at: Annotated[datetime | None, typer.Option(help="As of this UTC time (default: now).")] = None,
        metric: Annotated[str | None, typer.Option(help="Show (and gate on) this metric only: accuracy, "
                                                   "precision, recall, f1, roc_auc, mae, rmse, bias.")] = None,
        floor: Annotated[float | None, typer.Option(help="Exit 1 when the newest window's --metric is under "
                                                    "this (over it for mae and rmse).")] = None,
    ) -> None:
        """Estimated and realised quality per deployment and window, beside the baseline's level.

        Estimates come from the score histograms and the baseline's label calibration (accuracy from
        top-class scores; precision, recall, F1 and ROC AUC too from a binary model's positive-class
        scores), each with its 95% band. Realised quality needs labels (`inferwatch labels ingest`).
        """
        if floor is not None and metric is None:
            raise typer.BadParameter("--floor needs --metric")
        if windows < 1 or windows > 96:
            raise typer.BadParameter("--windows must be from 1 to 96")
        rt = runtime(ctx)
        now = (at.replace(tzinfo=UTC) if at and at.tzinfo is None else at) or datetime.now(UTC)
        loaded = load_quality(rt.open_store(), now, window_s=window_s or rt.sections.drift.window_s,
                              n_windows=windows, deployments=deployment)
        errors = _check_metric(loaded, metric)
        breached = set()
        if metric is not None and floor is not None:
            for dep, q in loaded.deployments.items():
                try:
                    if dep not in errors and _breached(q, metric, floor):
                        breached.add(dep)
                except QualityError as exc:
                    errors[dep] = str(exc)
        if as_json:
            typer.echo(json.dumps(_as_json(loaded, now, breached, errors), indent=2, allow_nan=False))
        else:
            _print(loaded, metric, breached, errors)
        if breached:
            raise typer.Exit(1)
        if errors or loaded.unreadable:
            raise typer.Exit(2)

    app.add_typer(quality_app, name="quality")


def _print(loaded: QualityLoad, metric: str | None, breached: set[str], errors: dict[str, str]) -> None:
    if not loaded.deployments and not loaded.unreadable:
        typer.echo("no quality data: no score histograms or labels in the store for this period "
                   "(run `inferwatch collect`, or `inferwatch demo` for the local stack)")
    for dep, q in loaded.deployments.items():
        if dep in errors:
            typer.secho(f"{dep}: {errors[dep]}", fg=typer.colors.RED, err=True)
            continue
        for line in _header(q):
            typer.echo(line)
        for w in q.windows:
            note = f"  ({w.note})" if w.note else ""
            typer.echo(f"  {w.start:%H:%M}-{w.end:%H:%M}  estimated {_shown(w.estimate, metric)}"
                       f"  realised {_shown(w.realised, metric)}{note}")
        if dep in breached:
            typer.secho(f"  {metric} under the floor in the newest window", fg=typer.colors.RED, bold=True)
    for dep, exc in loaded.unreadable.items():
        typer.secho(f"{dep}  quality unknown: {exc}", fg=typer.colors.RED, err=True)
