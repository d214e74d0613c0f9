"""What one deployment used over a window: the evidence every piece of advice is computed from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from costs.catalogue import SECONDS_PER_MONTH, PriceCatalogue
from costs.errors import CostError
from costs.formulas import CostArrays
from costs.per_prediction import (
    COST_METRICS,
    DeploymentSeries,
    TimeWindow,
    billed_split,
    covered_s,
    group_series,
    price_series,
)
from costs.pricing import CostBreakdown, breakdown
from inferwatch.schema import Deployment, MetricPoint
from inferwatch.schema import Metric as _M

ADVICE_METRICS: tuple[str, ...] = COST_METRICS + tuple(m.value for m in (
    _M.COLD_STARTS, _M.MEMORY_MAX_USED, _M.CONCURRENCY_MAX, _M.LATENCY_P95,
    _M.CPU_UTILIZATION_P95,
))

# Metrics whose per-step distribution matters (not only their total): read at a finer step.
DETAIL_METRICS: tuple[str, ...] = tuple(m.value for m in (
    _M.INVOCATIONS, _M.PROVISIONED_UTILIZATION, _M.CONCURRENCY_MAX, _M.INSTANCES_ACTIVE, _M.LATENCY_P95,
))


@dataclass(frozen=True, slots=True)
class Usage:
    """Totals and per-step series of one deployment over ``period_s`` seconds.

    Per-step series hold one value per step that reported the metric (with hourly roll-ups: the
    hour's maximum for utilisation and concurrency, its mean for instance counts).
    """

    deployment: Deployment
    period_s: float
    step_s: int
    invocations: float
    rows: float
    duration_ms: float
    billed_duration_ms: float  # the billed init time excluded (that is init_ms)
    init_ms: float
    cold_starts: float
    spillover: float
    billable_instance_s: float
    idle_instance_s: float
    active_instance_s: float
    memory_max_used_mb: float | None
    provisioned_concurrency: float
    utilization: tuple[float, ...]
    concurrency_max: tuple[float, ...]
    instances_active: tuple[float, ...]
    latency_p95_ms: float | None  # invocation-weighted mean of the steps' p95
    cpu_utilization_p95: float | None  # the highest step p95 (Cloud Run)
    bursts: int  # steps with traffic that followed a step without (a cold start each when scaled to zero)
    cost: CostBreakdown

    @property
    def monthly_factor(self) -> float:
        """Multiply a window total by this to get a 730-hour month."""
        return SECONDS_PER_MONTH / self.period_s

    @property
    def avg_duration_ms(self) -> float | None:
        return self.duration_ms / self.invocations if self.invocations > 0 else None

    @property
    def cold_start_rate(self) -> float | None:
        return self.cold_starts / self.invocations if self.invocations > 0 else None

    @property
    def memory_mb(self) -> float | None:
        return float(self.deployment.memory_mb) if self.deployment.memory_mb else None


def summarize_usage(
    deployments: Sequence[Deployment],
    points: Iterable[MetricPoint] | Sequence[DeploymentSeries],
    catalogue: PriceCatalogue,
    *,
    period_s: float,
    detail: Iterable[MetricPoint] | Sequence[DeploymentSeries] | None = None,
    window: TimeWindow | None = None,
) -> list[Usage]:
    """One :class:`Usage` per deployment that has points and can be priced.

    Parameters
    ----------
    deployments
        Configurations.
    points
        Metric points of one step length covering the window.
    catalogue
        Prices (for the window's cost).
    period_s
        Window length; steps without points count as idle.
    detail
        Finer points (e.g. hourly while ``points`` are daily) of :data:`DETAIL_METRICS`, for the
        distributions (utilisation, concurrency, active instances), latency weights and bursts.
    window
        The [start, end) the points stand for, when their first or last step is only partly covered
        (see :func:`costs.per_prediction.covered_s`).

    Returns
    -------
    list of Usage
        In deployment id order. Deployments without points, or that cannot be priced (listed as
        unpriced by :func:`costs.per_prediction.estimate_costs`), are left out.
    """
    if period_s <= 0:
        raise ValueError(f"period_s must be > 0, got {period_s!r}")
    by_id = {d.id: d for d in deployments}
    fine = {s.deployment: s for s in group_series(detail)} if detail is not None else {}
    out = []
    for series in group_series(points):
        deployment = by_id.get(series.deployment)
        if deployment is None:
            continue
        try:
            costs = price_series(deployment, series, catalogue, window=window)
        except (CostError, ValueError):
            continue
        seconds = covered_s(series, window)
        handler_ms, _ = billed_split(series, catalogue.aws_lambda.init_billing.billed_since_s)
        out.append(_usage(deployment, series, costs, period_s, fine.get(series.deployment, series), seconds,
                          float(handler_ms.sum())))
    return out


def _present(series: DeploymentSeries, metric: str) -> tuple[float, ...]:
    arr = series.values.get(metric)
    return tuple(arr[~np.isnan(arr)].tolist()) if arr is not None else ()


def _usage(d: Deployment, series: DeploymentSeries, costs: CostArrays, period_s: float, fine: DeploymentSeries,
           seconds: npt.NDArray[np.float64], handler_billed_ms: float) -> Usage:
    invocations = series.total(_M.INVOCATIONS.value)
    duration = series.total(_M.DURATION_SUM.value) or series.total(_M.BILLED_DURATION_SUM.value)
    pc_values = _present(series, _M.PROVISIONED_CONCURRENCY.value)
    pc = max(pc_values) if pc_values else float(d.provisioned_concurrency)
    memory_used = _present(series, _M.MEMORY_MAX_USED.value)
    cpu = _present(series, _M.CPU_UTILIZATION_P95.value)
    return Usage(
        deployment=d, period_s=period_s, step_s=series.step_s, invocations=invocations,
        rows=series.total(_M.ROWS.value) if _M.ROWS.value in series.values else invocations,
        duration_ms=duration, billed_duration_ms=handler_billed_ms or duration,  # the billed init apart
        init_ms=series.total(_M.INIT_SUM.value), cold_starts=series.total(_M.COLD_STARTS.value),
        spillover=series.total(_M.PROVISIONED_SPILLOVER.value),
        billable_instance_s=series.total(_M.BILLABLE_INSTANCE_TIME.value),
        idle_instance_s=float((series.get(_M.INSTANCES_IDLE.value) * seconds).sum()),
        active_instance_s=float((series.get(_M.INSTANCES_ACTIVE.value) * seconds).sum()),
        memory_max_used_mb=max(memory_used) if memory_used else None,
        provisioned_concurrency=pc,
        utilization=_present(fine, _M.PROVISIONED_UTILIZATION.value) if pc > 0 else (),
        concurrency_max=_present(fine, _M.CONCURRENCY_MAX.value),
        instances_active=_present(fine, _M.INSTANCES_ACTIVE.value),
        latency_p95_ms=_weighted_p95(fine),
        cpu_utilization_p95=max(cpu) if cpu else None,
        bursts=_bursts(fine),
        cost=breakdown(costs),
    )


def _weighted_p95(series: DeploymentSeries) -> float | None:
    p95 = series.values.get(_M.LATENCY_P95.value)
    if p95 is None or np.all(np.isnan(p95)):
        return None
    known = ~np.isnan(p95)
    weights = series.get(_M.INVOCATIONS.value)[known]
    if weights.sum() <= 0:
        return float(p95[known].mean())
    return float((p95[known] * weights).sum() / weights.sum())


def _bursts(series: DeploymentSeries) -> int:
    """Steps with traffic after a step without traffic (a missing step counts as without)."""
    busy = series.ts[series.get(_M.INVOCATIONS.value) > 0]
    if busy.size == 0:
        return 0
    return int(1 + np.count_nonzero(np.diff(busy) > series.step_s))
