"""Cloud Monitoring reads for one Cloud Run service: which ListTimeSeries requests, and how their
answers become normalized metric points.

Every request is aligned to the collection step (``alignment_period = step_s``) over a window of
whole steps, and reduced across series on the server, so the collector downloads one number per
step and group, never raw events. Percentiles of latency come from Cloud Monitoring's own
``REDUCE_PERCENTILE_*`` over the DELTA distributions of ``request_latencies`` (``ALIGN_DELTA``
first: a cross-series reducer needs an aligner), once grouped by service and once by revision,
because a service percentile cannot be rebuilt from its revisions' percentiles. Sums (requests,
billable instance time, instances, cold starts) are read per revision and added up for the service,
which is exact. Peak concurrency and CPU/memory p95 of the service are the busiest revision's.
Request counts are grouped by ``response_code`` too, so 429s (no instance free) count as throttles
rather than client errors.

The prediction distribution is a DISTRIBUTION metric (a custom metric, or a log-based metric over
the reference service's structured log lines) with explicit bucket bounds equal to the baseline's
``drift.cloud.bin_edges_for_cloud(column).gcp_bounds`` and the metric labels ``service_name``,
``revision_name`` and ``model_version``.

SDK errors are turned into ``CollectorError`` here, by :func:`collectors.gcp_client.translate_error`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from google.api_core import retry as gretry
from google.cloud import monitoring_v3

from collectors.base import Window
from collectors.gcp_client import GOOGLE_ERRORS, Target, translate_error
from inferwatch.schema import Metric as M
from inferwatch.schema import MetricPoint

PERMISSION = "monitoring.timeSeries.list"
RUN_PREFIX = "run.googleapis.com/"
PREDICTION_METRIC = "custom.googleapis.com/inferwatch/prediction_score"

Aligner = monitoring_v3.Aggregation.Aligner
Reducer = monitoring_v3.Aggregation.Reducer

BY_SERVICE = ("resource.labels.service_name",)
BY_REVISION = ("resource.labels.revision_name",)


class Kind(StrEnum):
    """How a query's series turn into points."""

    VALUE = "value"  # one DOUBLE/INT64 per group and step
    REQUESTS = "requests"  # request_count by revision and response code
    INSTANCES = "instances"  # instance_count by revision and state
    STARTUPS = "startups"  # startup_latencies distributions by revision
    PREDICTIONS = "predictions"  # the prediction-score distribution by revision and model version


class Rollup(StrEnum):
    """How per-revision values give the service's value (NONE: the service has its own query)."""

    NONE = "none"
    SUM = "sum"
    MAX = "max"


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    key: str
    metric_type: str
    aligner: int
    reducer: int
    group_by: tuple[str, ...]
    kind: Kind = Kind.VALUE
    metric: str = ""  # the Metric a VALUE query yields
    rollup: Rollup = Rollup.NONE
    on_run_resource: bool = True  # a cloud_run_revision metric, filtered by resource labels


def _latency(q: int, reducer: int, group_by: tuple[str, ...], metric: str, level: str) -> SeriesQuery:
    return SeriesQuery(f"latency_p{q}_{level}", RUN_PREFIX + "request_latencies", Aligner.ALIGN_DELTA, reducer,
                       group_by, metric=metric)


_PERCENTILES = ((50, Reducer.REDUCE_PERCENTILE_50, M.LATENCY_P50), (95, Reducer.REDUCE_PERCENTILE_95, M.LATENCY_P95),
                (99, Reducer.REDUCE_PERCENTILE_99, M.LATENCY_P99))

QUERIES: tuple[SeriesQuery, ...] = (
    *(_latency(q, r, BY_SERVICE, m, "service") for q, r, m in _PERCENTILES),
    *(_latency(q, r, BY_REVISION, m, "revision") for q, r, m in _PERCENTILES),
    SeriesQuery("requests", RUN_PREFIX + "request_count", Aligner.ALIGN_DELTA, Reducer.REDUCE_SUM,
                (*BY_REVISION, "metric.labels.response_code_class", "metric.labels.response_code"),
                kind=Kind.REQUESTS),
    SeriesQuery("startups", RUN_PREFIX + "container/startup_latencies", Aligner.ALIGN_DELTA, Reducer.REDUCE_SUM,
                BY_REVISION, kind=Kind.STARTUPS),
    SeriesQuery("instances", RUN_PREFIX + "container/instance_count", Aligner.ALIGN_MEAN, Reducer.REDUCE_SUM,
                (*BY_REVISION, "metric.labels.state"), kind=Kind.INSTANCES),
    SeriesQuery("billable_instance_time", RUN_PREFIX + "container/billable_instance_time", Aligner.ALIGN_DELTA,
                Reducer.REDUCE_SUM, BY_REVISION, metric=M.BILLABLE_INSTANCE_TIME, rollup=Rollup.SUM),
    # ALIGN_MAX is rejected on distributions: the per-instance p99 of each series, then the max.
    SeriesQuery("max_concurrency", RUN_PREFIX + "container/max_request_concurrencies", Aligner.ALIGN_PERCENTILE_99,
                Reducer.REDUCE_MAX, BY_REVISION, metric=M.CONCURRENCY_MAX, rollup=Rollup.MAX),
    SeriesQuery("cpu_p95", RUN_PREFIX + "container/cpu/utilizations", Aligner.ALIGN_DELTA,
                Reducer.REDUCE_PERCENTILE_95, BY_REVISION, metric=M.CPU_UTILIZATION_P95, rollup=Rollup.MAX),
    SeriesQuery("memory_p95", RUN_PREFIX + "container/memory/utilizations", Aligner.ALIGN_DELTA,
                Reducer.REDUCE_PERCENTILE_95, BY_REVISION, metric=M.MEMORY_UTILIZATION_P95, rollup=Rollup.MAX),
)


