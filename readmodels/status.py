"""The latest numbers per deployment, for `inferwatch status` and the dashboard's overview."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from inferwatch.schema import Metric as M
from inferwatch.store import Store, WindowAggregate

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

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DeploymentStatus:
        """What :meth:`as_dict` wrote (kept in the store as JSON)."""
        seen = d.get("last_seen")
        return cls(**{**d, "last_seen": datetime.fromisoformat(seen) if seen else None})


def latest_status(store: Store, now: datetime, *, window_s: int = 900) -> list[DeploymentStatus]:
    """Totals over the last ``window_s`` and the invocation-weighted latency percentiles, aggregated
    in the store (one query, whatever the number of deployments and steps)."""
    agg = store.window_aggregates(metrics=[*_SUMMED, *_PERCENTILES], weight=M.INVOCATIONS,
                                  start=now - timedelta(seconds=window_s), end=now + timedelta(seconds=60))
    out = []
    for d in store.load_deployments():
        def total(metric: M, dep: str = d.id) -> float:
            found = agg.get((dep, metric))
            return found.total if found else 0.0

        n = int(total(M.INVOCATIONS))
        bad = total(M.SERVER_ERRORS) + total(M.TIMEOUTS) + total(M.DEGRADED)
        cold = int(total(M.COLD_STARTS))
        pct = {m: _weighted_mean(agg.get((d.id, m))) for m in _PERCENTILES}
        invocations = agg.get((d.id, M.INVOCATIONS))
        out.append(DeploymentStatus(
            deployment=d.id, service=d.service, model_version=d.model_version, role=d.role, window_s=window_s,
            invocations=n, predictions=int(total(M.ROWS)), p50_ms=pct[M.LATENCY_P50],
            p95_ms=pct[M.LATENCY_P95], p99_ms=pct[M.LATENCY_P99], error_rate=bad / n if n else None,
            cold_starts=cold, cold_start_rate=cold / n if n else None,
            last_seen=invocations.last_positive if invocations else None))
    return out


def _weighted_mean(agg: WindowAggregate | None) -> float | None:
    """Mean of the steps' values weighted by their invocations (steps without any carry no weight)."""
    return agg.weighted_total / agg.weight if agg is not None and agg.weight > 0 else None
