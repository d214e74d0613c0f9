"""GcpCollector with the real Google clients against the in-process gRPC stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from google.api_core import exceptions as gexc
from google.cloud import monitoring_v3

from collectors.base import plan_window
from collectors.errors import (
    ProviderAuthError,
    ProviderDataError,
    ProviderThrottledError,
    ProviderUnavailableError,
)
from collectors.runner import run_one
from inferwatch.schema import CollectionBatch, MetricPoint
from inferwatch.schema import Metric as M
from inferwatch.store import Store
from tests.collectors.gcp_standin import (
    GET_REVISION,
    GET_SERVICE,
    LIST_TIME_SERIES,
    NOW,
    PROJECT,
    REV_A,
    REV_B,
    SERVICE_PATH,
    STEP,
    T0,
    TARGET,
    GcpStandIn,
    at,
    make_collector,
    running,
    seed,
)

A = monitoring_v3.Aggregation.Aligner
R = monitoring_v3.Aggregation.Reducer
SVC = "gcp:europe-west1:scorer"
DEP_A = f"gcp:europe-west1:scorer:{REV_A}"
DEP_B = f"gcp:europe-west1:scorer:{REV_B}"


@pytest.fixture
def standin() -> Iterator[GcpStandIn]:
    with running(GcpStandIn()) as s:
        seed(s)
        yield s


def values(batch: CollectionBatch) -> dict[tuple[str, str, int], float]:
    """(deployment, metric, minute after T0) -> value."""
    return {(p.deployment, p.metric, int((p.start - T0).total_seconds() // 60)): p.value for p in batch.points}


def run_filter(metric: str) -> str:
    return (f'metric.type = "run.googleapis.com/{metric}" AND resource.type = "cloud_run_revision" '
            'AND resource.labels.service_name = "scorer" AND resource.labels.location = "europe-west1"')


EXPECTED_QUERIES = [
    (run_filter("request_latencies"), A.ALIGN_DELTA, R.REDUCE_PERCENTILE_50, ["resource.labels.service_name"]),
    (run_filter("request_latencies"), A.ALIGN_DELTA, R.REDUCE_PERCENTILE_95, ["resource.labels.service_name"]),
    (run_filter("request_latencies"), A.ALIGN_DELTA, R.REDUCE_PERCENTILE_99, ["resource.labels.service_name"]),
    (run_filter("request_latencies"), A.ALIGN_DELTA, R.REDUCE_PERCENTILE_50, ["resource.labels.revision_name"]),
    (run_filter("request_latencies"), A.ALIGN_DELTA, R.REDUCE_PERCENTILE_95, ["resource.labels.revision_name"]),
    (run_filter("request_latencies"), A.ALIGN_DELTA, R.REDUCE_PERCENTILE_99, ["resource.labels.revision_name"]),
    (run_filter("request_count"), A.ALIGN_DELTA, R.REDUCE_SUM,
     ["resource.labels.revision_name", "metric.labels.response_code_class", "metric.labels.response_code"]),
    (run_filter("container/startup_latencies"), A.ALIGN_DELTA, R.REDUCE_SUM, ["resource.labels.revision_name"]),
    (run_filter("container/instance_count"), A.ALIGN_MEAN, R.REDUCE_SUM,
     ["resource.labels.revision_name", "metric.labels.state"]),
    (run_filter("container/billable_instance_time"), A.ALIGN_DELTA, R.REDUCE_SUM, ["resource.labels.revision_name"]),
    (run_filter("container/max_request_concurrencies"), A.ALIGN_PERCENTILE_99, R.REDUCE_MAX,
     ["resource.labels.revision_name"]),
    (run_filter("container/cpu/utilizations"), A.ALIGN_DELTA, R.REDUCE_PERCENTILE_95,
     ["resource.labels.revision_name"]),
    (run_filter("container/memory/utilizations"), A.ALIGN_DELTA, R.REDUCE_PERCENTILE_95,
     ["resource.labels.revision_name"]),
    ('metric.type = "custom.googleapis.com/inferwatch/prediction_score" AND metric.labels.service_name = "scorer"',
     A.ALIGN_DELTA, R.REDUCE_SUM, ["metric.labels.revision_name", "metric.labels.model_version"]),
]


def test_sends_exactly_the_expected_requests(standin: GcpStandIn) -> None:
    make_collector(standin).collect(NOW, None)
    requests = standin.calls_of(LIST_TIME_SERIES)
    first_pages = [r for r in requests if not r.page_token]
    sent = [(r.filter, r.aggregation.per_series_aligner, r.aggregation.cross_series_reducer,
             list(r.aggregation.group_by_fields)) for r in first_pages]
    assert sent == EXPECTED_QUERIES
    for r in first_pages:
        assert r.name == f"projects/{PROJECT}"
        assert r.aggregation.alignment_period == timedelta(seconds=60)
        assert r.interval.start_time == T0 and r.interval.end_time == T0 + timedelta(minutes=10)
        assert r.view == monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL
    assert [r.name for r in standin.calls_of(GET_SERVICE)] == [SERVICE_PATH]
    assert sorted(r.name for r in standin.calls_of(GET_REVISION)) == [
        f"{SERVICE_PATH}/revisions/{REV_A}", f"{SERVICE_PATH}/revisions/{REV_B}"]
    metadata = [c.metadata for c in standin.calls if c.method == LIST_TIME_SERIES]
    assert all(m.get("x-goog-request-params") == f"name=projects/{PROJECT}" for m in metadata)


def test_latency_percentiles_per_service_and_revision(standin: GcpStandIn) -> None:
    v = values(make_collector(standin).collect(NOW, None))
    assert (v[(SVC, M.LATENCY_P50, 1)], v[(SVC, M.LATENCY_P95, 1)], v[(SVC, M.LATENCY_P99, 1)]) == (50.0, 95.0, 99.0)
    assert v[(SVC, M.LATENCY_P99, 2)] == 99.5
    assert (v[(DEP_A, M.LATENCY_P95, 1)], v[(DEP_B, M.LATENCY_P95, 1)]) == (190.0, 285.0)
    assert (DEP_A, M.LATENCY_P95, 2) not in v  # no requests, no percentile (never NaN)


def test_requests_split_by_response_class(standin: GcpStandIn) -> None:
    v = values(make_collector(standin).collect(NOW, None))
    assert v[(DEP_A, M.INVOCATIONS, 1)] == 95.0
    assert (v[(DEP_A, M.CLIENT_ERRORS, 1)], v[(DEP_A, M.THROTTLES, 1)]) == (3.0, 2.0)
    assert v[(DEP_A, M.SERVER_ERRORS, 2)] == 1.0
    assert v[(DEP_B, M.SERVER_ERRORS, 1)] == 1.0
    assert [v[(SVC, M.INVOCATIONS, m)] for m in range(10)] == [0.0, 105.0, 91.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert v[(SVC, M.SERVER_ERRORS, 1)] == 1.0 and v[(SVC, M.SERVER_ERRORS, 2)] == 1.0


def test_cold_starts_instances_billable_time_and_utilisation(standin: GcpStandIn) -> None:
    v = values(make_collector(standin).collect(NOW, None))
    assert (v[(DEP_A, M.COLD_STARTS, 1)], v[(DEP_A, M.INIT_AVG, 1)]) == (2.0, 1500.0)
    assert (v[(SVC, M.COLD_STARTS, 1)], v[(SVC, M.INIT_SUM, 1)], v[(SVC, M.INIT_AVG, 1)]) == (3.0, 6000.0, 2000.0)
    assert (v[(DEP_A, M.INSTANCES_ACTIVE, 1)], v[(DEP_A, M.INSTANCES_IDLE, 1)]) == (2.5, 1.0)
    assert (v[(SVC, M.INSTANCES_ACTIVE, 1)], v[(SVC, M.INSTANCES_IDLE, 1)]) == (3.5, 1.0)
    assert (v[(DEP_B, M.BILLABLE_INSTANCE_TIME, 1)], v[(SVC, M.BILLABLE_INSTANCE_TIME, 1)]) == (45.5, 195.5)
    assert (v[(DEP_A, M.CONCURRENCY_MAX, 1)], v[(SVC, M.CONCURRENCY_MAX, 1)]) == (3.0, 6.0)
    assert (v[(DEP_B, M.CPU_UTILIZATION_P95, 1)], v[(SVC, M.CPU_UTILIZATION_P95, 1)]) == (0.61, 0.61)
    assert v[(SVC, M.MEMORY_UTILIZATION_P95, 1)] == 0.30
    assert all(p.step_s == STEP for p in make_collector(standin).collect(NOW, None).points)


def test_pages_are_followed(standin: GcpStandIn) -> None:
    standin.page_size = 1  # six request_count series -> six pages
    v = values(make_collector(standin).collect(NOW, None))
    count_calls = [r for r in standin.calls_of(LIST_TIME_SERIES) if "request_count" in r.filter]
    assert [r.page_token for r in count_calls] == ["", "1", "2", "3", "4", "5"]
    assert v[(SVC, M.INVOCATIONS, 1)] == 105.0


def test_resource_exhausted_and_unavailable_are_retried(standin: GcpStandIn) -> None:
    clean = make_collector(standin).collect(NOW, None)
    clean_calls = len(standin.calls_of(LIST_TIME_SERIES))
    standin.calls.clear()
    standin.fail(LIST_TIME_SERIES, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE,
                 grpc.StatusCode.RESOURCE_EXHAUSTED)
    standin.fail(GET_SERVICE, grpc.StatusCode.UNAVAILABLE)
    retried = make_collector(standin).collect(NOW, None)
    assert retried.points == clean.points and retried.deployments == clean.deployments
    assert len(standin.calls_of(LIST_TIME_SERIES)) == clean_calls + 3
    assert len(standin.calls_of(GET_SERVICE)) == 2


def test_persistent_quota_errors_become_throttled_error(standin: GcpStandIn) -> None:
    standin.fail(LIST_TIME_SERIES, *[grpc.StatusCode.RESOURCE_EXHAUSTED] * 500)
    with pytest.raises(ProviderThrottledError) as info:
        make_collector(standin).collect(NOW, None)
    assert info.value.provider == "gcp"
    assert isinstance(info.value.__cause__, gexc.RetryError)
    assert isinstance(info.value.__cause__.cause, gexc.ResourceExhausted)
    assert len(standin.calls_of(LIST_TIME_SERIES)) > 2  # backed off and retried before giving up


def test_other_server_errors_are_not_retried(standin: GcpStandIn) -> None:
    standin.fail(LIST_TIME_SERIES, grpc.StatusCode.INTERNAL)
    with pytest.raises(ProviderUnavailableError) as info:
        make_collector(standin).collect(NOW, None)
    assert isinstance(info.value.__cause__, gexc.InternalServerError)
    assert len(standin.calls_of(LIST_TIME_SERIES)) == 1


def test_permission_denied_names_the_permission(standin: GcpStandIn) -> None:
    standin.denied.add(LIST_TIME_SERIES)
    with pytest.raises(ProviderAuthError) as info:
        make_collector(standin).collect(NOW, None)
    assert info.value.action == "monitoring.timeSeries.list"
    assert isinstance(info.value.__cause__, gexc.PermissionDenied)
    standin.denied = {GET_SERVICE}
    with pytest.raises(ProviderAuthError) as info:
        make_collector(standin).collect(NOW, None)
    assert info.value.action == "run.services.get"


def test_incremental_cursor_and_identical_recollection(standin: GcpStandIn) -> None:
    collector = make_collector(standin)
    first = collector.collect(NOW, None)
    assert first.cursor == {"complete_until": int((T0 + timedelta(minutes=10)).timestamp())}
    again = make_collector(standin).collect(NOW, None)
    assert again == first  # same window, same records
    later = NOW + timedelta(minutes=3)
    standin.calls.clear()
    second = collector.collect(later, first.cursor)
    window = plan_window(later, first.cursor, step_s=STEP, lateness_s=120, lookback_s=600)
    assert (window.start, window.end) == (at(8), at(13))  # re-reads the 2 late minutes
    assert {r.interval.start_time for r in standin.calls_of(LIST_TIME_SERIES)} == {at(8)}
    assert {p.start for p in second.points} == {at(m) for m in range(8, 13)}
    assert second.cursor == {"complete_until": int(at(13).timestamp())}


def test_nothing_new_keeps_the_cursor(standin: GcpStandIn) -> None:
    cursor = {"complete_until": int(at(10).timestamp())}
    batch = make_collector(standin, lateness_s=0).collect(at(10) + timedelta(seconds=30), cursor)
    assert batch.points == () and batch.cursor == cursor
    assert standin.calls_of(LIST_TIME_SERIES) == []
    assert len(batch.deployments) == 3  # configuration is still refreshed


def test_revision_that_left_the_traffic_split_still_gets_a_record(standin: GcpStandIn) -> None:
    from tests.collectors.gcp_standin import number_series, rev_labels

    bill = "run.googleapis.com/container/billable_instance_time"
    standin.add_series((bill, A.ALIGN_DELTA, R.REDUCE_SUM, ("resource.labels.revision_name",)),
                       number_series(bill, rev_labels("scorer-00001-old"), [(at(1), 12.0)]))
    batch = make_collector(standin).collect(NOW, None)
    old = next(d for d in batch.deployments if d.id.endswith("scorer-00001-old"))
    assert (old.traffic_weight, old.labels["serving"], old.service) == (0.0, "false", "scorer")
    assert MetricPoint(old.id, M.BILLABLE_INSTANCE_TIME, at(1), STEP, 12.0) in batch.points


def test_target_ids() -> None:
    assert TARGET.service_id == SVC and TARGET.revision_id(REV_A) == DEP_A


def test_credential_refresh_failure_is_an_auth_error_not_retried(standin: GcpStandIn) -> None:
    standin.fail(GET_SERVICE, grpc.StatusCode.UNAVAILABLE,
                 message="Getting metadata from plugin failed with error: RefreshError('invalid_grant')")
    with pytest.raises(ProviderAuthError) as info:
        make_collector(standin).collect(NOW, None)
    assert info.value.action == "run.services.get"
    assert len(standin.calls_of(GET_SERVICE)) == 1


def test_store_round_trip_is_idempotent(standin: GcpStandIn, tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        first = run_one(store, make_collector(standin), clock=lambda: NOW)
        points = store.count("metric_points")
        again = run_one(store, make_collector(standin), clock=lambda: NOW)
        assert (first.status, again.status) == ("ok", "ok")
        assert store.count("metric_points") == points == first.points_written
        assert store.load_cursor(make_collector(standin).name) == {
            "complete_until": int((T0 + timedelta(minutes=10)).timestamp())}
        assert {d.id for d in store.load_deployments()} == {SVC, DEP_A, DEP_B}
    finally:
        store.dispose()


def test_a_failing_service_is_recorded_as_a_failed_run(standin: GcpStandIn, tmp_path: Path) -> None:
    standin.denied.add(LIST_TIME_SERIES)
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        run = run_one(store, make_collector(standin), clock=lambda: NOW)
        assert run.status == "failed" and run.error is not None
        assert run.error.startswith("ProviderAuthError") and "monitoring.timeSeries.list" in run.error
        assert store.count("metric_points") == 0
    finally:
        store.dispose()


def test_a_rejected_query_is_a_data_error(standin: GcpStandIn) -> None:
    standin.fail(LIST_TIME_SERIES, grpc.StatusCode.INVALID_ARGUMENT, message="Field aggregation.alignmentPeriod")
    with pytest.raises(ProviderDataError, match="alignmentPeriod") as info:
        make_collector(standin).collect(NOW, None)
    assert isinstance(info.value.__cause__, gexc.InvalidArgument)


def test_a_revision_deleted_meanwhile_falls_back_to_the_template(standin: GcpStandIn) -> None:
    del standin.revisions[f"{SERVICE_PATH}/revisions/{REV_B}"]
    batch = make_collector(standin).collect(NOW, None)
    rev_b = next(d for d in batch.deployments if d.id == DEP_B)
    assert (rev_b.traffic_weight, rev_b.memory_mb, rev_b.cpu) == (0.1, 1024, 2.0)  # the service template's
