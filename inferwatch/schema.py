"""The one normalized record model that flows from collectors to the store to every consumer.

Nothing here knows which cloud a number came from. Times are tz-aware UTC; a step runs from
``start`` (inclusive) for ``step_s`` seconds (exclusive end). Deployment ids are
``provider:region:name`` where ``name`` may itself hold a qualifier (``scorer:live``).
This module imports nothing from the project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any


class Provider(StrEnum):
    LOCAL = "local"
    AWS = "aws"
    GCP = "gcp"


class Role(StrEnum):
    STABLE = "stable"
    CANARY = "canary"
    BLUE = "blue"
    GREEN = "green"
    SHADOW = "shadow"


class RunStatus(StrEnum):
    """How one collector run ended."""

    OK = "ok"
    PARTIAL = "partial"  # stored what it could; warnings say what it could not
    FAILED = "failed"  # stored nothing; ``error`` says why


class AlertStatus(StrEnum):
    """Where an alert stands (its state machine: ok -> pending -> firing -> resolved; nodata, error)."""

    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"
    NODATA = "nodata"
    ERROR = "error"


class Aggregation(StrEnum):
    """How a metric combines when steps are rolled up into coarser ones."""

    SUM = "sum"
    MAX = "max"
    MEAN = "mean"


class Metric(StrEnum):
    """Metric names; the suffix carries the unit."""

    INVOCATIONS = "invocations_count"
    ROWS = "rows_count"  # predictions made (a batched invocation predicts several rows)
    LATENCY_P50 = "latency_p50_ms"
    LATENCY_P95 = "latency_p95_ms"
    LATENCY_P99 = "latency_p99_ms"
    LATENCY_AVG = "latency_avg_ms"
    LATENCY_MAX = "latency_max_ms"
    DURATION_SUM = "duration_sum_ms"  # handler time summed over invocations
    BILLED_DURATION_SUM = "billed_duration_sum_ms"  # as billed: since 2025-08-01 Lambda's includes the init phase
    SERVER_ERRORS = "server_errors_count"
    CLIENT_ERRORS = "client_errors_count"
    TIMEOUTS = "timeouts_count"
    DEGRADED = "degraded_count"
    THROTTLES = "throttles_count"
    OOM_KILLS = "oom_kills_count"  # invocations killed for running out of memory (also server errors)
    COLD_STARTS = "cold_starts_count"  # every cold start, SnapStart restores included
    INIT_AVG = "init_avg_ms"  # init phases (on-demand cold starts), restores excluded
    INIT_MAX = "init_max_ms"
    INIT_SUM = "init_sum_ms"
    RESTORES = "restores_count"  # the cold starts that were SnapStart restores from a snapshot
    RESTORE_AVG = "restore_avg_ms"
    RESTORE_MAX = "restore_max_ms"
    BILLED_RESTORE_SUM = "billed_restore_sum_ms"  # the billed part of the restores (runtime hooks)
    MEMORY_CONFIGURED = "memory_configured_mb"
    MEMORY_MAX_USED = "memory_max_used_mb"
    CONCURRENCY_MAX = "concurrency_max_count"
    PROVISIONED_CONCURRENCY = "provisioned_concurrency_count"  # configured warm capacity
    PROVISIONED_UTILIZATION = "provisioned_utilization_ratio"  # 0..1, max over the step
    PROVISIONED_SPILLOVER = "provisioned_spillover_count"
    INSTANCES_ACTIVE = "instances_active_count"
    INSTANCES_IDLE = "instances_idle_count"
    BILLABLE_INSTANCE_TIME = "billable_instance_s"
    CPU_UTILIZATION_P95 = "cpu_utilization_p95_ratio"
    MEMORY_UTILIZATION_P95 = "memory_utilization_p95_ratio"
    SHADOW_COUNT = "shadow_count"  # rows scored by both the served and the shadow version
    SHADOW_AGREEMENT = "shadow_agreement_ratio"  # share of those rows whose predicted classes agree


AGGREGATION: dict[Metric, Aggregation] = {
    Metric.INVOCATIONS: Aggregation.SUM,
    Metric.ROWS: Aggregation.SUM,
    Metric.LATENCY_P50: Aggregation.MEAN,
    Metric.LATENCY_P95: Aggregation.MAX,
    Metric.LATENCY_P99: Aggregation.MAX,
    Metric.LATENCY_AVG: Aggregation.MEAN,
    Metric.LATENCY_MAX: Aggregation.MAX,
    Metric.DURATION_SUM: Aggregation.SUM,
    Metric.BILLED_DURATION_SUM: Aggregation.SUM,
    Metric.SERVER_ERRORS: Aggregation.SUM,
    Metric.CLIENT_ERRORS: Aggregation.SUM,
    Metric.TIMEOUTS: Aggregation.SUM,
    Metric.DEGRADED: Aggregation.SUM,
    Metric.THROTTLES: Aggregation.SUM,
    Metric.OOM_KILLS: Aggregation.SUM,
    Metric.COLD_STARTS: Aggregation.SUM,
    Metric.INIT_AVG: Aggregation.MEAN,
    Metric.INIT_MAX: Aggregation.MAX,
    Metric.INIT_SUM: Aggregation.SUM,
    Metric.RESTORES: Aggregation.SUM,
    Metric.RESTORE_AVG: Aggregation.MEAN,
    Metric.RESTORE_MAX: Aggregation.MAX,
    Metric.BILLED_RESTORE_SUM: Aggregation.SUM,
    Metric.MEMORY_CONFIGURED: Aggregation.MAX,
    Metric.MEMORY_MAX_USED: Aggregation.MAX,
    Metric.CONCURRENCY_MAX: Aggregation.MAX,
    Metric.PROVISIONED_CONCURRENCY: Aggregation.MAX,
    Metric.PROVISIONED_UTILIZATION: Aggregation.MAX,
    Metric.PROVISIONED_SPILLOVER: Aggregation.SUM,
    Metric.INSTANCES_ACTIVE: Aggregation.MEAN,
    Metric.INSTANCES_IDLE: Aggregation.MEAN,
    Metric.BILLABLE_INSTANCE_TIME: Aggregation.SUM,
    Metric.CPU_UTILIZATION_P95: Aggregation.MAX,
    Metric.MEMORY_UTILIZATION_P95: Aggregation.MAX,
    Metric.SHADOW_COUNT: Aggregation.SUM,
    Metric.SHADOW_AGREEMENT: Aggregation.MEAN,
}


def deployment_id(provider: str, region: str, name: str) -> str:
    """Build ``provider:region:name``."""
    return f"{provider}:{region}:{name}"


def split_deployment_id(value: str) -> tuple[str, str, str]:
    """Split ``provider:region:name`` (the name may contain further colons)."""
    parts = value.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"deployment id {value!r} is not of the form provider:region:name")
    return parts[0], parts[1], parts[2]


def utc(ts: datetime) -> datetime:
    """Return ``ts`` as tz-aware UTC; naive datetimes are rejected, not guessed."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()} (times must be tz-aware UTC)")
    return ts.astimezone(UTC)


