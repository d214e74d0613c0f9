"""An in-process Google Cloud stand-in: grpcio servers on 127.0.0.1 speaking
google.monitoring.v3.MetricService/ListTimeSeries, google.cloud.run.v2.Services/GetService +
Revisions/GetRevision and google.logging.v2.LoggingServiceV2/ListLogEntries with the real request/response
message classes, so the real clients talk the real protocol (research/proofs/gcp_monitoring_grpc_proof.py).

ListLogEntries evaluates the terms of the Logging query language the collector sends (``a="b"`` on
``resource.type``, ``resource.labels.*`` and ``jsonPayload.*``, ``timestamp>=`` / ``timestamp<``, joined by
AND), refuses any other term (INVALID_ARGUMENT, as Cloud Logging does for a filter it cannot parse), and
pages by ``page_size``.

Canned series are keyed on the request's metric type, aligner, reducer and group-by; points are
served only when their end time lies in the request interval (start, end], like Cloud Monitoring.
Every RPC is recorded (method, request), and faults can be queued per method.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from google.api import distribution_pb2, metric_pb2, monitored_resource_pb2
from google.cloud import monitoring_v3, run_v2
from google.cloud.logging_v2.types import ListLogEntriesRequest, ListLogEntriesResponse, LogEntry
from google.protobuf import struct_pb2

from collectors.base import CollectorContext
from collectors.gcp import GcpCollector
from collectors.gcp_client import Target, connect, default_retry

LIST_TIME_SERIES = "/google.monitoring.v3.MetricService/ListTimeSeries"
GET_SERVICE = "/google.cloud.run.v2.Services/GetService"
GET_REVISION = "/google.cloud.run.v2.Revisions/GetRevision"
LIST_LOG_ENTRIES = "/google.logging.v2.LoggingServiceV2/ListLogEntries"
_TERM = re.compile(r'^(resource\.type|resource\.labels\.\w+|jsonPayload\.\w+|timestamp)\s*(=|>=|<)\s*"([^"]*)"$')

SeriesKey = tuple[str, int, int, tuple[str, ...]]


def series_key(request: monitoring_v3.ListTimeSeriesRequest) -> SeriesKey:
    metric_type = request.filter.split('"')[1]
    agg = request.aggregation
    return (metric_type, int(agg.per_series_aligner), int(agg.cross_series_reducer), tuple(agg.group_by_fields))


def _label_filters(text: str) -> dict[str, str]:
    """``{label: value}`` of the filter's ``resource.labels.X = "v"`` / ``metric.labels.X = "v"`` terms."""
    return {m.group(1): m.group(2) for m in re.finditer(r'(?:resource|metric)\.labels\.(\w+) = "([^"]*)"', text)}


@dataclass
class Call:
    method: str
    request: Any
    metadata: Mapping[str, str]


