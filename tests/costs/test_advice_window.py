"""Advice over a window: a month is extrapolated from the part that holds metrics, capacity billed by
time is priced for the part of each roll-up step inside the window, and no advice says why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from costs.advice import BELOW_MINIMUM, NO_DATA, TOO_LITTLE_DATA, advise_window
from costs.advice_model import AdvicePolicy
from costs.catalogue import SECONDS_PER_MONTH, load_catalogue
from costs.report import IsoWeek
from costs.usage import summarize_usage
from inferwatch.schema import MetricPoint
from inferwatch.store import Store
from readmodels.costs import load_advice, load_weekly_report
from tests.costs.builders import T0, lam
from tests.costs.report_store import write

CAT = load_catalogue()
X86_PC = 0.0000041667  # USD per GB-s of provisioned concurrency, x86_64, us-east-1
WEEK = timedelta(days=7)


def minutes(deployment: str, values: dict[str, float], n: int, *, start_min: int = 0) -> list[MetricPoint]:
    """``n`` 1-minute steps of the same values from T0 + ``start_min`` minutes."""
    start = T0 + timedelta(minutes=start_min)
    return [MetricPoint(deployment, metric, start + timedelta(minutes=i), 60, float(value))
            for i in range(n) for metric, value in values.items()]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'w.db'}")


def test_five_minutes_of_warm_capacity_are_priced_as_five_minutes_not_the_hour(store: Store) -> None:
    d = lam("warm", pc=3, memory_mb=512)
    pc = {"invocations_count": 60, "duration_sum_ms": 60 * 2.0, "provisioned_concurrency_count": 3,
          "provisioned_utilization_ratio": 0.1}
    write(store, [d], minutes(d.id, pc, 5, start_min=37))
    end = T0 + timedelta(minutes=42)
    result = load_advice(store, end - WEEK, end, CAT, step_s=60)
    assert result.reason is None and result.start == T0 + timedelta(minutes=37)
    info = next(a for a in result.advice if a.kind == "idle_cost")
    warm_month = 3 * 0.5 * SECONDS_PER_MONTH * X86_PC  # what three 512 MB environments cost a month
    assert info.evidence[0].value == pytest.approx(warm_month, rel=1e-6)
    reduce = next(a for a in result.advice if a.kind == "warm_capacity")
    assert reduce.proposed == "1 provisioned"
    assert reduce.monthly_saving_usd == pytest.approx(2 * 0.5 * SECONDS_PER_MONTH * X86_PC, rel=1e-6)
    assert reduce.confidence == "low"


def test_no_metrics_in_the_window_says_so(store: Store) -> None:
    result = load_advice(store, T0 - WEEK, T0, CAT, step_s=60)
    assert (result.advice, result.reason) == ((), NO_DATA)
    assert result.explanation == "no deployment has priced metrics in the window"


def test_a_minute_of_metrics_is_too_little(store: Store) -> None:
    d = lam("young")
    write(store, [d], minutes(d.id, {"invocations_count": 100, "duration_sum_ms": 500.0}, 1))
    result = load_advice(store, T0 - WEEK, T0 + timedelta(minutes=1), CAT, step_s=60)
    assert (result.advice, result.reason) == ((), TOO_LITTLE_DATA)
    assert result.explanation == "the window holds 60 seconds of metrics; advice needs at least 2 minutes"


def test_an_idle_fleet_is_too_little_data(store: Store) -> None:
    d = lam("idle")
    write(store, [d], minutes(d.id, {"invocations_count": 0}, 30))
    result = load_advice(store, T0 - WEEK, T0 + timedelta(minutes=30), CAT, step_s=60)
    assert result.reason == TOO_LITTLE_DATA
    assert result.explanation == "no deployment was invoked in the 30 minutes of metrics"


def test_savings_below_the_minimum_are_counted_not_shown(store: Store) -> None:
    # A right-sized x86_64 function with little traffic: only the unmeasured arm64 switch applies,
    # and it saves a fraction of a cent a month.
    d = lam("tiny", memory_mb=128)
    write(store, [d], minutes(d.id, {"invocations_count": 1, "duration_sum_ms": 1.0,
                                     "memory_max_used_mb": 90.0}, 30))
    result = load_advice(store, T0 - WEEK, T0 + timedelta(minutes=30), CAT, step_s=60)
    assert (result.advice, result.reason) == ((), BELOW_MINIMUM)
    assert result.explanation == ("nothing to change saves at least $0.01 a month over 30 minutes of metrics "
                                  "from 1 deployment (1 smaller saving left out)")
    shown = load_advice(store, T0 - WEEK, T0 + timedelta(minutes=30), CAT, step_s=60,
                        policy=AdvicePolicy(min_saving_usd=1e-9))
    assert [a.kind for a in shown.advice] == ["architecture"]


def test_the_window_label_names_what_was_read() -> None:
    d = lam("w")
    usage = summarize_usage([d], minutes(d.id, {"invocations_count": 10, "duration_sum_ms": 10.0}, 5), CAT,
                            period_s=300)
    result = advise_window(usage, CAT, start=T0, end=T0 + timedelta(minutes=5))
    assert result.window_label == "2026-11-16 00:00 to 00:05 UTC (5 minutes of metrics)"
    empty = advise_window([], CAT, start=T0 - WEEK, end=T0)
    assert empty.window_label == "2026-11-09 00:00 to 2026-11-16 00:00 UTC"


def test_min_observed_is_validated() -> None:
    with pytest.raises(ValueError, match="min_observed_s"):
        AdvicePolicy(min_observed_s=-1)


def test_the_current_week_s_report_prices_the_minutes_it_holds_and_agrees_with_advise(store: Store) -> None:
    d = lam("warm", pc=3, memory_mb=512)
    pc = {"invocations_count": 60, "duration_sum_ms": 60 * 2.0, "provisioned_concurrency_count": 3,
          "provisioned_utilization_ratio": 0.1}
    write(store, [d], minutes(d.id, pc, 5, start_min=37))
    now = T0 + timedelta(minutes=42)
    report = load_weekly_report(store, IsoWeek.containing(now), CAT, step_s=60, now=now)
    row, = report.rows
    assert row.cost.warm_capacity_usd == pytest.approx(3 * 0.5 * 300 * X86_PC, rel=1e-6)  # not a whole day
    advice = load_advice(store, now - WEEK, now, CAT, step_s=60)
    assert [a.kind for a in report.advice] == [a.kind for a in advice.advice]
    assert [a.monthly_saving_usd for a in report.advice] == pytest.approx(
        [a.monthly_saving_usd for a in advice.advice])
    assert row.top_saving_usd == pytest.approx(2 * 0.5 * SECONDS_PER_MONTH * X86_PC, rel=1e-6)


def test_minutes_of_data_are_low_confidence_however_clear(store: Store) -> None:
    """A demo minutes old: its spillover and its arm64 twin are measured, but over minutes, not days."""
    x86, arm = lam("scorer", pc=1, service="scorer"), lam("scorer-arm", service="scorer", architecture="arm64")
    write(store, [x86, arm], minutes(x86.id, {"invocations_count": 5000, "duration_sum_ms": 5000 * 50.0,
                                              "provisioned_concurrency_count": 1, "provisioned_spillover_count": 500,
                                              "provisioned_utilization_ratio": 1.0}, 30)
          + minutes(arm.id, {"invocations_count": 5000, "duration_sum_ms": 5000 * 40.0}, 30))
    result = load_advice(store, T0 - WEEK, T0 + timedelta(minutes=30), CAT, step_s=60)
    raise_, switch = (next(a for a in result.advice if a.kind == kind) for kind in ("warm_capacity", "architecture"))
    assert raise_.action == "raise" and switch.proposed == "arm64"
    assert raise_.confidence == switch.confidence == "low"