def floor_time(ts: datetime, step_s: int) -> datetime:
    """The start of the step that contains ``ts``."""
    epoch = int(utc(ts).timestamp())
    return datetime.fromtimestamp(epoch - epoch % step_s, tz=UTC)


@dataclass(frozen=True, slots=True)
class Deployment:
    """One independently scaled unit of serving: a Lambda version/alias, a Cloud Run revision or
    service, or an emulated deployment. ``service`` groups the versions compared on the Versions page."""

    id: str
    provider: Provider
    region: str
    name: str
    service: str
    model_version: str = ""
    role: Role = Role.STABLE
    traffic_weight: float = 1.0
    memory_mb: int | None = None
    cpu: float | None = None  # vCPU (Cloud Run); None where memory sets CPU (Lambda)
    architecture: str = "x86_64"
    timeout_s: float | None = None
    concurrency: int = 1  # max in-flight requests per instance
    min_instances: int = 0  # Cloud Run / emulator min instances
    provisioned_concurrency: int = 0  # AWS provisioned concurrency
    max_instances: int | None = None
    billing_mode: str = "request"  # Cloud Run: request | instance
    slo_p99_ms: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelKey:
    """Which model a drift baseline is for: a service's model version, and (when the telemetry says so)
    the sha256 of the exact model file. Baselines are looked up by this key, so two services that both
    call their model ``v1`` never share one."""

    service: str
    model_version: str
    model_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One metric's value for one deployment over one step."""

    deployment: str
    metric: str
    start: datetime
    step_s: int
    value: float


@dataclass(frozen=True, slots=True)
class HistogramPoint:
    """Integer counts of one signal over a baseline's bins for one step (drift window state).

    ``signal`` is ``score`` (top-class probability), ``class`` (predicted class) or
    ``feature:<name>``; ``counts`` is the drift engine's ``WindowCounts.to_dict()``.
    """

    deployment: str
    signal: str
    start: datetime
    step_s: int
    baseline_id: str
    counts: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CostRecord:
    """Billed cost from a provider's billing source (Cost Explorer, BigQuery billing export)."""

    scope: str  # deployment id, or provider:account for costs that cannot be attributed
    day: datetime  # UTC midnight
    usage_type: str
    cost_usd: float
    usage_quantity: float
    usage_unit: str
    estimated: bool
    source: str


