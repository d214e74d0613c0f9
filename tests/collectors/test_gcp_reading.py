"""Properties of turning Cloud Monitoring series into points: exact roll-ups, no NaN, order-free."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from google.cloud import monitoring_v3
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.base import Window
from collectors.gcp_monitoring import QUERIES, Kind, read_query, startup_points
from inferwatch.schema import Metric as M
from tests.collectors.gcp_standin import T0, TARGET, at, distribution_series, number_series, rev_labels

WINDOW = Window(T0, T0 + timedelta(minutes=10), 60)
REQUESTS = next(q for q in QUERIES if q.kind is Kind.REQUESTS)
STARTUPS = next(q for q in QUERIES if q.kind is Kind.STARTUPS)
CONCURRENCY = next(q for q in QUERIES if q.key == "max_concurrency")
CODES = {"200": "2xx", "400": "4xx", "429": "4xx", "500": "5xx", "503": "5xx"}
SVC = TARGET.service_id

cells = st.dictionaries(st.tuples(st.sampled_from(["r-1", "r-2", "r-3"]), st.sampled_from(sorted(CODES)),
                                  st.integers(0, 9)), st.integers(0, 10_000), max_size=40)


def request_series(data: dict[tuple[str, str, int], int], reverse: bool = False) -> list[monitoring_v3.TimeSeries]:
    grouped: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
    for (rev, code, minute), count in data.items():
        grouped.setdefault((rev, code), []).append((at(minute), count))
    keys = sorted(grouped, reverse=reverse)
    return [number_series("run.googleapis.com/request_count", rev_labels(rev), grouped[(rev, code)], integer=True,
                          metric_labels={"response_code": code, "response_code_class": CODES[code]})
            for rev, code in keys]


@settings(max_examples=60, deadline=None)
@given(cells)
def test_request_counts_roll_up_exactly(data: dict[tuple[str, str, int], int]) -> None:
    result = read_query(REQUESTS, request_series(data), TARGET, WINDOW)
    v = {(p.deployment, p.metric, p.start): p.value for p in result.points}
    for minute in range(10):
        total = sum(c for (_, _, m), c in data.items() if m == minute)
        assert v.get((SVC, M.INVOCATIONS, at(minute)), 0.0) == total
        errors = sum(v.get((SVC, m, at(minute)), 0.0) for m in (M.SERVER_ERRORS, M.CLIENT_ERRORS, M.THROTTLES))
        assert errors <= total
    for rev in ("r-1", "r-2", "r-3"):
        total_5xx = sum(c for (r, code, _), c in data.items() if r == rev and CODES[code] == "5xx")
        got = sum(p.value for p in result.points
                  if p.deployment == TARGET.revision_id(rev) and p.metric == M.SERVER_ERRORS)
        assert got == total_5xx
    assert all(math.isfinite(p.value) and p.value >= 0 for p in result.points)
    assert read_query(REQUESTS, request_series(data, reverse=True), TARGET, WINDOW).points == result.points


starts = st.dictionaries(st.sampled_from(["r-1", "r-2", "r-3"]),
                         st.tuples(st.integers(0, 500), st.floats(1.0, 60_000.0)), min_size=1)


@settings(max_examples=60, deadline=None)
@given(starts)
def test_cold_start_means_merge_by_count(data: dict[str, tuple[int, float]]) -> None:
    series = [distribution_series("run.googleapis.com/container/startup_latencies", rev_labels(rev),
                                  [(at(4), count, mean, [count])]) for rev, (count, mean) in data.items()]
    result = read_query(STARTUPS, series, TARGET, WINDOW)
    v = {(p.deployment, p.metric): p.value for p in startup_points(result.distributions, TARGET, 60)}
    total = sum(c for c, _ in data.values())
    assert v[(SVC, M.COLD_STARTS)] == total
    if total == 0:
        assert (SVC, M.INIT_AVG) not in v  # no cold start, no average (never NaN)
        return
    means = [m for c, m in data.values() if c > 0]
    assert min(means) * (1 - 1e-12) <= v[(SVC, M.INIT_AVG)] <= max(means) * (1 + 1e-12)
    assert math.isclose(v[(SVC, M.INIT_SUM)], sum(c * m for c, m in data.values()), rel_tol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1000), st.just(float("nan")), st.just(float("inf"))), min_size=1,
                max_size=10))
def test_non_finite_values_are_skipped_with_a_warning(values: list[float]) -> None:
    series = [number_series("run.googleapis.com/container/max_request_concurrencies", rev_labels("r-1"),
                            [(at(i), value)]) for i, value in enumerate(values)]
    result = read_query(CONCURRENCY, series, TARGET, WINDOW)
    assert all(math.isfinite(p.value) for p in result.points)
    bad = sum(not math.isfinite(x) for x in values)
    assert len(result.warnings) == bad
    assert len(result.points) == 2 * (len(values) - bad)  # revision + service (max) per finite step


def test_points_outside_the_window_are_dropped() -> None:
    series = [number_series("run.googleapis.com/container/max_request_concurrencies", rev_labels("r-1"),
                            [(at(-1), 1.0), (at(0), 2.0), (at(9), 3.0), (at(10), 4.0)])]
    starts_seen = sorted({p.start for p in read_query(CONCURRENCY, series, TARGET, WINDOW).points})
    assert starts_seen == [at(0), at(9)]