def prediction_query(metric_type: str = PREDICTION_METRIC) -> SeriesQuery:
    return SeriesQuery("predictions", metric_type, Aligner.ALIGN_DELTA, Reducer.REDUCE_SUM,
                       ("metric.labels.revision_name", "metric.labels.model_version"),
                       kind=Kind.PREDICTIONS, on_run_resource=False)


def build_filter(query: SeriesQuery, target: Target) -> str:
    """The monitoring filter of ``query`` for ``target``."""
    if query.on_run_resource:
        return (f'metric.type = "{query.metric_type}" AND resource.type = "cloud_run_revision" '
                f'AND resource.labels.service_name = "{target.service}" '
                f'AND resource.labels.location = "{target.region}"')
    return f'metric.type = "{query.metric_type}" AND metric.labels.service_name = "{target.service}"'


def build_request(query: SeriesQuery, target: Target, window: Window) -> monitoring_v3.ListTimeSeriesRequest:
    """The exact ListTimeSeries request for ``query`` over ``window`` (whole steps)."""
    return monitoring_v3.ListTimeSeriesRequest(
        name=f"projects/{target.project}",
        filter=build_filter(query, target),
        interval=monitoring_v3.TimeInterval(start_time=window.start, end_time=window.end),
        aggregation=monitoring_v3.Aggregation(
            alignment_period=timedelta(seconds=window.step_s),
            per_series_aligner=query.aligner,
            cross_series_reducer=query.reducer,
            group_by_fields=list(query.group_by),
        ),
        view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
    )


@dataclass(frozen=True, slots=True)
class StepDistribution:
    """A DISTRIBUTION value of one group over one step, as the collector keeps it."""

    labels: Mapping[str, str]
    start: datetime
    count: int
    mean: float
    bounds: tuple[float, ...] = ()  # explicit bucket bounds, when the metric has them
    bucket_counts: tuple[int, ...] = ()  # len(bounds) + 1, zero-padded


@dataclass(slots=True)
class QueryResult:
    """What one query produced: points, plus distributions the caller still needs to interpret."""

    points: list[MetricPoint] = field(default_factory=list)
    distributions: list[StepDistribution] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def fetch_series(client: Any, request: monitoring_v3.ListTimeSeriesRequest, *, retry: gretry.Retry,
                 timeout_s: float) -> list[monitoring_v3.TimeSeries]:
    """All pages of one ListTimeSeries call, errors translated."""
    try:
        return list(client.list_time_series(request=request, retry=retry, timeout=timeout_s))
    except GOOGLE_ERRORS as exc:
        raise translate_error(exc, action=f"ListTimeSeries {request.filter.split(' AND ')[0]}",
                              permission=PERMISSION) from exc


def probe_monitoring(client: Any, target: Target, now: datetime, *, retry: gretry.Retry,
                     timeout_s: float = 10.0) -> None:
    """One ListTimeSeries page (page_size 1, last 5 minutes): does the API answer, is reading allowed."""
    end = now.replace(second=0, microsecond=0)
    query = next(q for q in QUERIES if q.kind is Kind.REQUESTS)
    request = build_request(query, target, Window(end - timedelta(minutes=5), end, 60))
    request.page_size = 1
    try:
        client.list_time_series(request=request, retry=retry, timeout=timeout_s)  # the first page only
    except GOOGLE_ERRORS as exc:
        raise translate_error(exc, action="ListTimeSeries probe", permission=PERMISSION) from exc


# The readers below work on the raw protobuf messages: going through proto-plus wrappers for every
# point cost 75% of a collection's time (bench/gcp_calls.py).

def _labels(series: Any) -> dict[str, str]:
    return {**dict(series.resource.labels), **{f"metric.{k}": v for k, v in series.metric.labels.items()}}


def _points(series: Any, window: Window) -> Iterator[tuple[datetime, Any]]:
    """(step start, TypedValue) of each point inside the window; a point's step ends at its end_time."""
    first, last = int(window.start.timestamp()), int(window.end.timestamp())
    for point in series.points:
        start_s = point.interval.end_time.seconds - window.step_s
        if first <= start_s < last:
            yield datetime.fromtimestamp(start_s, tz=UTC), point.value


def _number(value: Any) -> float | None:
    kind = value.WhichOneof("value")
    if kind == "double_value":
        number = float(value.double_value)
    elif kind == "int64_value":
        number = float(value.int64_value)
    else:
        return None
    return number if math.isfinite(number) else None


