"""GetMetricData batching, paging, percentiles and percentile ranks against moto (patched in-process)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from collectors.aws_cloudwatch import (
    MAX_QUERIES_PER_CALL,
    CloudWatchReader,
    MetricQuery,
    chunk,
    emf_deployment,
    emf_queries,
    lambda_queries,
    percentile_rank_queries,
    to_points,
    window_steps,
)
from collectors.errors import ProviderAuthError, ProviderThrottledError, ProviderUnavailableError
from inferwatch.config import AwsDeploymentConfig
from inferwatch.schema import Metric
from tests.collectors.aws_standin import PAGING, boto_client, put_values, shared

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def q(i: int, fn: str = "f") -> MetricQuery:
    return MetricQuery("d", f"k{i}", "AWS/Lambda", "Invocations", (("FunctionName", fn),), "Sum")


@given(st.integers(0, 2000), st.integers(1, 500))
def test_chunk_covers_in_order_within_limit(n: int, size: int) -> None:
    queries = [q(i) for i in range(n)]
    parts = chunk(queries, size)
    assert [x for p in parts for x in p] == queries
    assert all(1 <= len(p) <= size for p in parts) and len(parts) == math.ceil(n / size)


def test_chunk_refuses_more_than_aws_allows() -> None:
    with pytest.raises(ValueError, match="1..500"):
        chunk([q(0)], 501)


def test_query_sets() -> None:
    whole = lambda_queries("aws:r:fn", "fn")
    alias = lambda_queries("aws:r:fn:live", "fn", "live", provisioned=True)
    assert {x.stat for x in whole if x.name == "Duration"} == {"p50", "p95", "p99", "Average", "Maximum", "Sum"}
    assert all(x.dimensions == (("FunctionName", "fn"),) for x in whole)
    assert all(x.dimensions == (("FunctionName", "fn"), ("Resource", "fn:live")) for x in alias)
    assert {x.name for x in alias} - {x.name for x in whole} == {
        "ProvisionedConcurrencyUtilization", "ProvisionedConcurrencySpilloverInvocations"}
    assert not any("Provisioned" in x.name for x in lambda_queries("d", "fn", provisioned=True))
    assert {x.name for x in emf_queries("d", "fn")} == {"Rows", "Degraded", "Timeout", "ClientError", "ShadowAgree"}
    pr = percentile_rank_queries("d", "pr:score:v1", (("Deployment", "fn"),), "PredictionScore", [0.25, 0.5])
    assert [x.stat for x in pr] == ["SampleCount", "PR(:0.25)", "PR(:0.5)"]


def test_window_steps() -> None:
    assert window_steps(T0, T0 + timedelta(minutes=3), 60) == [T0 + timedelta(minutes=i) for i in range(3)]
    assert window_steps(T0, T0, 60) == []


def test_percentiles_and_counts_from_moto() -> None:
    moto, door = shared()
    fn = "cw-percentiles"
    put_values(moto.endpoint, "AWS/Lambda", "Duration", {"FunctionName": fn}, T0 + timedelta(seconds=1),
               [float(v) for v in range(1, 101)])
    put_values(moto.endpoint, "AWS/Lambda", "Invocations", {"FunctionName": fn}, T0 + timedelta(seconds=1), [100.0])
    queries = lambda_queries("aws:r:" + fn, fn)
    reader = CloudWatchReader(boto_client("cloudwatch", door.endpoint))
    steps = window_steps(T0, T0 + timedelta(minutes=2), 60)
    points = to_points(queries, reader.fetch(queries, T0, T0 + timedelta(minutes=2), 60), steps, 60)
    got = {(p.metric, p.start): p.value for p in points}
    assert got[(Metric.LATENCY_P50, T0)] == 50 and got[(Metric.LATENCY_P95, T0)] == 95
    assert got[(Metric.LATENCY_P99, T0)] == 99 and got[(Metric.LATENCY_AVG, T0)] == 50.5
    assert got[(Metric.DURATION_SUM, T0)] == 5050 and got[(Metric.INVOCATIONS, T0)] == 100
    later = T0 + timedelta(minutes=1)
    assert got[(Metric.INVOCATIONS, later)] == 0 and got[(Metric.SERVER_ERRORS, later)] == 0  # counts: 0 not missing
    assert (Metric.LATENCY_P99, later) not in got  # a percentile of nothing is missing, never 0 or NaN
    assert reader.calls == 1


def test_more_than_500_queries_take_ceil_n_over_500_calls() -> None:
    moto, door = shared()
    fns = [f"cw-batch-{i}" for i in range(61)]
    for i, fn in enumerate(fns):
        put_values(moto.endpoint, "AWS/Lambda", "Invocations", {"FunctionName": fn}, T0, [float(i)])
    queries = [x for i, fn in enumerate(fns) for x in lambda_queries(f"d{i}", fn)]
    assert len(queries) == 610
    reader = CloudWatchReader(boto_client("cloudwatch", door.endpoint))
    series = reader.fetch(queries, T0, T0 + timedelta(minutes=1), 60)
    assert reader.calls == math.ceil(610 / MAX_QUERIES_PER_CALL) == 2
    invocations = [s.get(T0) for x, s in zip(queries, series, strict=True) if x.key == Metric.INVOCATIONS]
    assert invocations == [float(i) for i in range(61)]  # results land on their own queries across calls


def test_partial_data_pages_are_merged() -> None:
    moto, door = shared()
    fn = "cw-paging"
    for minute in range(5):
        put_values(moto.endpoint, "AWS/Lambda", "Invocations", {"FunctionName": fn},
                   T0 + timedelta(minutes=minute), [float(minute + 1)])
    queries = lambda_queries("d", fn)
    reader = CloudWatchReader(boto_client("cloudwatch", door.endpoint))
    PAGING.page_datapoints = 2
    try:
        series = reader.fetch(queries, T0, T0 + timedelta(minutes=5), 60)
    finally:
        PAGING.page_datapoints = None
    invocations = series[[x.key for x in queries].index(Metric.INVOCATIONS)]
    assert invocations == {T0 + timedelta(minutes=m): float(m + 1) for m in range(5)}
    assert reader.calls == 3  # 5 datapoints in pages of 2


def test_percentile_ranks_bin_the_values() -> None:
    moto, door = shared()
    dims = (("Deployment", "cw-ranks"),)
    put_values(moto.endpoint, "Inferwatch", "PredictionScore", dict(dims), T0, [0.1, 0.2, 0.2, 0.5, 0.9],
               counts=[1, 1, 1, 1, 1])
    queries = percentile_rank_queries("d", "pr:score", dims, "PredictionScore", [0.2, 0.5])
    series = CloudWatchReader(boto_client("cloudwatch", door.endpoint)).fetch(queries, T0, T0 + timedelta(minutes=1),
                                                                              60)
    n, le_02, le_05 = (s[T0] for s in series)
    assert (n, le_02, le_05) == (5, 60.0, 80.0)  # PR is a percentage of values <= edge


@pytest.mark.parametrize(("code", "status", "error"), [
    ("Throttling", 400, ProviderThrottledError),
    ("AccessDenied", 403, ProviderAuthError),
    ("InternalFailure", 500, ProviderUnavailableError),
])
def test_errors_are_translated_with_cause(code: str, status: int, error: type[Exception]) -> None:
    # Stubber: the real client and model; these error shapes are what CloudWatch sends after retries.
    _, door = shared()
    client = boto_client("cloudwatch", door.endpoint)
    with Stubber(client) as stub:
        stub.add_client_error("get_metric_data", service_error_code=code, http_status_code=status)
        with pytest.raises(error) as info:
            CloudWatchReader(client).fetch([q(0)], T0, T0 + timedelta(minutes=1), 60)
    assert isinstance(info.value.__cause__, ClientError)


def test_emf_deployment_follows_the_reference_template_or_a_label() -> None:
    def cfg(function: str, **labels: str) -> AwsDeploymentConfig:
        return AwsDeploymentConfig(provider="aws", region="eu-west-1", function=function, labels=labels)

    assert emf_deployment(cfg("inferwatch-scorer")) == "scorer"  # FunctionName: inferwatch-${DeploymentName}
    assert emf_deployment(cfg("my-fn")) == "my-fn"
    assert emf_deployment(cfg("inferwatch-scorer", inferwatch_deployment="blue")) == "blue"


def test_percentile_rank_statistics_never_use_exponents() -> None:
    from collectors.aws_cloudwatch import percentile_rank_queries

    queries = percentile_rank_queries("d", "h", (("Deployment", "d"),), "PredictionScore", [-1.4e-45, 0.25, 1e21])
    stats = [q.stat for q in queries[1:]]
    assert all("e" not in s.lower() for s in stats), stats
    assert stats[1] == "PR(:0.25)"
