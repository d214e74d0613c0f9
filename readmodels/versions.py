"""Versions of one service side by side (blue/green, canary, shadow) and the canary verdict."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from drift.versions import Agreement
from inferwatch.schema import Metric as M
from inferwatch.store import Store
from readmodels.canary import Verdict, VersionStats, canary_verdict
from readmodels.drift_status import decide_drift
from readmodels.status import DeploymentStatus, latest_status


@dataclass(frozen=True, slots=True)
class ShadowView:
    """A deployment's served version against its shadow: the distance between their score distributions
    (None when too few scores) and the agreement of their classes with its 95% interval (None: unknown)."""
    statistic: str = "distance"
    distance: float | None = None
    distance_status: str | None = None
    threshold: float = 0.0
    n: int = 0
    agreement: Agreement | None = None


@dataclass(frozen=True, slots=True)
class ServiceVersions:
    service: str
    versions: tuple[DeploymentStatus, ...]
    shadow_agreement: dict[str, float]  # deployment -> agreement of its shadow predictions
    verdicts: dict[str, Verdict]  # canary deployment -> verdict against the stable one
    shadow: dict[str, ShadowView]  # deployment -> served-vs-shadow distance and agreement


def shadow_views(store: Store, now: datetime, window_s: int) -> dict[str, ShadowView]:
    """Per deployment with a shadow: the distance between the two versions' score distributions and
    the agreement of their classes (with its 95% interval), from the drift engine."""
    out: dict[str, ShadowView] = {}
    for dep, d in decide_drift(store, now, window_s=window_s, n_windows=1).decided.items():
        score = next((c.distribution for c in d.shadow if c.signal == "score"), None)
        agreement = next((c.agreement for c in d.shadow if c.agreement is not None), None)
        if score is None and agreement is None:
            continue
        out[dep] = ShadowView(agreement=agreement) if score is None else ShadowView(
            score.statistic, score.effect, score.status.value, score.threshold, score.n_current, agreement)
    return out


def shadow_agreement(store: Store, now: datetime, window_s: int) -> dict[str, float]:
    points = store.load_metrics(metrics=[M.SHADOW_COUNT, M.SHADOW_AGREEMENT],
                                start=now - timedelta(seconds=window_s), end=now + timedelta(seconds=60))
    per_step: dict[tuple[str, datetime], dict[str, float]] = defaultdict(dict)
    for p in points:
        per_step[(p.deployment, p.start)][p.metric] = p.value
    num: dict[str, float] = defaultdict(float)
    den: dict[str, float] = defaultdict(float)
    for (dep, _), values in per_step.items():
        n = values.get(M.SHADOW_COUNT, 0.0)
        if n and M.SHADOW_AGREEMENT in values:
            num[dep] += values[M.SHADOW_AGREEMENT] * n
            den[dep] += n
    return {dep: num[dep] / den[dep] for dep in den}


def service_versions(store: Store, now: datetime, *, window_s: int, slo_p99_ms: float) -> list[ServiceVersions]:
    statuses = latest_status(store, now, window_s=window_s)
    agreement = shadow_agreement(store, now, window_s)
    shadows = shadow_views(store, now, window_s)
    by_service: dict[str, list[DeploymentStatus]] = defaultdict(list)
    for s in statuses:
        by_service[s.service].append(s)
    out = []
    for service, items in sorted(by_service.items()):
        stable = next((s for s in items if s.role in ("stable", "blue")), None)
        verdicts = {}
        if stable is not None:
            for s in items:
                if s.role in ("canary", "green"):
                    verdicts[s.deployment] = canary_verdict(
                        _stats(stable), _stats(s), slo_p99_ms=slo_p99_ms, agreement=agreement.get(stable.deployment))
        out.append(ServiceVersions(service, tuple(items), agreement, verdicts,
                                   {s.deployment: shadows[s.deployment] for s in items if s.deployment in shadows}))
    return out


def _stats(s: DeploymentStatus) -> VersionStats:
    bad = round((s.error_rate or 0.0) * s.invocations)
    return VersionStats(s.deployment, s.invocations, bad, s.p99_ms)
