"""One row per deployment for the overview: health, latency against its SLO, error and cold-start
rates, cost per 1,000 predictions, drift status and firing alerts — worst first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from inferwatch.config import Settings
from inferwatch.status import DeploymentStatus, latest_status
from inferwatch.store import Store

HEALTH_ORDER = {"bad": 0, "warn": 1, "no_data": 2, "ok": 3}


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
                   costs: Mapping[str, tuple[float, float]] | None = None) -> list[OverviewRow]:
    """``drift`` (deployment -> status), ``firing`` (deployment -> count) and ``costs`` (deployment ->
    (usd, predictions)) default to what the store holds; tests and benchmarks may pass them."""
    statuses = latest_status(store, now, window_s=window_s)
    slo_by_id = {d.id: d.slo_p99_ms for d in store.load_deployments()}
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
            bad = bad or s.error_rate > 10 * error_budget
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
    """The drift decisions collection recorded (inferwatch.drift_status.record_drift), if still current."""
    from inferwatch.drift_status import load_recorded_drift

    return {dep: d.status for dep, d in load_recorded_drift(store, now).items()}


def load_firing(store: Store) -> dict[str, int]:
    """Firing alerts per deployment (alert states are keyed by the deployment they are about)."""
    from alerts.outbox import load_states

    counts: Counter[str] = Counter()
    for state in load_states(store).values():
        if state.state == "firing":
            counts[state.entity] += 1
    return dict(counts)


def load_window_costs(store: Store, settings: Settings, now: datetime, window_s: int) -> dict[str, tuple[float, float]]:
    """Estimated cost and predictions per deployment over the window, from the price catalogue."""
    from costs.loading import window_costs
    from costs.pricing import load_catalogue

    return window_costs(store, store.load_deployments(), now - timedelta(seconds=window_s), now,
                        load_catalogue(settings.prices or None), step_s=settings.collect.step_s)
