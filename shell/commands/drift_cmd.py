"""`inferwatch baseline create|list` and `inferwatch drift check [--json]`.

`drift check` evaluates the last ``windows`` windows of ``window_s`` seconds from the histograms in
the store (the same loader as the dashboard and the alert job) and exits 1 when any signal of any
deployment drifts, so scripts and CI can gate on it. An empty store is reported as such (no data),
never as "no drift". A deployment whose baseline cannot be read is named with that baseline and the
command that recreates it; the others are still checked, and without drift the exit code is 2 (drift
unknown), not 0.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from drift import DriftError, SignalResult, WindowCounts, build_baseline, merge_all
from drift.rebase import baseline_from_windows
from inferwatch.names import check_name
from inferwatch.store import Store
from readmodels.baselines import baseline_health, read_baseline
from readmodels.drift_status import DeploymentDrift, DriftLoad, decide_drift
from shell.commands.context import runtime
from shell.exits import CommandError
from shell.reference_baselines import MODEL_VERSIONS, baseline_id, model_baseline

_COLOURS = {"drift": "red", "warn": "yellow", "ok": "green", "insufficient_data": "blue", "no_data": "blue"}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _line(r: SignalResult) -> str:
    p = "-" if r.p_value_adjusted is None else f"{r.p_value_adjusted:.2g} (N={r.n_current:,})"
    status = typer.style(f"{r.status.value:<17}", fg=_COLOURS.get(r.status.value))
    note = " negligible" if r.negligible and r.p_value_adjusted is not None and r.p_value_adjusted < 0.05 else ""
    return (f"  {r.signal:<34} {r.check:<13} {status} {r.statistic:<18} effect {_fmt(r.effect):>8}"
            f"  threshold {_fmt(r.threshold):>6}  noise {_fmt(r.noise_floor):>8}  p {p}{note}"
            + (f"  ({r.detail})" if r.detail else ""))


def _print_human(results: dict[str, DeploymentDrift], show_all: bool) -> None:
    for dep, d in results.items():
        report = d.report
        colour = _COLOURS.get(report.status.value)
        typer.echo(f"{dep}  model {report.model_version}  baseline {d.baseline_id}  "
                   + typer.style(report.status.value, fg=colour, bold=True))
        rows = sorted(report.results, key=lambda r: (-(r.effect or 0.0) / (r.threshold or 1.0)))
        shown = [r for r in rows if show_all or r.status.value != "ok" or r.signal in ("score", "class")]
        for r in shown:
            typer.echo(_line(r))
        if len(shown) < len(rows):
            typer.echo(f"  ... {len(rows) - len(shown)} more checks ok (--all shows them)")
        for vc in d.shadow:
            agree = "" if vc.agreement is None else f"  agreement {vc.agreement.rate:.3f} (N={vc.agreement.n})"
            typer.echo(f"  shadow vs {vc.reference_version} on {vc.signal}: {vc.distribution.status.value}"
                       f"  {vc.distribution.statistic} {_fmt(vc.distribution.effect)}{agree}")


def _as_json(results: DriftLoad, now: datetime) -> dict[str, Any]:
    deployments = []
    for dep, d in results.decided.items():
        entry = d.report.to_dict()
        entry.pop("history", None)
        entry.update(deployment=dep, baseline_id=d.baseline_id, window_s=d.window_s,
                     shadow=[{"signal": v.signal, "reference_version": v.reference_version,
                              "current_version": v.current_version,
                              "results": [r.to_dict() for r in v.results],
                              "agreement": None if v.agreement is None else asdict(v.agreement)}
                             for v in d.shadow])
        deployments.append(entry)
    unreadable = [{"deployment": dep, "baseline_id": exc.baseline_id, "problem": exc.problem, "remedy": exc.remedy}
                  for dep, exc in results.unreadable.items()]
    if results.drifted:
        status = "drift"
    elif unreadable:
        status = "baseline_unreadable"
    else:
        status = "ok" if results.decided else "no_data"
    return {"evaluated_at": now.isoformat(), "status": status, "drifted": results.drifted,
            "deployments": deployments, "unreadable_baselines": unreadable}


def _print_unreadable(results: DriftLoad) -> None:
    for dep, exc in results.unreadable.items():
        typer.secho(f"{dep}  drift unknown: {exc}", fg=typer.colors.RED, err=True)


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _from_window(store: Store, deployment: str, start: datetime, end: datetime) -> tuple[str, Any, str]:
    """(id, Baseline, source) from a deployment's merged counts in [start, end)."""
    points = store.load_histograms(deployments=[deployment], start=start, end=end)
    if not points:
        raise typer.BadParameter(f"no histograms for {deployment} between {start:%Y-%m-%d %H:%M} and {end:%H:%M} UTC")
    bid = max(points, key=lambda p: p.start).baseline_id
    base = read_baseline(store, bid)  # an unreadable one raises, naming it and how to recreate it
    if base is None:
        raise typer.BadParameter(f"the baseline of these histograms, {bid}, is no longer in the store")
    parts: dict[str, list[WindowCounts]] = {}
    for p in points:
        if p.baseline_id == bid and p.signal in base.columns:
            parts.setdefault(p.signal, []).append(WindowCounts.from_dict(p.counts))
    merged = {signal: merge_all(items) for signal, items in parts.items()}
    rebased = baseline_from_windows(base, merged, model_sha256=base.model_sha256, version=base.version)
    new_id = f"{bid}-w{start:%Y%m%d%H%M}-{end:%Y%m%d%H%M}"
    return new_id, rebased, f"{deployment} {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M} UTC (bins of {bid})"