class GcpStandIn:
    """State and behaviour of the fake Google Cloud; ``address`` once started."""

    def __init__(self, page_size: int = 2) -> None:
        self.page_size = page_size  # series per ListTimeSeries page when the request sets none
        self.series: dict[SeriesKey, list[monitoring_v3.TimeSeries]] = defaultdict(list)
        self.services: dict[str, run_v2.Service] = {}
        self.revisions: dict[str, run_v2.Revision] = {}
        self.entries: list[LogEntry] = []
        self.log_page_cap = 1000  # ListLogEntries answers at most this many entries a page, whatever is asked
        self.faults: dict[str, deque[tuple[grpc.StatusCode, str]]] = defaultdict(deque)
        self.denied: set[str] = set()
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self.address = ""

    # --- seeding -------------------------------------------------------------------------------
    def add_series(self, key: SeriesKey, series: monitoring_v3.TimeSeries) -> None:
        self.series[key].append(series)

    def fail(self, method: str, *codes: grpc.StatusCode, message: str = "") -> None:
        """The next calls of ``method`` abort with these codes, in order."""
        self.faults[method].extend((code, message or f"injected {code.name} (stand-in)") for code in codes)

    def calls_of(self, method: str) -> list[Any]:
        return [c.request for c in self.calls if c.method == method]

    # --- handlers ------------------------------------------------------------------------------
    def _enter(self, method: str, request: Any, context: grpc.ServicerContext) -> None:
        with self._lock:
            self.calls.append(Call(method, request, dict(context.invocation_metadata())))
            fault = self.faults[method].popleft() if self.faults[method] else None
        if method in self.denied:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"Permission denied on {method} (stand-in)")
        if fault is not None:
            context.abort(*fault)

    def list_time_series(self, request: monitoring_v3.ListTimeSeriesRequest,
                         context: grpc.ServicerContext) -> monitoring_v3.ListTimeSeriesResponse:
        self._enter(LIST_TIME_SERIES, request, context)
        start, end = request.interval.start_time, request.interval.end_time
        matching = []
        wanted = _label_filters(request.filter)
        for ts in self.series.get(series_key(request), []):
            pb = monitoring_v3.TimeSeries.pb(ts)
            labels = {**dict(pb.metric.labels), **dict(pb.resource.labels)}
            if any(labels.get(k, v) != v for k, v in wanted.items()):  # a label the reduction dropped matches
                continue
            kept = [p for p in pb.points if start < p.interval.end_time.ToDatetime(tzinfo=start.tzinfo) <= end]
            if kept:
                copy = type(pb)()
                copy.CopyFrom(pb)
                del copy.points[:]
                copy.points.extend(kept)
                matching.append(monitoring_v3.TimeSeries.wrap(copy))
        size = request.page_size or self.page_size
        offset = int(request.page_token or 0)
        page = matching[offset:offset + size]
        token = str(offset + size) if offset + size < len(matching) else ""
        return monitoring_v3.ListTimeSeriesResponse(time_series=page, next_page_token=token)

    def get_service(self, request: run_v2.GetServiceRequest, context: grpc.ServicerContext) -> run_v2.Service:
        self._enter(GET_SERVICE, request, context)
        if request.name not in self.services:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Resource '{request.name}' was not found")
        return self.services[request.name]

    def get_revision(self, request: run_v2.GetRevisionRequest, context: grpc.ServicerContext) -> run_v2.Revision:
        self._enter(GET_REVISION, request, context)
        if request.name not in self.revisions:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Resource '{request.name}' was not found")
        return self.revisions[request.name]

    def add_entry(self, when: datetime, revision: str, payload: Mapping[str, Any], *, service: str,
                  region: str) -> None:
        """A structured entry of a Cloud Run revision (what stdout JSON with ``severity`` becomes)."""
        entry = LogEntry()
        pb = LogEntry.pb(entry)
        pb.log_name = f"projects/{PROJECT}/logs/run.googleapis.com%2Fstdout"
        pb.resource.type = "cloud_run_revision"
        pb.resource.labels.update({"service_name": service, "revision_name": revision, "location": region,
                                   "project_id": PROJECT, "configuration_name": service})
        pb.json_payload.CopyFrom(_struct(payload))
        pb.timestamp.FromDatetime(when)
        self.entries.append(entry)

    def list_log_entries(self, request: ListLogEntriesRequest,
                         context: grpc.ServicerContext) -> ListLogEntriesResponse:
        self._enter(LIST_LOG_ENTRIES, request, context)
        terms = [t.strip() for t in request.filter.split(" AND ")]
        parsed = [_TERM.match(t) for t in terms]
        if not all(parsed):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported filter: {request.filter}")
        matching = [e for e in sorted(self.entries, key=lambda e: LogEntry.pb(e).timestamp.ToDatetime())
                    if all(_entry_matches(LogEntry.pb(e), m.group(1), m.group(2), m.group(3))
                           for m in parsed if m is not None)]
        size = min(request.page_size or 50, self.log_page_cap)
        offset = int(request.page_token or 0)
        token = str(offset + size) if offset + size < len(matching) else ""
        return ListLogEntriesResponse(entries=matching[offset:offset + size], next_page_token=token)

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        def unary(fn: Any, req: Any, resp: Any) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=req.deserialize,
                                                       response_serializer=resp.serialize)

        return [
            grpc.method_handlers_generic_handler("google.monitoring.v3.MetricService", {
                "ListTimeSeries": unary(self.list_time_series, monitoring_v3.ListTimeSeriesRequest,
                                        monitoring_v3.ListTimeSeriesResponse)}),
            grpc.method_handlers_generic_handler("google.cloud.run.v2.Services", {
                "GetService": unary(self.get_service, run_v2.GetServiceRequest, run_v2.Service)}),
            grpc.method_handlers_generic_handler("google.cloud.run.v2.Revisions", {
                "GetRevision": unary(self.get_revision, run_v2.GetRevisionRequest, run_v2.Revision)}),
            grpc.method_handlers_generic_handler("google.logging.v2.LoggingServiceV2", {
                "ListLogEntries": unary(self.list_log_entries, ListLogEntriesRequest, ListLogEntriesResponse)}),
        ]


