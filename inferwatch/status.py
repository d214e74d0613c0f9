"""The latest numbers per deployment, for `inferwatch status` and the dashboard's overview."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from inferwatch.schema import Metric as M
from inferwatch.store import Store

_SUMMED = (M.INVOCATIONS, M.ROWS, M.SERVER_ERRORS, M.TIMEOUTS, M.DEGRADED, M.CLIENT_ERRORS, M.COLD_STARTS)
_PERCENTILES = (M.LATENCY_P50, M.LATENCY_P95, M.LATENCY_P99)


@dataclass(frozen=True, slots=True)
class DeploymentStatus:
    deployment: str
    service: str
    model_version: str
    role: str
    window_s: int
    invocations: int
    predictions: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float | None  # server errors + timeouts + degraded, over invocations
    cold_starts: int
    cold_start_rate: float | None
    last_seen: datetime | None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["last_seen"] = self.last_seen.isoformat() if self.last_seen else None
        return out


def latest_status(store: Store, now: datetime, *, window_s: int = 900) -> list[DeploymentStatus]:
    """Totals over the last ``window_s`` and the invocation-weighted latency percentiles."""
    start = now - timedelta(seconds=window_s)
    points = store.load_metrics(metrics=[*_SUMMED, *_PERCENTILES], start=start, end=now + timedelta(seconds=60))
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    per_step: dict[tuple[str, datetime], dict[str, float]] = defaultdict(dict)
    last_seen: dict[str, datetime] = {}
    for p in points:
        per_step[(p.deployment, p.start)][p.metric] = p.value
        if p.metric in _SUMMED:
            sums[p.deployment][p.metric] += p.value
        if p.metric == M.INVOCATIONS and p.value > 0:
            last_seen[p.deployment] = max(last_seen.get(p.deployment, p.start), p.start)
    weighted: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for (dep, _), values in per_step.items():
        n = values.get(M.INVOCATIONS, 0.0)
        for metric in _PERCENTILES:
            if metric in values and n > 0:
                weighted[dep][metric].append((values[metric], n))
    out = []
    for d in store.load_deployments():
        s = sums.get(d.id, {})
        n = int(s.get(M.INVOCATIONS, 0))
        bad = s.get(M.SERVER_ERRORS, 0) + s.get(M.TIMEOUTS, 0) + s.get(M.DEGRADED, 0)
        cold = int(s.get(M.COLD_STARTS, 0))
        pct = {m: _weighted_mean(weighted[d.id][m]) for m in _PERCENTILES}
        out.append(DeploymentStatus(
            deployment=d.id, service=d.service, model_version=d.model_version, role=d.role, window_s=window_s,
            invocations=n, predictions=int(s.get(M.ROWS, 0)), p50_ms=pct[M.LATENCY_P50],
            p95_ms=pct[M.LATENCY_P95], p99_ms=pct[M.LATENCY_P99], error_rate=bad / n if n else None,
            cold_starts=cold, cold_start_rate=cold / n if n else None, last_seen=last_seen.get(d.id)))
    return out


def _weighted_mean(pairs: list[tuple[float, float]]) -> float | None:
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else None
