"""Cost per prediction: steps priced from metrics, roll-ups, versions, batching, reconciliation."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costs.catalogue import load_catalogue
from costs.per_prediction import by_version, estimate_costs, group_series, reconcile, rollup, series_from_rows
from costs.pricing import lambda_cost
from inferwatch.schema import CostRecord, Deployment, MetricPoint
from tests.costs.builders import T0, lam, run, steady

CAT = load_catalogue()
X86 = CAT.lambda_prices("x86_64")


def test_batching_makes_predictions_cheaper() -> None:
    single, batched = lam("single"), lam("batched")
    pts = steady(single.id, {"invocations_count": 1000, "rows_count": 1000, "duration_sum_ms": 1000 * 20.0}, hours=1)
    pts += steady(batched.id, {"invocations_count": 250, "rows_count": 1000, "duration_sum_ms": 250 * 35.0},
                  hours=1)
    windows = {w.key: w for w in estimate_costs([single, batched], pts, CAT).windows}
    one, four = windows[single.id], windows[batched.id]
    assert four.rows_per_invocation == 4 and one.rows_per_invocation == 1
    assert four.cost_per_prediction_usd is not None and one.cost_per_prediction_usd is not None
    assert four.cost_per_prediction_usd < one.cost_per_prediction_usd
    assert one.cost_per_prediction_usd == pytest.approx(2e-7 + 0.02 * 0.0000166667)


def test_no_predictions_is_an_explicit_none() -> None:
    d = lam("idle", pc=1)
    est = estimate_costs([d], steady(d.id, {"invocations_count": 0, "provisioned_concurrency_count": 1}, hours=2), CAT)
    assert all(w.cost_per_prediction_usd is None and w.cost.total_usd > 0 for w in est.windows)


def test_unknown_memory_and_deployment_are_listed_not_guessed() -> None:
    nomem = Deployment(id="aws:us-east-1:nomem", provider="aws", region="us-east-1", name="nomem", service="s")
    pts = steady(nomem.id, {"invocations_count": 5}, hours=1) + steady("aws:us-east-1:ghost", {"invocations_count": 5},
                                                                       hours=1)
    est = estimate_costs([nomem], pts, CAT)
    assert not est.windows
    reasons = dict(est.unpriced)
    assert "memory_mb" in reasons[nomem.id] and "no deployment configuration" in reasons["aws:us-east-1:ghost"]


def test_collected_memory_is_used_when_not_configured() -> None:
    d = Deployment(id="aws:us-east-1:m", provider="aws", region="us-east-1", name="m", service="m")
    pts = steady(d.id, {"invocations_count": 10, "duration_sum_ms": 1000.0, "memory_configured_mb": 2048}, hours=1)
    (w,) = estimate_costs([d], pts, CAT).windows
    assert w.cost.compute_usd == pytest.approx(2 * 0.0000166667)


def test_negative_metric_is_unpriced_with_the_metric_named() -> None:
    d = lam("neg")
    est = estimate_costs([d], steady(d.id, {"invocations_count": -1}, hours=1), CAT)
    assert "invocations" in dict(est.unpriced)[d.id]


def test_billed_duration_beats_duration() -> None:
    d = lam("b")
    pts = steady(d.id, {"invocations_count": 10, "duration_sum_ms": 1000.0, "billed_duration_sum_ms": 2000.0}, hours=1)
    (w,) = estimate_costs([d], pts, CAT).windows
    assert w.cost.compute_usd == pytest.approx(2 * 0.0000166667)


def test_cloud_run_instance_based_excludes_idle_from_serving() -> None:
    d = run("ib", billing_mode="instance", min_instances=1)
    pts = steady(d.id, {"invocations_count": 10, "billable_instance_s": 3600, "instances_idle_count": 0.5}, hours=1)
    (w,) = estimate_costs([d], pts, CAT).windows
    rate = 0.000018 + 0.5 * 0.000002
    assert w.cost.compute_usd == pytest.approx(1800 * rate) and w.cost.idle_usd == pytest.approx(1800 * rate)
    assert w.cost.total_usd == pytest.approx(3600 * rate)


def test_hourly_and_daily_rollups_and_versions() -> None:
    v1 = lam("s-v1", service="s", version="v1")
    v2 = lam("s-v2", service="s", version="v2")
    pts = steady(v1.id, {"invocations_count": 60, "duration_sum_ms": 600.0}, hours=48, step_s=60)
    pts += steady(v2.id, {"invocations_count": 30, "duration_sum_ms": 300.0}, hours=48, step_s=60)
    minutes = estimate_costs([v1, v2], pts, CAT).windows
    hourly = rollup(minutes, step_s=3600)
    daily = estimate_costs([v1, v2], pts, CAT, rollup_s=86_400).windows
    assert len(hourly) == 2 * 48 and len(daily) == 4
    total = sum(w.cost.total_usd for w in minutes)
    assert sum(w.cost.total_usd for w in hourly) == pytest.approx(total)
    assert sum(w.cost.total_usd for w in daily) == pytest.approx(total)
    versions = by_version(daily, [v1, v2], step_s=86_400)
    assert {w.key for w in versions} == {"s@v1", "s@v2"}
    with pytest.raises(ValueError):
        rollup(daily, step_s=3600)


def test_reconcile_shows_the_gap_only_where_billed() -> None:
    d = lam("r")
    pts = steady(d.id, {"invocations_count": 1000, "duration_sum_ms": 1000 * 100.0}, hours=48)
    est = estimate_costs([d], pts, CAT).windows
    day_cost = 24 * (1000 * 2e-7 + 100 * 0.0000166667)
    records = [CostRecord(d.id, T0, "Lambda-GB-Second", 0.05, 1.0, "GB-s", True, "ce"),
               CostRecord(d.id, T0 + timedelta(hours=3), "Request", 0.01, 1.0, "req", False, "ce")]
    (rec,) = reconcile(est, records)
    assert rec.estimated_usd == pytest.approx(day_cost)
    assert rec.billed_usd == pytest.approx(0.06) and rec.billed_is_estimate
    assert rec.gap_usd == pytest.approx(0.06 - day_cost) and rec.gap_pct == pytest.approx(100 * rec.gap_usd / 0.06)


steps = st.lists(st.tuples(st.floats(0, 1e5), st.floats(0, 1e3), st.floats(0, 1), st.integers(0, 5)),
                 min_size=1, max_size=30)


@settings(max_examples=50, deadline=None)
@given(steps, st.sampled_from([128, 1024, 3008]))
def test_series_pricing_equals_the_scalar_formula_step_by_step(rows: list[tuple[float, float, float, int]],
                                                               memory: int) -> None:
    d = lam("h", memory_mb=memory)
    pts = []
    for i, (inv, ms, util, pc) in enumerate(rows):
        start = T0 + timedelta(hours=i)
        pts += [MetricPoint(d.id, "invocations_count", start, 3600, inv),
                MetricPoint(d.id, "duration_sum_ms", start, 3600, inv * ms),
                MetricPoint(d.id, "provisioned_concurrency_count", start, 3600, float(pc)),
                MetricPoint(d.id, "provisioned_utilization_ratio", start, 3600, util)]
    windows = estimate_costs([d], pts, CAT).windows
    assert len(windows) == len(rows)
    for w, (inv, ms, util, pc) in zip(windows, rows, strict=True):
        expected = lambda_cost(X86, memory_mb=memory, invocations=inv, billed_duration_ms=inv * ms,
                               provisioned_concurrency=pc, period_s=3600, provisioned_share=1.0 if pc and inv else 0.0,
                               provisioned_utilization=util if pc else None)
        assert w.cost.total_usd == pytest.approx(expected.total_usd, rel=1e-9, abs=1e-12)
        assert w.cost.idle_usd == pytest.approx(expected.idle_usd, rel=1e-9, abs=1e-12)
        assert np.isfinite(w.cost.total_usd) and w.cost.idle_usd <= w.cost.warm_capacity_usd + 1e-12


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1e4), min_size=1, max_size=72), st.sampled_from([3600, 86_400]))
def test_rollup_preserves_totals(invocations: list[float], step_s: int) -> None:
    d = lam("p")
    pts = [MetricPoint(d.id, "invocations_count", T0 + timedelta(hours=i), 3600, v) for i, v in enumerate(invocations)]
    windows = estimate_costs([d], pts, CAT).windows
    rolled = rollup(windows, step_s=step_s)
    assert sum(w.cost.total_usd for w in rolled) == pytest.approx(sum(w.cost.total_usd for w in windows))
    assert sum(w.invocations for w in rolled) == pytest.approx(sum(invocations))


def test_series_from_store_rows_equal_the_grouped_points() -> None:
    """The cost sums read plain store rows; grouping them gives the series the points give, gaps
    (a metric missing in a step) included."""
    points = steady("aws:us-east-1:a", {"invocations": 10, "billed_duration_sum_ms": 400}, hours=3, step_s=60)
    points += steady("aws:us-east-1:b", {"invocations": 3}, hours=1, step_s=60)[::2]
    rows = [(p.deployment, p.metric, int(p.start.timestamp()), p.value) for p in reversed(points)]
    got, want = series_from_rows(rows, 60), group_series(points)
    assert [s.deployment for s in got] == [s.deployment for s in want] == ["aws:us-east-1:a", "aws:us-east-1:b"]
    for g, w in zip(got, want, strict=True):
        assert g.step_s == w.step_s == 60
        np.testing.assert_array_equal(g.ts, w.ts)
        assert g.values.keys() == w.values.keys()
        for metric in w.values:
            np.testing.assert_array_equal(g.values[metric], w.values[metric])
    assert series_from_rows([], 60) == []