def _struct(payload: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(dict(payload))  # numbers become doubles, as in Cloud Logging
    return out


def _entry_matches(pb: Any, field: str, op: str, value: str) -> bool:
    if field == "timestamp":
        when = pb.timestamp.ToDatetime(tzinfo=UTC)
        bound = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return when >= bound if op == ">=" else when < bound
    if field == "resource.type":
        have: Any = pb.resource.type
    elif field.startswith("resource.labels."):
        have = pb.resource.labels.get(field.split(".", 2)[2])
    else:
        have = pb.json_payload.fields[field.split(".", 1)[1]].string_value if pb.HasField("json_payload") else None
    return op == "=" and have == value


@contextmanager
def running(standin: GcpStandIn) -> Iterator[GcpStandIn]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(standin.handlers())
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    standin.address = f"127.0.0.1:{port}"
    try:
        yield standin
    finally:
        server.stop(0).wait()


# --- builders of realistic answers ---------------------------------------------------------------

def _series(metric_type: str, labels: Mapping[str, str], metric_labels: Mapping[str, str], *,
            kind: int, value_type: int, resource_type: str = "cloud_run_revision") -> monitoring_v3.TimeSeries:
    ts = monitoring_v3.TimeSeries()
    pb = monitoring_v3.TimeSeries.pb(ts)
    pb.metric.CopyFrom(metric_pb2.Metric(type=metric_type, labels=dict(metric_labels)))
    pb.resource.CopyFrom(monitored_resource_pb2.MonitoredResource(type=resource_type, labels=dict(labels)))
    pb.metric_kind = kind
    pb.value_type = value_type
    return ts


def number_series(metric_type: str, labels: Mapping[str, str], points: Sequence[tuple[datetime, float]], *,
                  metric_labels: Mapping[str, str] | None = None, step_s: int = 60,
                  integer: bool = False) -> monitoring_v3.TimeSeries:
    """An aligned DOUBLE (or INT64) series; each point (step start, value) ends at start + step."""
    desc = metric_pb2.MetricDescriptor
    ts = _series(metric_type, labels, metric_labels or {}, kind=desc.GAUGE,
                 value_type=desc.INT64 if integer else desc.DOUBLE)
    pb = monitoring_v3.TimeSeries.pb(ts)
    for start, value in sorted(points, reverse=True):  # Cloud Monitoring returns newest first
        point = pb.points.add()
        point.interval.start_time.FromDatetime(start)
        point.interval.end_time.FromDatetime(start + timedelta(seconds=step_s))
        if integer:
            point.value.int64_value = int(value)
        else:
            point.value.double_value = value
    return ts


def distribution_series(metric_type: str, labels: Mapping[str, str],
                        points: Sequence[tuple[datetime, int, float, Sequence[int]]], *,
                        bounds: Sequence[float] = (), metric_labels: Mapping[str, str] | None = None,
                        resource_type: str = "cloud_run_revision", step_s: int = 60) -> monitoring_v3.TimeSeries:
    """A DELTA DISTRIBUTION series of (step start, count, mean, bucket counts) points; explicit
    bounds when given, else Cloud Run's exponential buckets."""
    desc = metric_pb2.MetricDescriptor
    ts = _series(metric_type, labels, metric_labels or {}, kind=desc.DELTA, value_type=desc.DISTRIBUTION,
                 resource_type=resource_type)
    pb = monitoring_v3.TimeSeries.pb(ts)
    for start, count, mean, buckets in sorted(points, reverse=True):
        point = pb.points.add()
        point.interval.start_time.FromDatetime(start)
        point.interval.end_time.FromDatetime(start + timedelta(seconds=step_s))
        dist = distribution_pb2.Distribution(count=count, mean=mean)
        if bounds:
            dist.bucket_options.explicit_buckets.bounds.extend(bounds)
        else:
            dist.bucket_options.exponential_buckets.num_finite_buckets = 10
            dist.bucket_options.exponential_buckets.growth_factor = 2.0
            dist.bucket_options.exponential_buckets.scale = 1.0
        dist.bucket_counts.extend(buckets)
        point.value.distribution_value.CopyFrom(dist)
    return ts


# --- a demo Cloud Run service and the numbers the collector should read -----------------------

PROJECT, REGION, SERVICE = "demo-project", "europe-west1", "scorer"
REV_A, REV_B = "scorer-00002-abc", "scorer-00003-xyz"
TARGET = Target(PROJECT, REGION, SERVICE)
SERVICE_PATH = f"projects/{PROJECT}/locations/{REGION}/services/{SERVICE}"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10, seconds=5)  # window [T0, T0 + 10 min) on a first run
STEP = 60
FAST_RETRY = default_retry(initial_s=0.01, maximum_s=0.02, deadline_s=1.0)

