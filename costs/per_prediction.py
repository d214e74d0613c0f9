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
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from costs.catalogue import PriceCatalogue
from costs.errors import DeploymentConfigError, UnknownPriceError
from costs.formulas import CostArrays, FloatArray, cloud_run_cost_arrays, lambda_cost_arrays
from costs.pricing import CostBreakdown
from inferwatch.schema import CostRecord, Deployment, Metric, MetricPoint, floor_time

COST_METRICS: tuple[str, ...] = tuple(m.value for m in (
    Metric.INVOCATIONS, Metric.ROWS, Metric.DURATION_SUM, Metric.BILLED_DURATION_SUM, Metric.INIT_SUM,
    Metric.BILLED_RESTORE_SUM,
    Metric.MEMORY_CONFIGURED, Metric.PROVISIONED_CONCURRENCY, Metric.PROVISIONED_UTILIZATION,
    Metric.PROVISIONED_SPILLOVER, Metric.INSTANCES_ACTIVE, Metric.INSTANCES_IDLE, Metric.BILLABLE_INSTANCE_TIME,
))
# Plain strings: enum attribute access is slow in the per-point loops.
_INVOCATIONS, _ROWS, _DURATION, _BILLED, _INIT = (Metric.INVOCATIONS.value, Metric.ROWS.value,
                                                  Metric.DURATION_SUM.value, Metric.BILLED_DURATION_SUM.value,
                                                  Metric.INIT_SUM.value)
_RESTORE = Metric.BILLED_RESTORE_SUM.value
_MEMORY_CONFIGURED, _PC, _UTIL, _SPILL = (Metric.MEMORY_CONFIGURED.value, Metric.PROVISIONED_CONCURRENCY.value,
                                          Metric.PROVISIONED_UTILIZATION.value, Metric.PROVISIONED_SPILLOVER.value)
_ACTIVE, _IDLE, _BILLABLE = (Metric.INSTANCES_ACTIVE.value, Metric.INSTANCES_IDLE.value,
                             Metric.BILLABLE_INSTANCE_TIME.value)


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


@dataclass(frozen=True, slots=True)
class DeploymentSeries:
    """One deployment's metrics as aligned arrays: ``values[metric][i]`` is the step starting at
    ``ts[i]`` (epoch seconds), NaN where that metric was not reported for the step."""

    deployment: str
    step_s: int
    ts: npt.NDArray[np.int64]
    values: Mapping[str, FloatArray]

    def get(self, metric: str, default: float = 0.0) -> FloatArray:
        arr = self.values.get(metric)
        if arr is None:
            return np.full(self.ts.shape, default, dtype=float)
        return np.where(np.isnan(arr), default, arr)

    def total(self, metric: str) -> float:
        arr = self.values.get(metric)
        return float(np.nansum(arr)) if arr is not None else 0.0


def group_series(points: Iterable[MetricPoint] | Sequence[DeploymentSeries]) -> list[DeploymentSeries]:
    """Points grouped per deployment (and step length) into aligned arrays, in deployment id order.
    Already grouped series pass through, so one grouping can serve several consumers."""
    if isinstance(points, Sequence) and points and isinstance(points[0], DeploymentSeries):
        return [s for s in points if isinstance(s, DeploymentSeries)]
    raw: dict[tuple[str, int], _Columns] = defaultdict(dict)
    epoch: dict[datetime, int] = {}  # few distinct step starts: convert each once
    for p in points:
        if not isinstance(p, MetricPoint):
            raise TypeError(f"expected MetricPoint or DeploymentSeries, got {type(p).__name__}")
        ts = epoch.get(p.start)
        if ts is None:
            ts = epoch[p.start] = int(p.start.timestamp())
        _append(raw[(p.deployment, p.step_s)], p.metric, ts, p.value)
    return [_aligned(dep, step_s, metrics) for (dep, step_s), metrics in sorted(raw.items())]


def series_from_rows(rows: Iterable[tuple[str, str, int, float]], step_s: int) -> list[DeploymentSeries]:
    """:func:`group_series` for the (deployment, metric, epoch seconds, value) rows of
    ``Store.metric_rows``, all of one step: no point object per value."""
    raw: dict[str, _Columns] = defaultdict(dict)
    for dep, metric, ts, value in rows:
        _append(raw[dep], metric, ts, value)
    return [_aligned(dep, step_s, metrics) for dep, metrics in sorted(raw.items())]


_Columns = dict[str, tuple[list[int], list[float]]]  # metric -> (step starts, values)


