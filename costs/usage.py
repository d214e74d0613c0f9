"""What one deployment used over a window: the evidence every piece of advice is computed from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from costs.errors import CostError
from costs.per_prediction import COST_METRICS, price_step
from costs.pricing import SECONDS_PER_MONTH, CostBreakdown, PriceCatalogue
from inferwatch.schema import Deployment, Metric, MetricPoint

ADVICE_METRICS: tuple[str, ...] = COST_METRICS + tuple(m.value for m in (
    Metric.COLD_STARTS, Metric.MEMORY_MAX_USED, Metric.CONCURRENCY_MAX, Metric.LATENCY_P95,
    Metric.CPU_UTILIZATION_P95,
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
    billed_duration_ms: float
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
    points: Iterable[MetricPoint],
    catalogue: PriceCatalogue,
    *,
    period_s: float,
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

    Returns
    -------
    list of Usage
        In deployment id order. Deployments without points are left out (nothing to advise on).
    """
    if period_s <= 0:
        raise ValueError(f"period_s must be > 0, got {period_s!r}")
    series: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    steps: dict[str, set[tuple[float, int]]] = defaultdict(set)
    for p in points:
        ts = p.start.timestamp()
        series[p.deployment][p.metric].append((ts, p.value))
        steps[p.deployment].add((ts, p.step_s))
    out = []
    for d in deployments:
        if d.id not in series:
            continue
        usage = _usage(d, series[d.id], sorted(steps[d.id]), catalogue, period_s)
        if usage is not None:
            out.append(usage)
    return out


def _usage(d: Deployment, metrics: dict[str, list[tuple[float, float]]], steps: list[tuple[float, int]],
           catalogue: PriceCatalogue, period_s: float) -> Usage | None:
    step_s = steps[0][1]
    by_step: dict[float, dict[str, float]] = defaultdict(dict)
    for name, series in metrics.items():
        for ts, value in series:
            by_step[ts][name] = value
    cost = CostBreakdown()
    try:
        for step_values in by_step.values():
            cost = cost + price_step(d, step_values, step_s, catalogue)
    except (CostError, ValueError):
        return None  # listed as unpriced by estimate_costs; advice needs a price

    def total(metric: Metric) -> float:
        return sum(v for _, v in metrics.get(metric.value, ()))

    def values(metric: Metric) -> tuple[float, ...]:
        return tuple(v for _, v in sorted(metrics.get(metric.value, ())))

    invocations = total(Metric.INVOCATIONS)
    duration = total(Metric.DURATION_SUM) or total(Metric.BILLED_DURATION_SUM)
    pc_values = values(Metric.PROVISIONED_CONCURRENCY)
    pc = max(pc_values) if pc_values else float(d.provisioned_concurrency)
    memory_used = values(Metric.MEMORY_MAX_USED)
    return Usage(
        deployment=d, period_s=period_s, step_s=step_s, invocations=invocations,
        rows=total(Metric.ROWS) if Metric.ROWS.value in metrics else invocations,
        duration_ms=duration, billed_duration_ms=total(Metric.BILLED_DURATION_SUM) or duration,
        init_ms=total(Metric.INIT_SUM), cold_starts=total(Metric.COLD_STARTS),
        spillover=total(Metric.PROVISIONED_SPILLOVER),
        billable_instance_s=total(Metric.BILLABLE_INSTANCE_TIME),
        idle_instance_s=total(Metric.INSTANCES_IDLE) * step_s,
        active_instance_s=total(Metric.INSTANCES_ACTIVE) * step_s,
        memory_max_used_mb=max(memory_used) if memory_used else None,
        provisioned_concurrency=pc,
        utilization=values(Metric.PROVISIONED_UTILIZATION) if pc > 0 else (),
        concurrency_max=values(Metric.CONCURRENCY_MAX),
        instances_active=values(Metric.INSTANCES_ACTIVE),
        latency_p95_ms=_weighted_p95(metrics),
        cpu_utilization_p95=max(cpu) if (cpu := values(Metric.CPU_UTILIZATION_P95)) else None,
        bursts=_bursts(metrics.get(Metric.INVOCATIONS.value, []), step_s),
        cost=cost,
    )


def _weighted_p95(metrics: dict[str, list[tuple[float, float]]]) -> float | None:
    p95 = dict(metrics.get(Metric.LATENCY_P95.value, ()))
    if not p95:
        return None
    weights = dict(metrics.get(Metric.INVOCATIONS.value, ()))
    total_weight = sum(weights.get(ts, 0.0) for ts in p95)
    if total_weight <= 0:
        return sum(p95.values()) / len(p95)
    return sum(v * weights.get(ts, 0.0) for ts, v in p95.items()) / total_weight


def _bursts(invocations: list[tuple[float, float]], step_s: int) -> int:
    """Steps with traffic after a step without traffic (a missing step counts as without)."""
    busy = sorted(ts for ts, v in invocations if v > 0)
    count, previous = 0, None
    for ts in busy:
        if previous is None or ts - previous > step_s:
            count += 1
        previous = ts
    return count
