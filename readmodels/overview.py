"""One row per deployment for the overview: health, latency against its SLO, error and cold-start
rates, cost per 1,000 predictions, drift status and firing alerts — worst first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from costs.catalogue import load_catalogue
from inferwatch.config import Settings
from inferwatch.store import KeptNumbers, Store, to_epoch
from readmodels.costs import window_costs
from readmodels.drift_status import load_recorded_drift
from readmodels.status import DeploymentStatus, latest_status

# The windows the Overview shows numbers for (the picked range, at most an hour): collection keeps them.
KEPT_WINDOWS_S = (900, 3600)

HEALTH_ORDER = {"bad": 0, "warn": 1, "no_data": 2, "ok": 3}
BAD_AT_ERROR_BUDGETS = 10  # an error rate over the budget warns; over this many budgets it is bad


@dataclass(frozen=True, slots=True)
class OverviewRow:
    deployment: str
    service: str
    role: str
    model_version: str
    health: str  # bad | warn | no_data | ok
    reasons: str
    invocations: int
    predictions: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    slo_p99_ms: float
    error_rate: float | None
    cold_start_rate: float | None
    cost_usd: float | None
    cost_per_1k_usd: float | None
    drift_status: str
    firing_alerts: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_overview(store: Store, settings: Settings, now: datetime, *, window_s: int = 900,
                   drift: Mapping[str, str] | None = None, firing: Mapping[str, int] | None = None,
                   costs: Mapping[str, tuple[float, float]] | None = None,
                   statuses: Sequence[DeploymentStatus] | None = None,
                   slo_p99_ms: Mapping[str, float | None] | None = None) -> list[OverviewRow]:
    """``drift`` (deployment -> status), ``firing`` (deployment -> count), ``costs`` (deployment ->
    (usd, predictions)), ``statuses`` and ``slo_p99_ms`` (deployment -> its own p99 SLO) default to
    what the store holds now; the dashboard passes the numbers collection kept (:func:`load_kept_window`),
    the exporter the figures kept with them, tests and benchmarks their own."""
    statuses = statuses if statuses is not None else latest_status(store, now, window_s=window_s)
    slo_by_id = slo_p99_ms if slo_p99_ms is not None else {d.id: d.slo_p99_ms for d in store.load_deployments()}
    drift = drift if drift is not None else load_drift_statuses(store, now)
    firing = firing if firing is not None else load_firing(store)
    costs = costs if costs is not None else load_window_costs(store, settings, now, window_s)
    rows = [_row(s, slo_by_id.get(s.deployment) or settings.slo.p99_ms, settings, drift, firing, costs)
            for s in statuses]
    return sorted(rows, key=lambda r: (HEALTH_ORDER[r.health], -(r.error_rate or 0), -(r.p99_ms or 0)))


def _row(s: DeploymentStatus, slo: float, settings: Settings, drift: Mapping[str, str],
         firing: Mapping[str, int], costs: Mapping[str, tuple[float, float]]) -> OverviewRow:
    reasons, bad, warn = [], False, False
    error_budget = 1 - settings.slo.availability
    if s.invocations == 0:
        health = "no_data"
        reasons.append("no traffic in the window")
    else:
        if s.p99_ms is not None and s.p99_ms > slo:
            bad = True
            reasons.append(f"p99 {s.p99_ms:.0f} ms > SLO {slo:.0f} ms")
        if s.error_rate is not None and s.error_rate > error_budget:
            bad = bad or s.error_rate > BAD_AT_ERROR_BUDGETS * error_budget
            warn = True
            reasons.append(f"errors {s.error_rate:.2%} > budget {error_budget:.2%}")
        if s.cold_start_rate is not None and s.cold_start_rate > settings.slo.cold_start_rate:
            warn = True
            reasons.append(f"cold starts {s.cold_start_rate:.1%}")
        health = "bad" if bad else "warn" if warn else "ok"
    drift_status = drift.get(s.deployment, "no_data")
    if drift_status == "drift":
        health = "bad" if health != "no_data" else health
        reasons.append("output or inputs drifted")
    elif drift_status == "warn" and health == "ok":
        health = "warn"
        reasons.append("drift warning")
    n_firing = int(firing.get(s.deployment, 0))
    if n_firing and health == "ok":
        health = "warn"
    if n_firing:
        reasons.append(f"{n_firing} alert(s) firing")
    usd, predictions = costs.get(s.deployment, (None, 0.0))
    return OverviewRow(
        deployment=s.deployment, service=s.service, role=s.role, model_version=s.model_version, health=health,
        reasons="; ".join(reasons), invocations=s.invocations, predictions=s.predictions, p50_ms=s.p50_ms,
        p95_ms=s.p95_ms, p99_ms=s.p99_ms, slo_p99_ms=slo, error_rate=s.error_rate, cold_start_rate=s.cold_start_rate,
        cost_usd=usd, cost_per_1k_usd=(usd / predictions * 1000 if usd is not None and predictions else None),
        drift_status=drift_status, firing_alerts=n_firing)


def load_drift_statuses(store: Store, now: datetime) -> dict[str, str]:
    """The drift decisions collection recorded (readmodels.drift_status.record_drift), if still current."""
    return {dep: d.status for dep, d in load_recorded_drift(store, now).items()}


def load_firing(store: Store) -> dict[str, int]:
    """Firing alerts per deployment (alert states are keyed by the deployment they are about)."""
    counts: Counter[str] = Counter()
    for state in store.load_alert_states().values():
        if state.state == "firing":
            counts[state.entity] += 1
    return dict(counts)


def load_window_costs(store: Store, settings: Settings, now: datetime, window_s: int) -> dict[str, tuple[float, float]]:
    """Estimated cost and predictions per deployment over the window, from the price catalogue."""
    return window_costs(store, store.load_deployments(), now - timedelta(seconds=window_s), now,
                        load_catalogue(settings.prices or None), step_s=settings.collect.step_s)


@dataclass(frozen=True, slots=True)
class KeptWindow:
    """A window's numbers as a collection round computed them: each deployment's status and cost."""
    computed_at: datetime
    window_s: int
    statuses: tuple[DeploymentStatus, ...]
    costs: Mapping[str, tuple[float, float]]


def record_window_numbers(store: Store, settings: Settings, now: datetime,
                          windows_s: Sequence[int] = KEPT_WINDOWS_S) -> None:
    """Compute each window's statuses and costs once and keep them. Collection calls this after
    each round, the only time the numbers change: the Overview then reads one row instead of
    aggregating every deployment's points (0.1 s at fifty deployments, several times that while the
    browser competes for the CPU)."""
    store.save_kept_numbers([KeptNumbers(w, now, tuple(s.as_dict() for s in latest_status(store, now, window_s=w)),
                                         load_window_costs(store, settings, now, w)) for w in windows_s])


def load_kept_window(store: Store, now: datetime, window_s: int, *, max_age_s: float) -> KeptWindow | None:
    """The kept numbers for ``window_s`` if computed at most ``max_age_s`` before ``now``; None when
    there are none or they are older (collection stopped: the caller computes them live)."""
    kept = store.load_kept_numbers(window_s)
    if kept is None or to_epoch(kept.computed_at) < to_epoch(now, "now") - max_age_s:
        return None
    return KeptWindow(kept.computed_at, window_s, tuple(DeploymentStatus.from_dict(s) for s in kept.statuses),
                      dict(kept.costs))
