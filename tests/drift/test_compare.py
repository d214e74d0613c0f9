"""Decisions end to end: calibration under no drift, sensitivity, NaN, empty and small windows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from drift.baseline import Baseline, build_baseline
from drift.compare import compare, compare_values
from drift.decision import DriftPolicy, Status
from drift.errors import IncompatibleBinsError, InvalidInputError
from drift.window import WindowCounts


def _window(baseline: Baseline, rng: np.random.Generator, rows: int, shift_sigma: float = 0.0,
            nan_share: float = 0.0) -> dict[str, WindowCounts]:
    x = rng.normal(3.0 + 2.0 * shift_sigma, 2.0, rows)
    x[rng.random(rows) < nan_share] = np.nan
    signals = {
        "score": rng.beta(5, 2, rows).astype(np.float32),
        "class": rng.choice(10, size=rows, p=np.linspace(1, 2, 10) / np.linspace(1, 2, 10).sum()),
        "feature:x": x,
    }
    return {name: WindowCounts.from_values(baseline.column(name), v) for name, v in signals.items()}


def test_no_drift_alerts_in_at_most_one_percent_of_windows(baseline: Baseline) -> None:
    rng = np.random.default_rng(11)
    windows = [_window(baseline, rng, int(rng.integers(500, 3000))) for _ in range(300)]
    gated = compare(baseline, windows)
    single = compare(baseline, windows, policy=DriftPolicy(persistence_m=1, persistence_n=1))
    for report, limit in ((gated, 0.01), (single, 0.01)):
        for key in {(r.signal, r.check) for r in report.results}:
            statuses = [r.status for row in report.history for r in row if (r.signal, r.check) == key]
            alerts = sum(s is Status.DRIFT for s in statuses)
            assert alerts <= limit * len(statuses), f"{key}: {alerts} alerts in {len(statuses)} windows"


def test_tiny_shift_at_a_million_rows_never_alerts(baseline: Baseline) -> None:
    rng = np.random.default_rng(12)
    windows = [_window(baseline, rng, 1_000_000, shift_sigma=0.01) for _ in range(3)]
    report = compare(baseline, windows, policy=DriftPolicy(persistence_m=1))
    result = report.result("feature:x")
    assert result.status is Status.OK and result.negligible
    assert result.n_current == 1_000_000 and result.p_value is not None  # shown with N, but negligible
    assert not report.drifted


def test_half_sigma_shift_at_two_thousand_rows_alerts(baseline: Baseline) -> None:
    rng = np.random.default_rng(13)
    first = compare(baseline, [_window(baseline, rng, 2000, shift_sigma=0.5)])
    assert first.result("feature:x").status is Status.DRIFT  # one window given: m lowered to 1
    history = [_window(baseline, rng, 2000), _window(baseline, rng, 2000, shift_sigma=0.5)]
    report = compare(baseline, history)
    # issue 18: a large effect (far beyond the window's noise) is drift on its first window; before, it
    # waited for a second breaching window (persistence now gates borderline breaches only)
    assert report.result("feature:x").status is Status.DRIFT and report.result("feature:x").breaches == 1
    report = compare(baseline, [*history, _window(baseline, rng, 2000, shift_sigma=0.5)])
    result = report.result("feature:x")
    assert result.status is Status.DRIFT and result.breaches == 2
    assert result.effect is not None and result.effect > 0.4 and not result.negligible
    assert report.result("score").status is Status.OK and report.status is Status.DRIFT and report.drifted


def test_one_percent_nan_raises_the_nan_rate_and_the_rest_still_computes(baseline: Baseline) -> None:
    rng = np.random.default_rng(14)
    report = compare(baseline, [_window(baseline, rng, 10_000, nan_share=0.01)])
    nan = report.result("feature:x", "nan_rate")
    assert nan.status is Status.DRIFT and nan.effect == pytest.approx(0.01, abs=0.003)
    dist = report.result("feature:x")
    assert dist.status is Status.OK and dist.effect is not None and dist.n_current < 10_000


def test_empty_window_is_no_data_and_small_is_insufficient(baseline: Baseline) -> None:
    rng = np.random.default_rng(15)
    report = compare(baseline, [{}])
    assert {r.status for r in report.results} == {Status.NO_DATA}
    assert all(r.effect is None and r.p_value is None and r.detail for r in report.results)
    small = compare(baseline, [_window(baseline, rng, 100, shift_sigma=3)])
    assert small.result("feature:x").status is Status.INSUFFICIENT_DATA
    assert "100" in small.result("feature:x").detail
    partial = compare(baseline, [{"score": _window(baseline, rng, 600)["score"]}])
    assert partial.result("score").status is Status.OK and partial.result("class").status is Status.NO_DATA


def test_all_nan_window_is_nan_drift_and_insufficient_distribution(baseline: Baseline) -> None:
    col = baseline.column("feature:x")
    report = compare(baseline, [{"feature:x": WindowCounts.from_values(col, np.full(1000, np.nan))}])
    assert report.result("feature:x", "nan_rate").status is Status.DRIFT
    assert report.result("feature:x").status is Status.INSUFFICIENT_DATA


def test_out_of_range_and_class_shift_are_detected(baseline: Baseline) -> None:
    rng = np.random.default_rng(16)
    window = _window(baseline, rng, 5000)
    x = rng.normal(3.0, 2.0, 5000)
    x[:200] = 1e6  # 4% far above the reference maximum
    window["feature:x"] = WindowCounts.from_values(baseline.column("feature:x"), x)
    window["class"] = WindowCounts.from_values(baseline.column("class"), rng.integers(0, 3, 5000))
    report = compare(baseline, [window])
    assert report.result("feature:x", "out_of_range").status is Status.DRIFT
    assert report.result("class").status is Status.DRIFT


def test_report_is_json_without_nan(baseline: Baseline) -> None:
    rng = np.random.default_rng(17)
    report = compare(baseline, [{}, _window(baseline, rng, 800, nan_share=0.5)])
    text = json.dumps(report.to_dict(), allow_nan=False)
    for row in json.loads(text)["history"]:
        for r in row:
            for key in ("effect", "noise_floor", "p_value", "p_value_adjusted"):
                assert r[key] is None or math.isfinite(r[key])


def test_bad_input_is_named(baseline: Baseline) -> None:
    with pytest.raises(InvalidInputError, match="windows"):
        compare(baseline, [])
    with pytest.raises(InvalidInputError, match="nope"):
        compare(baseline, [{"nope": WindowCounts.from_values(baseline.column("score"), np.ones(3))}])
    other = build_baseline({"score": np.arange(10.0)}, categorical=[], model_sha256="0", version="v0")
    with pytest.raises(IncompatibleBinsError, match="score"):
        compare(baseline, [{"score": WindowCounts.from_values(other.column("score"), np.ones(3))}])
    with pytest.raises(InvalidInputError, match="persistence_m"):
        DriftPolicy(persistence_m=4, persistence_n=3)
    with pytest.raises(InvalidInputError, match="numeric_statistic"):
        DriftPolicy(numeric_statistic="chi_square")


@pytest.mark.parametrize("statistic", ["psi", "jensen_shannon", "hellinger", "total_variation", "ks"])
def test_every_numeric_statistic_can_drive_decisions(baseline: Baseline, statistic: str) -> None:
    rng = np.random.default_rng(18)
    values = rng.normal(3.0 + 2.0, 2.0, 3000)  # one sigma
    report = compare_values(baseline, {"feature:x": values}, policy=DriftPolicy(numeric_statistic=statistic))
    result = report.result("feature:x")
    assert result.statistic == statistic and result.status is Status.DRIFT
    assert set(result.secondary) == {"psi", "jensen_shannon", "hellinger", "total_variation", "ks",
                                     "wasserstein_sigma"} - {statistic}