@dataclass(frozen=True, slots=True)
class CollectionRun:
    """What one collector did in one run; failures are recorded, never hidden."""

    id: str
    collector: str
    started_at: datetime
    finished_at: datetime
    status: RunStatus
    window_start: datetime | None = None
    window_end: datetime | None = None
    points_written: int = 0
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    """One input a collector could not use (a telemetry line, say): where it is and why it was set aside."""

    source: str  # e.g. the telemetry file
    position: int  # e.g. the byte offset of the line in it
    reason: str


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """What one request was answered (its ok rows' scores and classes, at most the first 100), kept a
    few days so that labels arriving later with its request id find the prediction they label."""

    deployment: str
    request_id: str
    at: datetime
    model_version: str
    scores: tuple[float | None, ...]  # None: a score that was not a finite number
    classes: tuple[str, ...]  # canonical class labels ("0", "1", "cat"), one per row
    values: tuple[float | None, ...] = ()  # a regression's predicted values


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """One labelled prediction, as ``inferwatch labels ingest`` resolved it.

    ``key`` identifies the prediction (a sha256 of its request id and row, or of the file row without
    the label): ingesting it again replaces it (a corrected label) and never counts it twice. ``predicted``
    is the predicted class (classifiers) or value (regressors, as text) and ``score`` its score (None
    when the file gave none); ``label`` is the true class or value, as text.
    """

    deployment: str
    key: str
    at: datetime
    model_version: str
    predicted: str
    score: float | None
    label: str
    source: str  # the file it came from


@dataclass(frozen=True, slots=True)
class LabelStep:
    """One step's label aggregate (``quality.aggregates`` ``ClassifierLabels``/``RegressorLabels`` as
    its dict) for one deployment and baseline (``""`` for regressors, which need none)."""

    deployment: str
    start: datetime
    step_s: int
    baseline_id: str
    kind: str  # classifier | regressor
    payload: Mapping[str, Any]
    row_count: int


@dataclass(frozen=True, slots=True)
class CollectionBatch:
    """Everything one collector returns for one run; the store writes it in one transaction.

    ``cursor`` is the collector's resume state (file offsets, last complete window), saved
    atomically with the data so a run killed midway leaves neither a partial window nor a gap.
    ``quarantined_count`` counts the inputs set aside this run, each once; ``quarantined`` keeps
    the first of them (a bounded sample) for the operator to look at.
    """

    collector: str
    deployments: tuple[Deployment, ...] = ()
    points: tuple[MetricPoint, ...] = ()
    histograms: tuple[HistogramPoint, ...] = ()
    costs: tuple[CostRecord, ...] = ()
    cursor: Mapping[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    quarantined: tuple[QuarantinedRecord, ...] = ()
    quarantined_count: int = 0
    predictions: tuple[PredictionRecord, ...] = ()  # kept for labels that arrive by request id


def step_end(start: datetime, step_s: int) -> datetime:
    return start + timedelta(seconds=step_s)


# -- alert records: the alert job's state, history and outbox, kept by the store ---------------------


@dataclass(frozen=True, slots=True)
class AlertState:
    """Where one alert (a rule for one entity, named by its fingerprint) stands, between runs."""

    fingerprint: str
    rule: str
    entity: str
    severity: str
    state: AlertStatus
    since_s: int  # when the current state began
    last_eval_s: int
    labels: Mapping[str, str] = field(default_factory=dict)
    active_since_s: int | None = None  # when the current breach began (pending start)
    last_breach_s: int | None = None
    value: float | None = None
    summary: str = ""  # of the last breach (or the nodata / error reason)
    notified: str = "ok"  # what was last said: ok | firing | nodata | error | flapping
    notified_at_s: int | None = None
    notify_seq: int = 0
    changes: tuple[int, ...] = ()  # recent state changes (epoch s), for flap detection
    flapping: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    """One state change of an alert (its history)."""

    fingerprint: str
    rule: str
    entity: str
    at_s: int
    from_state: AlertStatus
    to_state: AlertStatus
    value: float | None
    summary: str


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message to one receiver, recorded before it is sent (pending -> delivered | dead)."""

    id: str
    receiver: str
    group: str
    created_at_s: int
    payload: Mapping[str, Any]
    status: str = "pending"
    attempts: int = 0
    next_attempt_at_s: int = 0
    last_error: str | None = None
    finished_at_s: int | None = None
