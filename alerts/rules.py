"""Rules and their checks: pure functions from :class:`EvalData` to one :class:`Observation` per
target (a deployment, or a collector for ``collector_failing``). No clock, no I/O."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from alerts.series import EvalData, QualityReading
from inferwatch.schema import Deployment, Role
from inferwatch.schema import Metric as M


class Severity(StrEnum):
    PAGE = "page"
    TICKET = "ticket"
    NOTICE = "notice"


class MissingData(StrEnum):
    """What a window with no data means (CloudWatch's TreatMissingData, plus Grafana's NoData)."""

    NOT_BREACHING = "not_breaching"
    BREACHING = "breaching"
    KEEP_STATE = "keep_state"
    NODATA = "nodata"


class OnError(StrEnum):
    ERROR = "error"
    KEEP_STATE = "keep_state"
    OK = "ok"


class Outcome(StrEnum):
    BREACH = "breach"
    OK = "ok"
    NODATA = "nodata"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    kind: str
    severity: Severity
    summary: str  # str.format template over the kind's variables (see KIND_VARIABLES)
    window_s: int
    for_s: int = 0
    keep_firing_for_s: int = 0
    threshold: float | None = None  # None: from the deployment's or the [slo] section's SLO
    short_window_s: int | None = None  # burn_rate only
    factor: float | None = None  # burn_rate only
    min_requests: int = 0
    failures: int = 3  # collector_failing: consecutive failed runs
    metric: str = "accuracy"  # quality_below: the quality metric (accuracy, roc_auc, mae, precision:<class>, ...)
    source: str = "either"  # quality_below: estimated | realised | either
    below_baseline: float | None = None  # quality_below: the floor this far below the baseline's level
    missing_data: MissingData = MissingData.NOT_BREACHING
    on_error: OnError = OnError.ERROR
    repeat_interval_s: int | None = None  # None: the [alerts] default
    labels: Mapping[str, str] = field(default_factory=dict)
    match: tuple[str, ...] = ("*",)  # fnmatch patterns over deployment (or collector) ids


@dataclass(frozen=True, slots=True)
class Observation:
    outcome: Outcome
    value: float | None = None
    variables: Mapping[str, float | str] = field(default_factory=dict)
    message: str = ""  # why: for nodata / error


Check = Callable[[Rule, Deployment, EvalData, int], Observation]
MAX_SIGNALS_SHOWN = 5  # a summary names at most this many drifted signals

_COMMON = ("entity", "value", "threshold", "window")
KIND_VARIABLES: dict[str, tuple[str, ...]] = {
    "latency_p99": (*_COMMON, "invocations"),
    "error_rate": (*_COMMON, "invocations", "errors"),
    "cold_start_rate": (*_COMMON, "invocations", "cold_starts"),
    "burn_rate": (*_COMMON, "invocations", "burn_short", "short_window", "factor"),
    "warm_utilization": (*_COMMON, "capacity"),
    "no_data": _COMMON,
    "cost_per_prediction": _COMMON,
    "drift": (*_COMMON, "signals"),
    "collector_failing": (*_COMMON, "failures", "last_error"),
    "quality_below": (*_COMMON, "metric", "source", "baseline", "low", "high", "rows"),
}
# The quality metrics a quality_below rule may name, per kind of model, and those whose floor is a
# ceiling: quality's CLASSIFIER_METRICS, REGRESSOR_METRICS and LOWER_IS_BETTER (a test keeps them
# equal: alerts does not import quality). Per-class ones are "precision:<class>", "recall:<class>".
CLASSIFIER_QUALITY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSOR_QUALITY_METRICS = ("mae", "rmse", "bias")
QUALITY_METRICS = CLASSIFIER_QUALITY_METRICS + REGRESSOR_QUALITY_METRICS
CEILING_METRICS = frozenset({"mae", "rmse"})
QUALITY_SOURCES = ("estimated", "realised", "either")


def human_duration(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _vars(rule: Rule, entity: str, value: float, threshold: float, **extra: float | str) -> dict[str, float | str]:
    return {"entity": entity, "value": value, "threshold": threshold, "window": human_duration(rule.window_s),
            **extra}


def _observe(rule: Rule, d: Deployment, value: float, threshold: float, above: bool,
             **extra: float | str) -> Observation:
    breach = value > threshold if above else value < threshold
    return Observation(Outcome.BREACH if breach else Outcome.OK, value, _vars(rule, d.id, value, threshold, **extra))


def _requests(d: Deployment, data: EvalData, start: int, end: int) -> tuple[int, float]:
    s = data.get(d.id, M.INVOCATIONS)
    return s.count(start, end), s.total(start, end)


def _bad(d: Deployment, data: EvalData, start: int, end: int) -> float:
    return sum(data.get(d.id, m).total(start, end) for m in (M.SERVER_ERRORS, M.TIMEOUTS, M.DEGRADED))


def _nodata(rule: Rule) -> Observation:
    return Observation(Outcome.NODATA, message=f"no data in the last {human_duration(rule.window_s)}")


def _too_few(rule: Rule, d: Deployment, n: float) -> Observation:
    # The min-requests guard: at low traffic one error would exceed any rate, so too little is OK.
    thr = rule.threshold if rule.threshold is not None else 0.0
    return Observation(Outcome.OK, 0.0, _vars(rule, d.id, 0.0, thr, invocations=n))


def check_latency_p99(rule: Rule, d: Deployment, data: EvalData, now_s: int) -> Observation:
    start = now_s - rule.window_s
    ts, p99 = data.get(d.id, M.LATENCY_P99).values_in(start, now_s)
    if ts.size == 0:
        return _nodata(rule)
    inv_ts, inv = data.get(d.id, M.INVOCATIONS).values_in(start, now_s)
    weights = dict(zip(inv_ts.tolist(), inv.tolist(), strict=True))
    w = [weights.get(t, 0.0) for t in ts.tolist()]
    n = sum(w)
    if n < max(rule.min_requests, 1):
        return _too_few(rule, d, n)
    # Invocation-weighted mean of the per-step p99s (steps cannot be merged into an exact p99).
    value = sum(v * x for v, x in zip(p99.tolist(), w, strict=True)) / n
    threshold = rule.threshold if rule.threshold is not None else (d.slo_p99_ms or data.slo.p99_ms)
    return _observe(rule, d, value, threshold, True, invocations=n)


def check_error_rate(rule: Rule, d: Deployment, data: EvalData, now_s: int) -> Observation:
    start = now_s - rule.window_s
    steps, n = _requests(d, data, start, now_s)
    if steps == 0:
        return _nodata(rule)
    if n < max(rule.min_requests, 1):
        return _too_few(rule, d, n)
    bad = _bad(d, data, start, now_s)
    threshold = rule.threshold if rule.threshold is not None else 0.05
    return _observe(rule, d, bad / n, threshold, True, invocations=n, errors=bad)


def check_cold_start_rate(rule: Rule, d: Deployment, data: EvalData, now_s: int) -> Observation:
    start = now_s - rule.window_s
    steps, n = _requests(d, data, start, now_s)
    if steps == 0:
        return _nodata(rule)
    if n < max(rule.min_requests, 1):
        return _too_few(rule, d, n)
    cold = data.get(d.id, M.COLD_STARTS).total(start, now_s)
    threshold = rule.threshold if rule.threshold is not None else data.slo.cold_start_rate
    return _observe(rule, d, cold / n, threshold, True, invocations=n, cold_starts=cold)


def check_burn_rate(rule: Rule, d: Deployment, data: EvalData, now_s: int) -> Observation:
    """SRE-workbook multiwindow burn rate: both windows must burn faster than ``factor``."""
    short_s, factor = rule.short_window_s or rule.window_s // 12, rule.factor or 1.0
    budget = 1.0 - data.slo.availability
    steps, n_long = _requests(d, data, now_s - rule.window_s, now_s)
    if steps == 0:
        return _nodata(rule)
    _, n_short = _requests(d, data, now_s - short_s, now_s)
    if min(n_long, n_short) < max(rule.min_requests, 1):
        return _too_few(rule, d, n_long)
    burn_long = _bad(d, data, now_s - rule.window_s, now_s) / n_long / budget
    burn_short = _bad(d, data, now_s - short_s, now_s) / n_short / budget
    breach = burn_long > factor and burn_short > factor
    variables = _vars(rule, d.id, burn_long, factor, invocations=n_long, burn_short=burn_short,
                      short_window=human_duration(short_s), factor=factor)
    return Observation(Outcome.BREACH if breach else Outcome.OK, burn_long, variables)


def check_warm_utilization(rule: Rule, d: Deployment, data: EvalData, now_s: int) -> Observation:
    """Provisioned concurrency (AWS) or min-instances (Cloud Run, local) kept warm but mostly idle."""
    capacity = d.provisioned_concurrency or d.min_instances
    threshold = rule.threshold if rule.threshold is not None else 0.30
    if capacity <= 0:
        return Observation(Outcome.OK, None, _vars(rule, d.id, 1.0, threshold, capacity=0.0))
    start = now_s - rule.window_s
    _, ratio = data.get(d.id, M.PROVISIONED_UTILIZATION).values_in(start, now_s)
    if ratio.size == 0:
        _, active = data.get(d.id, M.INSTANCES_ACTIVE).values_in(start, now_s)
        if active.size == 0:
            return _nodata(rule)
        ratio = active.clip(0, capacity) / capacity
    value = float(ratio.mean())
    return _observe(rule, d, value, threshold, False, capacity=float(capacity))


def check_no_data(rule: Rule, d: Deployment, data: EvalData, now_s: int) -> Observation:
    """A deployment that should have traffic (weight > 0, not a shadow) reported no invocations."""
    _, n = _requests(d, data, now_s - rule.window_s, now_s)
    expected = d.traffic_weight > 0 and d.role != Role.SHADOW.value
    breach = expected and n <= (rule.threshold or 0.0)
    return Observation(Outcome.BREACH if breach else Outcome.OK, n, _vars(rule, d.id, n, rule.threshold or 0.0))


def check_cost_per_prediction(rule: Rule, d: Deployment, data: EvalData, now_s: int) -> Observation:
    if data.cost_error is not None:
        return Observation(Outcome.ERROR, message=f"cost per prediction unavailable: {data.cost_error}")
    value = (data.cost_per_prediction_usd or {}).get(d.id)
    if value is None:
        return _nodata(rule)
    return _observe(rule, d, value, rule.threshold if rule.threshold is not None else 1e-5, True)


def check_drift(rule: Rule, d: Deployment, data: EvalData, now_s: int) -> Observation:
    if data.drift_error is not None:
        return Observation(Outcome.ERROR, message=f"drift decision unavailable: {data.drift_error}")
    decision = (data.drift or {}).get(d.id)
    if decision is not None and decision.error is not None:
        return Observation(Outcome.ERROR, message=f"drift decision unavailable: {decision.error}")
    if decision is None or not decision.signals:
        return _nodata(rule)
    drifted = sorted(s for s, status in decision.signals.items() if status == "drift")
    value = float(len(drifted))
    shown = ", ".join(drifted[:MAX_SIGNALS_SHOWN]) or "none"
    more = f" and {len(drifted) - MAX_SIGNALS_SHOWN} more" if len(drifted) > MAX_SIGNALS_SHOWN else ""
    return _observe(rule, d, value, 0.0, True, signals=shown + more)


def _quality_floor(rule: Rule, reading: QualityReading, lower_is_better: bool) -> float | None:
    if rule.below_baseline is None:
        return rule.threshold
    level = reading.baseline.get(rule.metric)
    if level is None:
        return None
    return level + rule.below_baseline if lower_is_better else level - rule.below_baseline


def check_quality_below(rule: Rule, d: Deployment, data: EvalData, now_s: int) -> Observation:
    """Estimated or realised quality worse than the floor (a ceiling for MAE and RMSE). An estimate
    breaches only when its whole band does (it is uncertain by nature); a realised value when it does."""
    if data.quality_error is not None:
        return Observation(Outcome.ERROR, message=f"model quality unavailable: {data.quality_error}")
    reading = (data.quality or {}).get(rule.window_s, {}).get(d.id)
    if reading is None:
        return _nodata(rule)
    if reading.error is not None:
        return Observation(Outcome.ERROR, message=f"model quality unavailable: {reading.error}")
    if reading.kind == "unknown":  # a baseline with a score but no classes: nothing to judge
        return Observation(Outcome.NODATA, message="model quality unknown: its baseline has no class signal")
    allowed = REGRESSOR_QUALITY_METRICS if reading.kind == "regressor" else CLASSIFIER_QUALITY_METRICS
    if rule.metric.split(":", 1)[0] not in allowed:
        return Observation(Outcome.ERROR, message=f"{rule.metric!r} is not a {reading.kind} metric "
                                                  f"(use one of: {', '.join(allowed)})")
    lower = rule.metric.split(":", 1)[0] in CEILING_METRICS
    floor = _quality_floor(rule, reading, lower)
    if floor is None:
        return Observation(Outcome.NODATA, message=f"no baseline level of {rule.metric} (the baseline has no labels)")
    seen = [obs for source in (("estimated", "realised") if rule.source == "either" else (rule.source,))
            if (obs := _quality_observation(rule, d, reading, source, floor, lower)) is not None]
    if not seen:
        rows = max(rule.min_requests, 1)
        return Observation(Outcome.NODATA, message=f"no {rule.source} {rule.metric} over at least {rows} rows "
                                                   f"in the last {human_duration(rule.window_s)}")
    return next((o for o in seen if o.outcome is Outcome.BREACH), seen[0])


def _quality_observation(rule: Rule, d: Deployment, reading: QualityReading, source: str, floor: float,
                         lower: bool) -> Observation | None:
    """The rule's metric from one source against the floor; None without it (or with too few rows)."""
    values, rows = ((reading.estimated, reading.estimated_rows) if source == "estimated"
                    else (reading.realised, reading.realised_rows))
    m = values.get(rule.metric)
    if m is None or rows < max(rule.min_requests, 1):
        return None
    band = m.low if lower else m.high
    edge = band if source == "estimated" and band is not None else m.value
    breach = edge > floor if lower else edge < floor
    low, high = (m.value if m.low is None else m.low), (m.value if m.high is None else m.high)
    variables = _vars(rule, d.id, m.value, floor, metric=rule.metric, source=source, low=low, high=high,
                      baseline=reading.baseline.get(rule.metric, floor), rows=float(rows))
    return Observation(Outcome.BREACH if breach else Outcome.OK, m.value, variables)


