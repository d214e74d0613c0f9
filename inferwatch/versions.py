"""Versions of one service side by side (blue/green, canary, shadow) and the canary verdict."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from inferwatch.canary import Verdict, VersionStats, canary_verdict
from inferwatch.schema import Metric as M
from inferwatch.status import DeploymentStatus, latest_status
from inferwatch.store import Store


@dataclass(frozen=True, slots=True)
class ServiceVersions:
    service: str
    versions: tuple[DeploymentStatus, ...]
    shadow_agreement: dict[str, float]  # deployment -> agreement of its shadow predictions
    verdicts: dict[str, Verdict]  # canary deployment -> verdict against the stable one
    shadow: dict[str, dict[str, object]]  # deployment -> served-vs-shadow distance and agreement


def shadow_view(store: Store, now: datetime, window_s: int) -> dict[str, dict[str, object]]:
    """Per deployment with a shadow: the distance between the two versions' score distributions and
    the agreement of their classes (with its 95% interval), from the drift engine."""
    from inferwatch.drift_status import load_drift

    out: dict[str, dict[str, object]] = {}
    for dep, d in load_drift(store, now, window_s=window_s, n_windows=1).decided.items():
        view: dict[str, object] = {}
        for comparison in d.shadow:
            dist = comparison.distribution
            if comparison.signal == "score":
                view.update(statistic=dist.statistic, distance=dist.effect, distance_status=dist.status.value,
                            threshold=dist.threshold, n=dist.n_current)
            if comparison.agreement is not None:
                a = comparison.agreement
                view.update(agreement=a.rate, agreement_low=a.ci_low, agreement_high=a.ci_high, agreement_n=a.n)
        if view:
            out[dep] = view
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


def compare_versions(store: Store, now: datetime, *, window_s: int, slo_p99_ms: float) -> list[ServiceVersions]:
    statuses = latest_status(store, now, window_s=window_s)
    agreement = shadow_agreement(store, now, window_s)
    shadows = shadow_view(store, now, window_s)
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
