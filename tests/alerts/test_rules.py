"""The checks' numbers: properties over random series (window sums, rates in [0, 1], burn rates
invariant to traffic scale, the min-requests guard) and summaries with the numbers in them."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.rules import (
    Outcome,
    Rule,
    Severity,
    check_burn_rate,
    check_error_rate,
    check_latency_p99,
    check_warm_utilization,
    render_summary,
)
from alerts.series import MetricSeries
from inferwatch.schema import MetricPoint
from tests.alerts.builders import DEP, T0, data_with, deployment, error_rule

NOW_S = int((T0 + timedelta(minutes=60)).timestamp())
counts = st.lists(st.tuples(st.integers(0, 5000), st.floats(0, 1)), min_size=1, max_size=60)


def points(rows: list[tuple[int, float]], scale: int = 1) -> list[MetricPoint]:
    out = []
    for i, (n, share) in enumerate(rows):
        at = T0 + timedelta(minutes=60 - len(rows) + i)
        out += [MetricPoint(DEP.id, "invocations_count", at, 60, float(n * scale)),
                MetricPoint(DEP.id, "server_errors_count", at, 60, float(int(n * share) * scale))]
    return out


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=0, max_size=50), st.integers(0, 60), st.integers(0, 60))
def test_window_sums_match_numpy(values: list[int], a: int, b: int) -> None:
    ts = [1000 + 60 * i for i in range(len(values))]
    s = MetricSeries.of(ts[::-1], [float(v) for v in values[::-1]])  # order-invariant
    start, end = 1000 + 60 * min(a, b), 1000 + 60 * max(a, b)
    t = np.array(ts, dtype=np.int64)
    mask = (t >= start) & (t < end)
    assert s.total(start, end) == float(np.array(values, dtype=float)[mask].sum())
    assert s.count(start, end) == int(mask.sum())


@settings(max_examples=80, deadline=None)
@given(counts)
def test_error_rate_is_a_rate(rows: list[tuple[int, float]]) -> None:
    obs = check_error_rate(error_rule(window_s=3600), DEP, data_with(points(rows)), NOW_S)
    assert obs.outcome in (Outcome.OK, Outcome.BREACH)
    assert obs.value is not None and 0.0 <= obs.value <= 1.0


@settings(max_examples=80, deadline=None)
@given(counts, st.integers(2, 50))
def test_burn_rate_does_not_depend_on_traffic_scale(rows: list[tuple[int, float]], k: int) -> None:
    rule = Rule(name="Burn", kind="burn_rate", severity=Severity.PAGE, summary="s", window_s=3600,
                short_window_s=300, factor=14.4)
    one = check_burn_rate(rule, DEP, data_with(points(rows)), NOW_S)
    many = check_burn_rate(rule, DEP, data_with(points(rows, k)), NOW_S)
    assert one.outcome == many.outcome
    if one.value is not None and many.value is not None:
        assert np.isclose(one.value, many.value) and np.isfinite(one.value)


def test_min_requests_guard_keeps_a_trickle_quiet() -> None:
    rule = Rule(name="Burn", kind="burn_rate", severity=Severity.PAGE, summary="s", window_s=3600,
                short_window_s=300, factor=14.4, min_requests=50)
    all_bad = [(1, 1.0)] * 60
    assert check_burn_rate(rule, DEP, data_with(points(all_bad)), NOW_S).outcome is Outcome.OK
    busy = [(100, 1.0)] * 60
    assert check_burn_rate(rule, DEP, data_with(points(busy)), NOW_S).outcome is Outcome.BREACH


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 1000), st.floats(1, 5000)), min_size=1, max_size=30))
def test_weighted_p99_lies_between_the_steps(rows: list[tuple[int, float]]) -> None:
    pts = []
    for i, (n, p99) in enumerate(rows):
        at = T0 + timedelta(minutes=60 - len(rows) + i)
        pts += [MetricPoint(DEP.id, "invocations_count", at, 60, float(n)),
                MetricPoint(DEP.id, "latency_p99_ms", at, 60, p99)]
    rule = Rule(name="P99", kind="latency_p99", severity=Severity.PAGE, summary="s", window_s=3600)
    obs = check_latency_p99(rule, DEP, data_with(pts), NOW_S)
    values = [p for _, p in rows]
    assert obs.value is not None and min(values) - 1e-6 <= obs.value <= max(values) + 1e-6


def test_latency_threshold_comes_from_rule_then_deployment_then_slo() -> None:
    pts = [MetricPoint(DEP.id, m, T0 + timedelta(minutes=59), 60, v)
           for m, v in (("invocations_count", 100.0), ("latency_p99_ms", 300.0))]
    rule = Rule(name="P99", kind="latency_p99", severity=Severity.PAGE, summary="{value:.0f}>{threshold:.0f}",
                window_s=300)
    slow_slo = deployment("scorer-v1", slo_p99_ms=400.0)
    assert check_latency_p99(rule, slow_slo, data_with(pts, (slow_slo,)), NOW_S).outcome is Outcome.OK
    obs = check_latency_p99(rule, DEP, data_with(pts), NOW_S)  # [slo] default 250 ms
    assert obs.outcome is Outcome.BREACH and render_summary(rule, obs) == "300>250"


def test_warm_capacity_without_capacity_is_never_a_finding() -> None:
    rule = Rule(name="Warm", kind="warm_utilization", severity=Severity.NOTICE, summary="s", window_s=3600)
    assert check_warm_utilization(rule, DEP, data_with([]), NOW_S).outcome is Outcome.OK
    warm = deployment("w", provisioned_concurrency=4)
    assert check_warm_utilization(rule, warm, data_with([], (warm,)), NOW_S).outcome is Outcome.NODATA


def test_drift_summary_names_at_most_five_signals() -> None:
    from alerts.rules import check_drift
    from alerts.series import DriftDecision

    rule = Rule(name="Drift", kind="drift", severity=Severity.TICKET, summary="{signals}", window_s=3600)
    signals = {f"feature:f{i}": "drift" for i in range(8)} | {"score": "warn"}
    obs = check_drift(rule, DEP, data_with([], drift={DEP.id: DriftDecision(signals)}), NOW_S)
    assert obs.value == 8.0
    assert render_summary(rule, obs) == "feature:f0, feature:f1, feature:f2, feature:f3, feature:f4 and 3 more"
