"""`inferwatch drift check [--json]` (baselines: `shell.commands.baseline_cmd`).

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
from typing import Annotated, Any

import typer

from drift import SignalResult
from readmodels.drift_status import DeploymentDrift, DriftLoad, decide_drift
from shell.commands.context import runtime

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


def register(app: typer.Typer) -> None:
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