A = monitoring_v3.Aggregation.Aligner
R = monitoring_v3.Aggregation.Reducer
RUN = "run.googleapis.com/"
BY_SERVICE = ("resource.labels.service_name",)
BY_REVISION = ("resource.labels.revision_name",)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def container(cpu: str, memory: str, *, cpu_idle: bool, version: str) -> run_v2.Container:
    return run_v2.Container(
        image="europe-docker.pkg.dev/demo/scorer:1",
        resources=run_v2.ResourceRequirements(limits={"cpu": cpu, "memory": memory}, cpu_idle=cpu_idle),
        env=[run_v2.EnvVar(name="INFERWATCH_MODEL_VERSION", value=version)],
    )


def demo_service() -> run_v2.Service:
    latest = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
    pinned = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
    return run_v2.Service(
        name=SERVICE_PATH,
        template=run_v2.RevisionTemplate(
            scaling=run_v2.RevisionScaling(min_instance_count=1, max_instance_count=20),
            max_instance_request_concurrency=8, timeout=timedelta(seconds=30),
            containers=[container("2", "1Gi", cpu_idle=True, version="v2")]),
        scaling=run_v2.ServiceScaling(min_instance_count=2),
        latest_ready_revision=f"{SERVICE_PATH}/revisions/{REV_B}",
        traffic_statuses=[
            run_v2.TrafficTargetStatus(type_=pinned, revision=REV_A, percent=90),
            run_v2.TrafficTargetStatus(type_=latest, percent=10, tag="canary"),
        ],
    )


def demo_revisions() -> list[run_v2.Revision]:
    return [
        run_v2.Revision(name=f"{SERVICE_PATH}/revisions/{REV_A}", service=SERVICE_PATH,
                        scaling=run_v2.RevisionScaling(min_instance_count=1, max_instance_count=10),
                        max_instance_request_concurrency=4, timeout=timedelta(seconds=15),
                        containers=[container("1", "512Mi", cpu_idle=False, version="v1")]),
        run_v2.Revision(name=f"{SERVICE_PATH}/revisions/{REV_B}", service=SERVICE_PATH,
                        scaling=run_v2.RevisionScaling(max_instance_count=5),
                        max_instance_request_concurrency=8, timeout=timedelta(seconds=30),
                        containers=[container("1000m", "2G", cpu_idle=True, version="v2")]),
    ]


def svc_labels() -> dict[str, str]:
    return {"project_id": PROJECT, "service_name": SERVICE}


def rev_labels(revision: str) -> dict[str, str]:
    return {"project_id": PROJECT, "revision_name": revision}