def _distribution(labels: Mapping[str, str], start: datetime, value: Any) -> StepDistribution | None:
    if value.WhichOneof("value") != "distribution_value":
        return None
    dist = value.distribution_value
    bounds = tuple(float(b) for b in dist.bucket_options.explicit_buckets.bounds)
    counts = [int(c) for c in dist.bucket_counts]
    if bounds:
        counts = (counts + [0] * (len(bounds) + 1))[:len(bounds) + 1]
    mean = float(dist.mean) if math.isfinite(dist.mean) else 0.0
    return StepDistribution(dict(labels), start, int(dist.count), mean, bounds, tuple(counts))


def read_query(query: SeriesQuery, series: Sequence[monitoring_v3.TimeSeries], target: Target,
               window: Window) -> QueryResult:
    """Turn one query's series into points (and distributions, for STARTUPS and PREDICTIONS)."""
    out = QueryResult()
    step = window.step_s
    service_id = target.service_id
    per_revision: dict[tuple[str, datetime], float] = {}
    sums: dict[tuple[str, str, datetime], float] = defaultdict(float)
    for wrapped in series:
        ts = monitoring_v3.TimeSeries.pb(wrapped)
        labels = _labels(ts)
        revision = labels.get("revision_name") or labels.get("metric.revision_name", "")
        for start, value in _points(ts, window):
            if query.kind in (Kind.STARTUPS, Kind.PREDICTIONS):
                dist = _distribution(labels, start, value)
                if dist is None:
                    out.warnings.append(f"{query.key}: expected a distribution value")
                else:
                    out.distributions.append(dist)
                continue
            number = _number(value)
            if number is None:
                out.warnings.append(f"{query.key}: skipped a non-numeric or non-finite value at {start.isoformat()}")
                continue
            if query.kind is Kind.VALUE:
                if query.group_by == BY_SERVICE:
                    out.points.append(MetricPoint(service_id, query.metric, start, step, number))
                elif revision:
                    per_revision[(revision, start)] = number
            elif query.kind is Kind.REQUESTS:
                for metric in _request_metrics(labels):
                    sums[(revision, metric, start)] += number
            elif query.kind is Kind.INSTANCES:
                state = labels.get("metric.state", "")
                metric = M.INSTANCES_IDLE if state == "idle" else M.INSTANCES_ACTIVE
                sums[(revision, metric, start)] += number
    for (revision, start), number in per_revision.items():
        sums[(revision, query.metric, start)] = number
    out.points += _with_service_rollup(sums, target, step, query)
    return out


def _request_metrics(labels: Mapping[str, str]) -> list[str]:
    """Which counters one request_count series adds to: all, and 5xx / 429 (overload) / other 4xx."""
    code_class = labels.get("metric.response_code_class", "")
    code = labels.get("metric.response_code", "")
    metrics: list[str] = [M.INVOCATIONS]
    if code_class == "5xx":
        metrics.append(M.SERVER_ERRORS)
    elif code == "429":
        metrics.append(M.THROTTLES)  # no instance could take the request
    elif code_class == "4xx":
        metrics.append(M.CLIENT_ERRORS)
    return metrics


def _with_service_rollup(sums: Mapping[tuple[str, str, datetime], float], target: Target, step: int,
                         query: SeriesQuery) -> list[MetricPoint]:
    points: list[MetricPoint] = []
    service: dict[tuple[str, datetime], float] = {}
    combine_max = query.rollup is Rollup.MAX
    ids: dict[str, str] = {}
    for (revision, metric, start), value in sorted(sums.items()):
        if revision:
            dep = ids.get(revision) or ids.setdefault(revision, target.revision_id(revision))
            points.append(MetricPoint(dep, metric, start, step, value))
        key = (metric, start)
        if key in service:
            service[key] = max(service[key], value) if combine_max else service[key] + value
        else:
            service[key] = value
    if query.kind is not Kind.VALUE or query.rollup is not Rollup.NONE:
        service_id = target.service_id
        points += [MetricPoint(service_id, metric, start, step, value)
                   for (metric, start), value in sorted(service.items())]
    return points


def startup_points(dists: Sequence[StepDistribution], target: Target, step: int) -> list[MetricPoint]:
    """Cold starts per revision and service: the count of container starts and their mean/sum time."""
    per: dict[tuple[str, datetime], tuple[int, float]] = defaultdict(lambda: (0, 0.0))
    for d in dists:
        revision = d.labels.get("revision_name", "")
        keys = [(target.service_id, d.start)] + ([(target.revision_id(revision), d.start)] if revision else [])
        for key in keys:
            count, total = per[key]
            per[key] = (count + d.count, total + d.count * d.mean)
    points: list[MetricPoint] = []
    for (dep, start), (count, total_ms) in sorted(per.items()):
        points.append(MetricPoint(dep, M.COLD_STARTS, start, step, float(count)))
        if count:
            points += [MetricPoint(dep, M.INIT_SUM, start, step, total_ms),
                       MetricPoint(dep, M.INIT_AVG, start, step, total_ms / count)]
    return points
