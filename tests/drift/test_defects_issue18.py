"""Issue 18 defects, each with a test that fails on the engine before the fix: discrete data
exaggerated, a constant column that changes value, a one-row categorical baseline, slow string counts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from drift import Baseline, InvalidInputError, Status, WindowCounts, build_baseline, compare_values
from drift.categories import count_categories
from drift.exact import wasserstein_sigma_exact


def test_a_tiny_offset_off_integer_values_is_not_exaggerated() -> None:
    rng = np.random.default_rng(1)
    reference = rng.poisson(3.0, 50_000).astype(np.float64)
    baseline = build_baseline({"x": reference}, categorical=[], model_sha256="0" * 64, version="v")
    current = rng.poisson(3.0, 20_000) + 0.05 * math.sqrt(3.0)  # 0.05 sigma: off the integers
    result = compare_values(baseline, {"x": current}).result("x")
    exact = wasserstein_sigma_exact(reference, current).statistic
    assert result.effect is not None and result.effect < 0.08, result.effect  # was 0.55
    assert abs(result.effect - exact) < 0.03 and result.status is not Status.DRIFT
    # a whole unit is still measured in full
    moved = compare_values(baseline, {"x": rng.poisson(3.0, 20_000) + 1.0}).result("x")
    assert moved.effect == pytest.approx(1 / math.sqrt(3.0), abs=0.05) and moved.status is Status.DRIFT


def test_a_constant_column_that_changes_value_drifts_in_its_distribution_check() -> None:
    baseline = build_baseline({"flag": np.full(10_000, 3.0)}, categorical=[], model_sha256="0" * 64, version="v")
    report = compare_values(baseline, {"flag": np.full(5_000, 4.0)})
    result = report.result("flag")
    assert result.status is Status.DRIFT and result.effect == 1.0  # was ok with an effect of 2e-16
    assert result.statistic == "total_variation" and "constant" in result.detail
    partly = compare_values(baseline, {"flag": np.where(np.arange(5_000) < 250, 4.0, 3.0)}).result("flag")
    assert partly.effect == pytest.approx(0.05) and partly.status is Status.DRIFT
    same = compare_values(baseline, {"flag": np.full(5_000, 3.0)}).result("flag")
    assert same.effect == 0.0 and same.status is Status.OK


def test_a_one_row_categorical_baseline_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="needs >= 2 non-null values"):
        build_baseline({"class": np.array(["a"])}, categorical=["class"], model_sha256="0" * 64, version="v")
    with pytest.raises(InvalidInputError, match="needs >= 2 non-null values"):
        build_baseline({"class": np.array(["a", None], dtype=object)}, categorical=["class"], model_sha256="0",
                       version="v")


def test_a_tiny_baseline_read_from_a_dict_answers_insufficient_data() -> None:
    small = build_baseline({"class": np.array(["a", "b"] * 10)}, categorical=["class"], model_sha256="0" * 64,
                           version="v").to_dict()
    small["columns"]["class"]["counts"] = [1, 0, 0]  # a one-row baseline written before the check
    baseline = Baseline.from_dict(small)
    result = compare_values(baseline, {"class": np.array(["b"] * 1_000)}).result("class")
    assert result.status is Status.INSUFFICIENT_DATA and "baseline has 1" in result.detail


@pytest.mark.parametrize("make", [
    lambda v: v.astype(object),  # strings from JSON
    lambda v: v.astype(str),  # a fixed-width numpy array
    lambda v: np.char.encode(v.astype(str)),  # bytes
])
def test_string_counts_equal_pandas_value_counts(make: object) -> None:
    rng = np.random.default_rng(2)
    values = rng.choice(np.array([f"class-{i}" for i in range(40)]), 100_000)
    arr = make(values)  # type: ignore[operator]
    categories = tuple(f"class-{i}" for i in range(30))
    counts = count_categories(arr, categories, "c")
    expected = pd.Series(values).value_counts()
    assert counts.counts[:-1].tolist() == [int(expected.get(c, 0)) for c in categories]
    assert counts.counts[-1] == sum(int(expected[c]) for c in expected.index if c not in categories)


def test_mixed_object_values_are_canonical_and_nulls_apart() -> None:
    values = np.array([1, 1.0, True, "1", np.int64(1), None, float("nan"), 2.5, "x", np.str_("x")], dtype=object)
    baseline = build_baseline({"c": values}, categorical=["c"], model_sha256="0" * 64, version="v")
    column = baseline.column("c")
    assert dict(zip(column.categories, column.counts.tolist()[:-1], strict=True)) == {"1": 5, "x": 2, "2.5": 1}
    assert column.null_count == 2
    window = WindowCounts.from_values(column, values)
    assert window.counts.tolist() == [5, 2, 1, 0] and window.null_count == 2


def test_calibration_survives_json_and_old_baselines_still_load() -> None:
    rng = np.random.default_rng(3)
    baseline = build_baseline({"x": rng.normal(size=5_000), "c": rng.integers(0, 4, 5_000)}, categorical=["c"],
                              model_sha256="0" * 64, version="v")
    data = baseline.to_dict()
    again = Baseline.from_dict(data)
    for name in ("x", "c"):
        assert again.column(name).calibration == baseline.column(name).calibration is not None
    for raw in data["columns"].values():
        del raw["calibration"]  # a baseline written before calibration
    legacy = Baseline.from_dict(data)
    assert legacy.column("x").calibration is None
    report = compare_values(legacy, {"x": rng.normal(size=2_000), "c": rng.integers(0, 4, 2_000)})
    assert report.result("x").status is Status.OK and report.result("c").status is Status.OK


def test_calibration_merges_by_adding_chunk_sums() -> None:
    rng = np.random.default_rng(4)
    column = build_baseline({"x": rng.normal(size=20_000)}, categorical=[], model_sha256="0", version="v").column("x")
    cal = column.calibration
    assert cal is not None
    merged = cal.merged(cal)
    for name, stat in merged.statistics.items():
        one = cal.statistics[name]
        assert stat.chunk_count == 2 * one.chunk_count and stat.excess_sum == pytest.approx(2 * one.excess_sum)
        assert stat.q999 == one.q999