def _build(store: Store, version: list[str] | None, npz: Path | None, model_sha256: str | None,
           categorical: list[str] | None, from_deployment: str | None, start: datetime | None,
           end: datetime | None) -> list[tuple[str, Any, str]]:
    """(id, Baseline, source) per baseline to save, from a time window, an .npz or the held-out sets."""
    if from_deployment is not None:
        if start is None or end is None:
            raise typer.BadParameter("--from-deployment needs --start and --end")
        return [_from_window(store, from_deployment, _utc(start), _utc(end))]
    if npz is not None:
        if not version or len(version) != 1 or not model_sha256:
            raise typer.BadParameter("--npz needs exactly one --version and --model-sha256")
        with np.load(npz) as data:
            signals = {name: data[name] for name in data.files}
        base = build_baseline(signals, categorical=set(categorical or ["class"]) & set(signals),
                              model_sha256=model_sha256, version=version[0])
        return [(baseline_id(version[0], model_sha256), base, f"file {npz.name}")]
    return [(*model_baseline(v), f"held-out set of model {v}") for v in (version or MODEL_VERSIONS)]


def _register_baseline(app: typer.Typer) -> None:
    baseline_app = typer.Typer(help="Drift baselines: what predictions and inputs are compared with.",
                               no_args_is_help=True)

    @baseline_app.command("create")
    def create(
        ctx: typer.Context,
        version: Annotated[list[str] | None, typer.Option(help="Model version(s) (default: v1 and v2).")] = None,
        npz: Annotated[Path | None, typer.Option(help="Build from this .npz instead: one array per signal "
                                                  "(score, class, feature:<name>).")] = None,
        model_sha256: Annotated[str | None, typer.Option(help="sha256 of the model (with --npz).")] = None,
        categorical: Annotated[list[str] | None,
                               typer.Option(help="Categorical signals (with --npz; default: class).")] = None,
        from_deployment: Annotated[str | None, typer.Option(help="Build from this deployment's counts in "
                                                            "[--start, --end) instead (a chosen time window).")] = None,
        start: Annotated[datetime | None, typer.Option(help="Window start, UTC (with --from-deployment).")] = None,
        end: Annotated[datetime | None, typer.Option(help="Window end, UTC (with --from-deployment).")] = None,
    ) -> None:
        """Build baselines and save them in the store: from the model cards' held-out data (default), from
        an .npz of raw values, or from a deployment's counts over a chosen time window.

        A baseline keeps ~1,000 quantile edges with counts per numeric signal and class counts per
        categorical one (<= 32 KB per column); the raw data is not needed afterwards.
        """
        for name in version or []:  # a version names baseline ids and model card files
            check_name("--version", name)
        store = runtime(ctx).open_store()
        now = datetime.now(UTC)
        try:
            built = _build(store, version, npz, model_sha256, categorical, from_deployment, start, end)
        except (DriftError, OSError, KeyError) as exc:
            raise CommandError(f"cannot build the baseline: {exc}") from exc
        for bid, base, source in built:
            store.save_baseline(bid, model_version=base.version, model_sha256=base.model_sha256, source=source,
                                payload=base.to_dict(), created_at=now)
            size_kb = len(json.dumps(base.to_dict())) / 1024
            typer.echo(f"baseline {bid}: {len(base.columns)} signals, {size_kb:.0f} KB ({source})")

    @baseline_app.command("list")
    def list_(ctx: typer.Context) -> None:
        """List the baselines in the store, newest first; an unreadable one is named with its problem
        and the command that recreates it."""
        rows = baseline_health(runtime(ctx).open_store())
        if not rows:
            typer.echo("no baselines yet: run `inferwatch baseline create`")
        for r in rows:
            typer.echo(f"{r.id:<32} model {r.model_version:<6} {r.created_at:%Y-%m-%d %H:%M} UTC  {r.source}")
            if r.error is not None:
                typer.secho(f"  UNREADABLE ({r.error.problem}): recreate it with `{r.error.remedy}`",
                            fg=typer.colors.RED)

    app.add_typer(baseline_app, name="baseline")


