"""Cost per prediction: each metric step of each deployment priced from its collected metrics and
configuration, rolled up per hour or day and per deployment or model version, and reconciled with the
billed costs (Cost Explorer, billing export) where those were collected.

Predictions are rows, not invocations: a batched invocation predicts several rows, so batching shows
up here as a cheaper prediction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from costs.errors import DeploymentConfigError, UnknownPriceError
from costs.pricing import CostBreakdown, PriceCatalogue, cloud_run_cost, lambda_cost
from inferwatch.schema import CostRecord, Deployment, Metric, MetricPoint, floor_time

COST_METRICS: tuple[str, ...] = tuple(m.value for m in (
    Metric.INVOCATIONS, Metric.ROWS, Metric.DURATION_SUM, Metric.BILLED_DURATION_SUM, Metric.INIT_SUM,
    Metric.MEMORY_CONFIGURED, Metric.PROVISIONED_CONCURRENCY, Metric.PROVISIONED_UTILIZATION,
    Metric.PROVISIONED_SPILLOVER, Metric.INSTANCES_ACTIVE, Metric.INSTANCES_IDLE, Metric.BILLABLE_INSTANCE_TIME,
))


@dataclass(frozen=True, slots=True)
class CostWindow:
    """The estimated cost of one deployment (or version) over one step."""

    key: str  # deployment id, or "<service>@<model_version>" after a rollup by version
    start: datetime
    step_s: int
    invocations: float
    rows: float  # predictions
    cost: CostBreakdown

    @property
    def cost_per_prediction_usd(self) -> float | None:
        """None when nothing was predicted (an explicit empty state, never NaN)."""
        return self.cost.total_usd / self.rows if self.rows > 0 else None

    @property
    def rows_per_invocation(self) -> float | None:
        return self.rows / self.invocations if self.invocations > 0 else None


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Priced windows plus the deployments that could not be priced, with the reason."""

    windows: tuple[CostWindow, ...]
    unpriced: tuple[tuple[str, str], ...] = ()


def group_points(points: Iterable[MetricPoint]) -> dict[tuple[str, datetime, int], dict[str, float]]:
    """``{(deployment, start, step_s): {metric: value}}``."""
    grouped: dict[tuple[str, datetime, int], dict[str, float]] = defaultdict(dict)
    for p in points:
        grouped[(p.deployment, p.start, p.step_s)][p.metric] = p.value
    return grouped


def price_step(deployment: Deployment, values: Mapping[str, float], step_s: int,
               catalogue: PriceCatalogue) -> CostBreakdown:
    """Price one step of one deployment from its metric values.

    Parameters
    ----------
    deployment
        The deployment's configuration (memory, vCPU, architecture, billing mode).
    values
        Metric name to value for the step (sums, maxima and means as :data:`inferwatch.schema.AGGREGATION`).
    step_s
        The step length.
    catalogue
        Prices.

    Returns
    -------
    CostBreakdown

    Raises
    ------
    DeploymentConfigError
        When the deployment's memory size is unknown (neither configured nor collected).
    UnknownPriceError
        When the provider or architecture has no price.
    """
    memory_mb = deployment.memory_mb or values.get(Metric.MEMORY_CONFIGURED.value)
    if not memory_mb:
        raise DeploymentConfigError(f"{deployment.id}: memory_mb is unknown, so its cost cannot be computed",
                                    deployment=deployment.id, field="memory_mb")
    invocations = values.get(Metric.INVOCATIONS.value, 0.0)
    if deployment.provider in ("aws", "local"):
        return _price_lambda_step(deployment, values, step_s, catalogue, float(memory_mb), invocations)
    if deployment.provider == "gcp":
        return _price_cloud_run_step(deployment, values, step_s, catalogue, float(memory_mb), invocations)
    raise UnknownPriceError(f"{deployment.id}: no prices for provider {deployment.provider!r}",
                            provider=deployment.provider, key="provider")


def _price_lambda_step(deployment: Deployment, values: Mapping[str, float], step_s: int,
                       catalogue: PriceCatalogue, memory_mb: float, invocations: float) -> CostBreakdown:
    region = deployment.region if deployment.provider == "aws" else None
    prices = catalogue.lambda_prices(deployment.architecture, region)
    billed = values.get(Metric.BILLED_DURATION_SUM.value, values.get(Metric.DURATION_SUM.value, 0.0))
    pc = values.get(Metric.PROVISIONED_CONCURRENCY.value, float(deployment.provisioned_concurrency))
    spill = values.get(Metric.PROVISIONED_SPILLOVER.value, 0.0)
    share = min(max((invocations - spill) / invocations, 0.0), 1.0) if pc > 0 and invocations > 0 else 0.0
    utilization = values.get(Metric.PROVISIONED_UTILIZATION.value, 0.0) if pc > 0 else None
    return lambda_cost(prices, memory_mb=memory_mb, invocations=invocations, billed_duration_ms=billed,
                       init_ms=values.get(Metric.INIT_SUM.value, 0.0), provisioned_concurrency=pc,
                       period_s=float(step_s), provisioned_share=share, provisioned_utilization=utilization)