def _append(columns: _Columns, metric: str, ts: int, value: float) -> None:
    pair = columns.get(metric)
    if pair is None:
        pair = columns[metric] = ([], [])
    pair[0].append(ts)
    pair[1].append(value)


def _aligned(deployment: str, step_s: int, metrics: _Columns) -> DeploymentSeries:
    stamps = np.unique(np.concatenate([np.asarray(t, dtype=np.int64) for t, _ in metrics.values()]))
    values = {}
    for name, (t, v) in metrics.items():
        arr = np.full(stamps.shape, np.nan)
        arr[np.searchsorted(stamps, np.asarray(t, dtype=np.int64))] = v
        values[name] = arr
    return DeploymentSeries(deployment, step_s, stamps, values)


TimeWindow = tuple[datetime, datetime]  # [start, end)


def covered_s(series: DeploymentSeries, window: TimeWindow | None = None) -> FloatArray:
    """Seconds of each step of ``series`` that lie inside ``window`` (whole steps without one). Warm
    capacity and idle instances are billed by time: a roll-up step that the window only partly covers
    (the hour a demo started in, today in the current week) held them for that part only."""
    whole = np.full(series.ts.shape, float(series.step_s))
    if window is None:
        return whole
    lo, hi = window[0].timestamp(), window[1].timestamp()
    inside = np.minimum(series.ts + series.step_s, hi) - np.maximum(series.ts, lo)
    return np.asarray(np.clip(inside, 0.0, whole), dtype=np.float64)


def price_series(deployment: Deployment, series: DeploymentSeries, catalogue: PriceCatalogue, *,
                 window: TimeWindow | None = None) -> CostArrays:
    """Price every step of one deployment's series.

    Parameters
    ----------
    deployment
        The deployment's configuration (memory, vCPU, architecture, billing mode).
    series
        Its metrics (sums, maxima and means per step as :data:`inferwatch.schema.AGGREGATION`).
    catalogue
        Prices.
    window
        The time the series stands for: time-billed capacity (provisioned concurrency, idle and
        active instances) is priced for the part of each step inside it (see :func:`covered_s`).

    Returns
    -------
    CostArrays
        One element per step of ``series``.

    Raises
    ------
    DeploymentConfigError
        When the deployment's memory size is unknown (neither configured nor collected).
    UnknownPriceError
        When the provider or architecture has no price.
    ValueError
        When a metric value is negative or not finite.
    """
    if deployment.memory_mb:
        memory = np.full(series.ts.shape, float(deployment.memory_mb))
    else:
        memory = series.get(_MEMORY_CONFIGURED, 0.0)
        if not np.all(memory > 0):
            raise DeploymentConfigError(f"{deployment.id}: memory_mb is unknown, so its cost cannot be computed",
                                        deployment=deployment.id, field="memory_mb")
    seconds = covered_s(series, window)
    if deployment.provider in ("aws", "local"):
        return _price_lambda(deployment, series, catalogue, memory, seconds)
    if deployment.provider == "gcp":
        return _price_cloud_run(deployment, series, catalogue, memory, seconds)
    raise UnknownPriceError(f"{deployment.id}: no prices for provider {deployment.provider!r}",
                            provider=deployment.provider, key="provider")


def _price_lambda(deployment: Deployment, series: DeploymentSeries, catalogue: PriceCatalogue,
                  memory: FloatArray, seconds: FloatArray) -> CostArrays:
    region = deployment.region if deployment.provider == "aws" else None
    prices = catalogue.lambda_prices(deployment.architecture, region)
    inv = series.get(_INVOCATIONS)
    handler_ms, init_ms = billed_split(series, catalogue.aws_lambda.init_billing.billed_since_s)
    pc = series.get(_PC, float(deployment.provisioned_concurrency))
    spill = series.get(_SPILL)
    has_pc = (pc > 0) & (inv > 0)
    share = np.where(has_pc, np.clip((inv - spill) / np.where(inv > 0, inv, 1.0), 0.0, 1.0), 0.0)
    utilization = np.where(pc > 0, series.get(_UTIL), 1.0)  # no PC: nothing idle
    return lambda_cost_arrays(prices, memory_mb=memory, invocations=inv, billed_duration_ms=handler_ms,
                              init_ms=init_ms, restore_ms=series.get(_RESTORE), provisioned_concurrency=pc,
                              period_s=seconds, provisioned_share=share, provisioned_utilization=utilization)