def register(app: typer.Typer) -> None:
    _register_baseline(app)
    drift_app = typer.Typer(help="Drift of predictions and inputs against their baselines.", no_args_is_help=True)

    @drift_app.command("check")
    def check(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
        deployment: Annotated[list[str] | None, typer.Option(help="Only these deployment ids.")] = None,
        window_s: Annotated[int | None,
                            typer.Option(help="Window length in seconds (default from [drift]: 900).")] = None,
        windows: Annotated[int | None, typer.Option(help="Windows evaluated, for persistence (default 3).")] = None,
        at: Annotated[datetime | None, typer.Option(help="Evaluate as of this UTC time (default: now).")] = None,
        show_all: Annotated[bool, typer.Option("--all",
                                               help="Show every check, not only those that are not ok.")] = False,
    ) -> None:
        """Compare the latest windows with the baselines; exit 1 when anything drifts, 2 when nothing
        does but a baseline is unreadable (drift unknown for its deployments).

        Per signal: the effect size with its threshold and the noise floor for this many rows, the
        BH-adjusted p-value with N (marked negligible when the effect is below threshold), and a
        status: ok, warn, drift (m of the last n windows), insufficient_data or no_data.
        """
        rt = runtime(ctx)  # a bad [drift] section stops here, as for every verb
        settings = rt.sections.drift
        now = (at.replace(tzinfo=UTC) if at and at.tzinfo is None else at) or datetime.now(UTC)
        results = decide_drift(rt.open_store(), now, window_s=window_s or settings.window_s,
                             n_windows=windows or settings.windows, deployments=deployment, policy=settings.policy)
        if as_json:
            typer.echo(json.dumps(_as_json(results, now), indent=2, allow_nan=False))
        elif not results.decided and not results.unreadable:
            typer.echo("no drift data: no histograms in the store for this period "
                       "(run `inferwatch collect`, or `inferwatch demo` for the local stack)")
        else:
            _print_human(results.decided, show_all)
            _print_unreadable(results)
        if results.drifted:
            raise typer.Exit(1)
        if results.unreadable:
            raise typer.Exit(2)

    app.add_typer(drift_app, name="drift")
