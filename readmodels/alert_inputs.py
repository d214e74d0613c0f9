"""What the alert rules evaluate, and how little of the store a run reads: the last hour (or the
longest window a non-additive rule needs) at full resolution, and for longer windows of additive rules
(counts: error rate, cold starts, burn rate, traffic) only their sums, computed by the database; plus
the drift engine's decisions and the cost model's cost per prediction, as the rules read them.

A 6 h burn-rate window thus costs one GROUP BY instead of 6 h of points per deployment, and stays
exact: the older part of each long window becomes one synthetic step holding its sum, so
``MetricSeries.total(now - window, now)`` is the exact total for every window a rule asks about. The drift
and cost sources return ``(values, error)``: ``values`` maps deployment ids to a decision or a number
(a deployment absent from it has no data), ``error`` says the source failed (its rules go to Error).
Model quality is read per window of the ``quality_below`` rules (``readmodels.quality.latest_quality``),
the histograms only where a rule reads the estimate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.rules import Rule
from alerts.series import DriftDecision, EvalData, MetricReading, QualityReading, SloDefaults
from alerts.settings import AlertSettings
from costs.catalogue import PriceCatalogue
from costs.errors import CostError
from drift.errors import DriftError
from drift.settings import DriftSettings
from inferwatch.config import Settings
from inferwatch.schema import CollectionRun, Deployment, MetricPoint, floor_time
from inferwatch.schema import Metric as M
from inferwatch.store import Store
from quality import PerformanceEstimate, QualityError
from readmodels.costs import window_costs
from readmodels.drift_status import decide_drift
from readmodels.quality import DeploymentQuality, latest_quality
from readmodels.sections import Sections

ADDITIVE_KINDS = frozenset({"error_rate", "cold_start_rate", "burn_rate", "no_data"})
# kinds that read no metric series: their windows never widen the full-resolution read (a day of
# realised quality must not load a day of minute points)
SERIES_FREE_KINDS = frozenset({"collector_failing", "quality_below"})
ADDITIVE_METRICS = (M.INVOCATIONS, M.SERVER_ERRORS, M.TIMEOUTS, M.DEGRADED, M.COLD_STARTS)
FINE_METRICS = (*ADDITIVE_METRICS, M.LATENCY_P99, M.PROVISIONED_UTILIZATION, M.INSTANCES_ACTIVE)
MIN_FINE_S = 3600


@dataclass(frozen=True, slots=True)
class Records:
    deployments: tuple[Deployment, ...]
    points: tuple[MetricPoint, ...]
    runs: tuple[CollectionRun, ...]


def plan_windows(rules: Sequence[Rule]) -> tuple[int, tuple[int, ...]]:
    """(full-resolution horizon, longer windows of additive rules), in seconds."""
    horizon = max([MIN_FINE_S]
                  + [r.window_s for r in rules if r.kind not in ADDITIVE_KINDS and r.kind not in SERIES_FREE_KINDS]
                  + [r.short_window_s for r in rules if r.short_window_s])
    longer = sorted({r.window_s for r in rules if r.kind in ADDITIVE_KINDS and r.window_s > horizon}, reverse=True)
    return horizon, tuple(longer)


def load_segment_sums(store: Store, deployments: Sequence[str], now: datetime, horizon_s: int,
                      windows: Sequence[int], step_s: int) -> list[MetricPoint]:
    """One synthetic step per (deployment, additive metric, segment) between consecutive long windows."""
    return store.segment_sums(deployments=deployments, metrics=[m.value for m in ADDITIVE_METRICS], step_s=step_s,
                              now=now, ages_s=[*windows, horizon_s])


def fetch_records(store: Store, rules: Sequence[Rule], step_s: int, now: datetime) -> Records:
    """Every store query of a run (the benchmark's baseline)."""
    horizon, longer = plan_windows(rules)
    deployments = tuple(store.load_deployments())
    ids = [d.id for d in deployments]  # naming them lets both queries seek the primary key
    points = store.load_metrics(deployments=ids, metrics=[m.value for m in FINE_METRICS], step_s=step_s,
                                start=now - timedelta(seconds=horizon), end=now)
    points += load_segment_sums(store, ids, now, horizon, longer, step_s)
    failures = max((r.failures for r in rules if r.kind == "collector_failing"), default=3)
    runs = store.load_runs(limit=max(100, 20 * failures))
    return Records(deployments, tuple(points), tuple(runs))


def load_data(store: Store, settings: AlertSettings, now: datetime, *, config: Settings,
              sections: Sections) -> EvalData:
    """Everything ``settings.rules`` read at ``now`` (``config`` gives the step and the SLO defaults)."""
    step_s = config.collect.step_s
    records = fetch_records(store, settings.rules, step_s, now)
    slo = config.slo
    kinds = {r.kind for r in settings.rules}
    drift, drift_error = (drift_decisions(store, records.deployments, now, sections.drift) if "drift" in kinds
                          else (None, None))
    cost_window = max((r.window_s for r in settings.rules if r.kind == "cost_per_prediction"), default=0)
    cost, cost_error = (load_cost_per_prediction(store, records.deployments, now, sections.prices, step_s,
                                                 cost_window) if cost_window else (None, None))
    quality_windows = {r.window_s: False for r in settings.rules if r.kind == "quality_below"}
    for r in settings.rules:
        if r.kind == "quality_below" and r.source != "realised":
            quality_windows[r.window_s] = True
    quality, quality_error = (quality_readings(store, records.deployments, now, quality_windows) if quality_windows
                              else (None, None))
    return EvalData.from_records(
        records.deployments, records.points, records.runs, step_s=step_s,
        slo=SloDefaults(p99_ms=slo.p99_ms, availability=slo.availability, cold_start_rate=slo.cold_start_rate),
        drift=drift, drift_error=drift_error, cost_per_prediction_usd=cost, cost_error=cost_error,
        quality=quality, quality_error=quality_error)


COST_RESOLUTION_S = 300  # cost windows end on a 5-minute boundary so every priced step is whole


def signal_key(signal: str, check: str) -> str:
    return signal if check == "distribution" else f"{signal}:{check}"


def drift_decisions(store: Store, deployments: Sequence[Deployment], now: datetime,
                    settings: DriftSettings) -> tuple[Mapping[str, DriftDecision] | None, str | None]:
    """The drift engine's latest decision per deployment (``[drift]`` window and policy); a deployment
    whose baseline is unreadable gets a decision carrying that error."""
    try:
        results = decide_drift(store, now, window_s=settings.window_s, n_windows=settings.windows,
                                        deployments=[d.id for d in deployments], policy=settings.policy)
    except DriftError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    decisions = {}
    for deployment, drift in results.decided.items():
        signals = {signal_key(r.signal, r.check): r.status.value for r in drift.report.results}
        scores = {signal_key(r.signal, r.check): r.effect for r in drift.report.results if r.effect is not None}
        decisions[deployment] = DriftDecision(signals=signals, scores=scores)
    for deployment, problem in results.unreadable.items():  # that deployment's drift rule errs; the others decide
        decisions[deployment] = DriftDecision(signals={}, error=str(problem))
    return decisions, None


def load_cost_per_prediction(store: Store, deployments: Sequence[Deployment], now: datetime,
                             prices: PriceCatalogue, step_s: int,
                             window_s: int) -> tuple[Mapping[str, float] | None, str | None]:
    """Estimated cost per prediction over the last ``window_s`` (whole 5-minute steps)."""
    end = floor_time(now, COST_RESOLUTION_S)
    try:
        totals = window_costs(store, deployments, end - timedelta(seconds=window_s), end,
                              prices, step_s=step_s,
                              resolution_s=max(COST_RESOLUTION_S, step_s))
    except CostError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return {key: usd / rows for key, (usd, rows) in totals.items() if rows > 0}, None


def _readings(estimate: PerformanceEstimate | None) -> dict[str, MetricReading]:
    return {} if estimate is None else {m.metric: MetricReading(m.value, m.low, m.high) for m in estimate.metrics}


def quality_reading(q: DeploymentQuality) -> QualityReading:
    """One deployment's newest window as the ``quality_below`` rules read it."""
    window = q.latest
    estimate, realised = (window.estimate, window.realised) if window is not None else (None, None)
    return QualityReading(kind=q.kind, estimated=_readings(estimate), realised=_readings(realised),
                          estimated_rows=estimate.n if estimate else 0, realised_rows=realised.n if realised else 0,
                          baseline=dict(q.baseline_level))


def quality_readings(store: Store, deployments: Sequence[Deployment], now: datetime, windows: Mapping[int, bool]
                     ) -> tuple[Mapping[int, Mapping[str, QualityReading]] | None, str | None]:
    """Per rule window (``windows``: window_s -> whether a rule reads the estimate), each deployment's
    quality reading; a deployment whose baseline is unreadable gets a reading carrying that error."""
    ids = [d.id for d in deployments]
    out: dict[int, dict[str, QualityReading]] = {}
    try:
        for window_s, estimate in windows.items():
            loaded = latest_quality(store, now, window_s=window_s, deployments=ids, estimate=estimate)
            out[window_s] = {dep: quality_reading(q) for dep, q in loaded.deployments.items()}
            out[window_s].update({dep: QualityReading(kind="", error=str(problem))
                                  for dep, problem in loaded.unreadable.items()})
    except (QualityError, DriftError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return out, None