def seed(standin: GcpStandIn) -> None:
    """Three minutes of traffic: minutes 1 and 2 on both revisions, minute 3 on A only."""
    standin.services[SERVICE_PATH] = demo_service()
    for revision in demo_revisions():
        standin.revisions[revision.name] = revision
    lat = RUN + "request_latencies"
    for q, reducer in ((50, R.REDUCE_PERCENTILE_50), (95, R.REDUCE_PERCENTILE_95), (99, R.REDUCE_PERCENTILE_99)):
        standin.add_series((lat, A.ALIGN_DELTA, reducer, BY_SERVICE),
                           number_series(lat, svc_labels(), [(at(1), q * 1.0), (at(2), q + 0.5)]))
        standin.add_series((lat, A.ALIGN_DELTA, reducer, BY_REVISION),
                           number_series(lat, rev_labels(REV_A), [(at(1), q * 2.0)]))
        standin.add_series((lat, A.ALIGN_DELTA, reducer, BY_REVISION),
                           number_series(lat, rev_labels(REV_B), [(at(1), q * 3.0)]))
    req = RUN + "request_count"
    by_code = (*BY_REVISION, "metric.labels.response_code_class", "metric.labels.response_code")
    for rev, code, cls, points in (
        (REV_A, "200", "2xx", [(at(1), 90), (at(2), 80), (at(3), 10)]),
        (REV_A, "400", "4xx", [(at(1), 3)]),
        (REV_A, "429", "4xx", [(at(1), 2)]),
        (REV_A, "503", "5xx", [(at(2), 1)]),
        (REV_B, "200", "2xx", [(at(1), 9), (at(2), 10)]),
        (REV_B, "500", "5xx", [(at(1), 1)]),
    ):
        standin.add_series((req, A.ALIGN_DELTA, R.REDUCE_SUM, by_code), number_series(
            req, rev_labels(rev), points, integer=True,
            metric_labels={"response_code": code, "response_code_class": cls}))
    start = RUN + "container/startup_latencies"
    standin.add_series((start, A.ALIGN_DELTA, R.REDUCE_SUM, BY_REVISION), distribution_series(
        start, rev_labels(REV_A), [(at(1), 2, 1500.0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0])]))
    standin.add_series((start, A.ALIGN_DELTA, R.REDUCE_SUM, BY_REVISION), distribution_series(
        start, rev_labels(REV_B), [(at(1), 1, 3000.0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])]))
    inst = RUN + "container/instance_count"
    for rev, state, value in ((REV_A, "active", 2.5), (REV_A, "idle", 1.0), (REV_B, "active", 1.0)):
        standin.add_series((inst, A.ALIGN_MEAN, R.REDUCE_SUM, (*BY_REVISION, "metric.labels.state")),
                           number_series(inst, rev_labels(rev), [(at(1), value)], metric_labels={"state": state}))
    bill = RUN + "container/billable_instance_time"
    for rev, value in ((REV_A, 150.0), (REV_B, 45.5)):
        standin.add_series((bill, A.ALIGN_DELTA, R.REDUCE_SUM, BY_REVISION),
                           number_series(bill, rev_labels(rev), [(at(1), value)]))
    conc = RUN + "container/max_request_concurrencies"
    for rev, value in ((REV_A, 3.0), (REV_B, 6.0)):
        standin.add_series((conc, A.ALIGN_PERCENTILE_99, R.REDUCE_MAX, BY_REVISION),
                           number_series(conc, rev_labels(rev), [(at(1), value)]))
    for metric, values in (("cpu", (0.42, 0.61)), ("memory", (0.30, 0.25))):
        mt = RUN + f"container/{metric}/utilizations"
        for rev, value in zip((REV_A, REV_B), values, strict=True):
            standin.add_series((mt, A.ALIGN_DELTA, R.REDUCE_PERCENTILE_95, BY_REVISION),
                               number_series(mt, rev_labels(rev), [(at(1), value)]))


def make_collector(standin: GcpStandIn, **kwargs: object) -> GcpCollector:
    ctx = CollectorContext(home=Path("/nonexistent"), endpoints={"gcp": standin.address})
    options: dict[str, object] = {"step_s": STEP, "lateness_s": 120, "lookback_s": 600, "retry": FAST_RETRY,
                                  "timeout_s": 5.0}
    options.update(kwargs)
    return GcpCollector(TARGET, lambda: connect(ctx), **options)  # type: ignore[arg-type]