def _price_cloud_run_step(deployment: Deployment, values: Mapping[str, float], step_s: int,
                          catalogue: PriceCatalogue, memory_mb: float, invocations: float) -> CostBreakdown:
    tier = catalogue.cloud_run_tier(deployment.region)
    vcpu = deployment.cpu or catalogue.gcp_cloud_run.default_vcpu
    idle_s = values.get(Metric.INSTANCES_IDLE.value, 0.0) * step_s
    active_s = values.get(Metric.INSTANCES_ACTIVE.value, 0.0) * step_s
    billable = values.get(Metric.BILLABLE_INSTANCE_TIME.value)
    if deployment.billing_mode == "instance":
        # Instance-based billable time covers the whole lifetime, idle included.
        serving = max(billable - idle_s, 0.0) if billable is not None else active_s
    else:
        serving = billable if billable is not None else active_s
    return cloud_run_cost(tier, billing_mode=deployment.billing_mode, vcpu=vcpu, memory_mb=memory_mb,
                          requests=invocations, serving_instance_s=serving, idle_instance_s=idle_s)


def estimate_costs(deployments: Sequence[Deployment], points: Iterable[MetricPoint],
                   catalogue: PriceCatalogue) -> CostEstimate:
    """Price every step of every known deployment in ``points``.

    Parameters
    ----------
    deployments
        Configurations; points of unknown deployments are reported in ``unpriced``.
    points
        Metric points (any step; typically hourly roll-ups from ``Store.load_metrics``).
    catalogue
        Prices.

    Returns
    -------
    CostEstimate
        Windows sorted by key then start; deployments that could not be priced with the reason.
    """
    by_id = {d.id: d for d in deployments}
    windows: list[CostWindow] = []
    unpriced: dict[str, str] = {}
    for (dep_id, start, step_s), values in group_points(points).items():
        deployment = by_id.get(dep_id)
        if deployment is None:
            unpriced.setdefault(dep_id, "no deployment configuration in the store")
            continue
        try:
            cost = price_step(deployment, values, step_s, catalogue)
        except (DeploymentConfigError, UnknownPriceError, ValueError) as exc:
            unpriced.setdefault(dep_id, str(exc))
            continue
        invocations = values.get(Metric.INVOCATIONS.value, 0.0)
        windows.append(CostWindow(dep_id, start, step_s, invocations,
                                  values.get(Metric.ROWS.value, invocations), cost))
    windows.sort(key=lambda w: (w.key, w.start))
    return CostEstimate(tuple(windows), tuple(sorted(unpriced.items())))


def version_key(deployment: Deployment) -> str:
    return f"{deployment.service}@{deployment.model_version or '-'}"


def rollup(windows: Iterable[CostWindow], *, step_s: int,
           key: Callable[[str], str] | None = None) -> list[CostWindow]:
    """Sum windows into coarser steps (3600 hourly, 86400 daily) and optionally regroup their keys.

    Parameters
    ----------
    windows
        Priced windows; each must be no longer than ``step_s``.
    step_s
        The new step.
    key
        Maps a window's key to its new key (e.g. deployment id to ``service@version``).

    Returns
    -------
    list of CostWindow
        Sorted by key then start.
    """
    sums: dict[tuple[str, datetime], tuple[float, float, CostBreakdown]] = {}
    for w in windows:
        if w.step_s > step_s:
            raise ValueError(f"cannot roll a {w.step_s} s window up into {step_s} s steps")
        k = (key(w.key) if key else w.key, floor_time(w.start, step_s))
        inv, rows, cost = sums.get(k, (0.0, 0.0, CostBreakdown()))
        sums[k] = (inv + w.invocations, rows + w.rows, cost + w.cost)
    out = [CostWindow(k, start, step_s, inv, rows, cost) for (k, start), (inv, rows, cost) in sums.items()]
    return sorted(out, key=lambda w: (w.key, w.start))


def by_version(windows: Iterable[CostWindow], deployments: Sequence[Deployment], *,
               step_s: int) -> list[CostWindow]:
    """Roll windows up per ``service@model_version`` (canary vs stable, blue vs green)."""
    keys = {d.id: version_key(d) for d in deployments}
    return rollup(windows, step_s=step_s, key=lambda dep: keys.get(dep, dep))


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Estimated (metrics x prices) against billed cost for one scope and day."""

    scope: str
    day: datetime
    estimated_usd: float
    billed_usd: float
    billed_is_estimate: bool  # the billing source had not closed the period yet
    sources: tuple[str, ...]

    @property
    def gap_usd(self) -> float:
        return self.billed_usd - self.estimated_usd

    @property
    def gap_pct(self) -> float | None:
        """Gap relative to the billed cost; None when nothing was billed."""
        return 100.0 * self.gap_usd / self.billed_usd if self.billed_usd > 0 else None


def reconcile(windows: Iterable[CostWindow], records: Iterable[CostRecord]) -> list[Reconciliation]:
    """Compare daily estimates with billed cost records of the same scope (deployment id).

    Only days with billing records are reconciled: a missing bill is not a zero bill.
    """
    estimated: dict[tuple[str, datetime], float] = defaultdict(float)
    for w in rollup(windows, step_s=86_400):
        estimated[(w.key, w.start)] += w.cost.total_usd
    billed: dict[tuple[str, datetime], list[CostRecord]] = defaultdict(list)
    for r in records:
        billed[(r.scope, floor_time(r.day, 86_400))].append(r)
    out = [Reconciliation(scope, day, estimated.get((scope, day), 0.0), sum(r.cost_usd for r in recs),
                          any(r.estimated for r in recs), tuple(sorted({r.source for r in recs})))
           for (scope, day), recs in billed.items()]
    return sorted(out, key=lambda r: (r.scope, r.day))


def period_hours(start: datetime, end: datetime) -> float:
    if end <= start:
        raise ValueError(f"period end {end.isoformat()} is not after its start {start.isoformat()}")
    return (end - start) / timedelta(hours=1)
