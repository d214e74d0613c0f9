"""Adapters from the drift engine and the cost model to what the alert rules read.

Each returns ``(values, error)``: ``values`` maps deployment ids to a decision or a number (a
deployment absent from it has no data), ``error`` says the source failed (its rules go to Error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from alerts.series import DriftDecision
from costs.errors import CostError
from costs.loading import window_costs
from drift.errors import DriftError
from inferwatch.drift_status import load_drift as load_deployment_drift
from inferwatch.runtime import Runtime
from inferwatch.schema import Deployment, floor_time
from inferwatch.store import Store

COST_RESOLUTION_S = 300  # cost windows end on a 5-minute boundary so every priced step is whole


def signal_key(signal: str, check: str) -> str:
    return signal if check == "distribution" else f"{signal}:{check}"


def load_drift(store: Store, deployments: Sequence[Deployment], now: datetime,
               rt: Runtime) -> tuple[Mapping[str, DriftDecision] | None, str | None]:
    """The drift engine's latest decision per deployment (``[drift]`` window and policy); a deployment
    whose baseline is unreadable gets a decision carrying that error."""
    try:
        settings = rt.sections.drift
        results = load_deployment_drift(store, now, window_s=settings.window_s, n_windows=settings.windows,
                                        deployments=[d.id for d in deployments], policy=settings.policy)
    except DriftError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    decisions = {}
    for deployment, drift in results.decided.items():
        signals = {signal_key(r.signal, r.check): r.status.value for r in drift.report.results}
        scores = {signal_key(r.signal, r.check): r.effect for r in drift.report.results if r.effect is not None}
        decisions[deployment] = DriftDecision(signals=signals, scores=scores)
    for deployment, problem in results.unreadable.items():  # that deployment's drift rule errs; the others decide
        decisions[deployment] = DriftDecision(signals={}, error=str(problem))
    return decisions, None


def load_cost_per_prediction(store: Store, deployments: Sequence[Deployment], now: datetime, rt: Runtime,
                             window_s: int) -> tuple[Mapping[str, float] | None, str | None]:
    """Estimated cost per prediction over the last ``window_s`` (whole 5-minute steps)."""
    end = floor_time(now, COST_RESOLUTION_S)
    step_s = rt.settings.collect.step_s
    try:
        totals = window_costs(store, deployments, end - timedelta(seconds=window_s), end,
                              rt.sections.prices, step_s=step_s,
                              resolution_s=max(COST_RESOLUTION_S, step_s))
    except CostError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return {key: usd / rows for key, (usd, rows) in totals.items() if rows > 0}, None