def billed_split(series: DeploymentSeries, init_billed_since_s: int) -> tuple[FloatArray, FloatArray]:
    """Per step, the billed handler time and the billed init time of a Lambda series (ms).

    Since ``init_billed_since_s`` (2025-08-01) the INIT phase is billed for every configuration
    and REPORT's ``Billed Duration`` includes it, so where the billed duration came from REPORT
    records the init time is a part of it, never added on top. Where only the ``Duration`` metric
    is known (it excludes init), the init time is added. Before that date an on-demand init on a
    managed runtime was free: REPORT's billed duration held none and none is added.
    """
    duration = series.get(_DURATION)
    init = np.where(series.ts >= init_billed_since_s, series.get(_INIT), 0.0)
    reported = series.values.get(_BILLED)
    if reported is None:
        return duration, init
    from_report = ~np.isnan(reported)
    handler = np.where(from_report, np.maximum(np.nan_to_num(reported) - init, 0.0), duration)
    # Clipped at 0: a step whose init exceeds its REPORTs' billed time (an INIT_REPORT's init, of a
    # provisioned or SnapStart environment, is inside no REPORT) is billed that init, never less.
    return handler, init


def _price_cloud_run(deployment: Deployment, series: DeploymentSeries, catalogue: PriceCatalogue,
                     memory: FloatArray, seconds: FloatArray) -> CostArrays:
    tier = catalogue.cloud_run_tier(deployment.region)
    vcpu = deployment.cpu or catalogue.gcp_cloud_run.default_vcpu
    idle_s = series.get(_IDLE) * seconds
    active_s = series.get(_ACTIVE) * seconds
    billable = series.values.get(_BILLABLE)
    if billable is None:
        serving = active_s
    elif deployment.billing_mode == "instance":
        # Instance-based billable time covers the whole lifetime, idle included.
        serving = np.where(np.isnan(billable), active_s, np.maximum(billable - idle_s, 0.0))
    else:
        serving = np.where(np.isnan(billable), active_s, billable)
    return cloud_run_cost_arrays(tier, billing_mode=deployment.billing_mode, vcpu=vcpu, memory_mb=memory,
                                 requests=series.get(_INVOCATIONS), serving_instance_s=serving,
                                 idle_instance_s=idle_s)


def _windows(series: DeploymentSeries, costs: CostArrays, rollup_s: int | None) -> list[CostWindow]:
    inv = series.get(_INVOCATIONS)
    rows = series.get(_ROWS, np.nan)
    rows = np.where(np.isnan(rows), inv, rows)  # a step without a row count predicted one row per call
    columns = [inv, rows, costs.request, costs.compute, costs.init, costs.warm_capacity, costs.idle, costs.restore]
    step, ts = series.step_s, series.ts
    if rollup_s is not None and rollup_s > step:
        buckets, index = np.unique(ts - ts % rollup_s, return_inverse=True)
        columns = [np.bincount(index, weights=c, minlength=len(buckets)).astype(float) for c in columns]
        step, ts = rollup_s, buckets
    starts = [datetime.fromtimestamp(int(t), tz=UTC) for t in ts]
    data = np.column_stack(columns).tolist()
    return [CostWindow(series.deployment, start, step, row[0], row[1], CostBreakdown(*row[2:]))
            for start, row in zip(starts, data, strict=True)]


def estimate_costs(deployments: Sequence[Deployment], points: Iterable[MetricPoint] | Sequence[DeploymentSeries],
                   catalogue: PriceCatalogue, *, rollup_s: int | None = None,
                   window: TimeWindow | None = None) -> CostEstimate:
    """Price every step of every known deployment in ``points``.

    Parameters
    ----------
    deployments
        Configurations; points of unknown deployments are reported in ``unpriced``.
    points
        Metric points (any step; typically hourly roll-ups from ``Store.load_metrics``), or the
        :class:`DeploymentSeries` that :func:`group_series` made of them.
    catalogue
        Prices.
    rollup_s
        When given, windows are summed into steps of this length (86400: daily).
    window
        The time the points stand for, when their first or last step is only partly covered.

    Returns
    -------
    CostEstimate
        Windows sorted by key then start; deployments that could not be priced with the reason.
    """
    by_id = {d.id: d for d in deployments}
    windows: list[CostWindow] = []
    unpriced: dict[str, str] = {}
    for series in group_series(points):
        deployment = by_id.get(series.deployment)
        if deployment is None:
            unpriced.setdefault(series.deployment, "no deployment configuration in the store")
            continue
        try:
            costs = price_series(deployment, series, catalogue, window=window)
        except (DeploymentConfigError, UnknownPriceError, ValueError) as exc:
            unpriced.setdefault(series.deployment, str(exc))
            continue
        windows += _windows(series, costs, rollup_s)
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