CHECKS: dict[str, Check] = {
    "latency_p99": check_latency_p99,
    "error_rate": check_error_rate,
    "cold_start_rate": check_cold_start_rate,
    "burn_rate": check_burn_rate,
    "warm_utilization": check_warm_utilization,
    "no_data": check_no_data,
    "cost_per_prediction": check_cost_per_prediction,
    "drift": check_drift,
    "quality_below": check_quality_below,
}


def check_collector(rule: Rule, collector: str, data: EvalData) -> Observation:
    """The last ``failures`` runs of this collector all failed."""
    runs = data.collector_runs.get(collector, ())[: rule.failures]
    failed = [r for r in runs if r.status == "failed"]
    value = float(len(failed))
    last_error = (runs[0].error or "") if runs else ""
    variables = _vars(rule, collector, value, float(rule.failures), failures=value, last_error=last_error)
    breach = len(runs) >= rule.failures and len(failed) == len(runs)
    return Observation(Outcome.BREACH if breach else Outcome.OK, value, variables)


def matches(rule: Rule, entity: str) -> bool:
    return any(fnmatch.fnmatchcase(entity, pattern) for pattern in rule.match)


def render_summary(rule: Rule, obs: Observation) -> str:
    """The rule's template with the numbers in it (validated at load, so it formats)."""
    if obs.outcome is Outcome.NODATA:
        return f"{rule.name}: {obs.message}"
    if obs.outcome is Outcome.ERROR:
        return f"{rule.name}: could not evaluate: {obs.message}"
    return rule.summary.format_map(_Defaults(obs.variables))


class _Defaults(dict[str, object]):
    """Variables a kind does not produce in this outcome format as 0 rather than failing."""

    def __init__(self, values: Mapping[str, float | str]) -> None:
        super().__init__(values)

    def __missing__(self, key: str) -> object:
        return 0.0
