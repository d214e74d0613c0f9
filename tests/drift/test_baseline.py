from __future__ import annotations

import json

import numpy as np
import pytest

from drift.baseline import MAX_COLUMN_BYTES, Baseline, CategoricalColumn, NumericColumn, build_baseline
from drift.errors import BaselineError, InvalidInputError


def test_numeric_column_summarises_the_reference(baseline: Baseline, signals: dict[str, np.ndarray]) -> None:
    col = baseline.column("feature:x")
    values = signals["feature:x"]
    assert isinstance(col, NumericColumn)
    assert col.finite_count == values.size and col.counts[0] == 0 and col.counts[-1] == 0
    assert col.mean == pytest.approx(values.mean()) and col.std == pytest.approx(values.std())
    assert (col.min, col.max) == (values.min(), values.max())
    assert 900 <= col.edges.size <= 1001 and col.coarse_index.size == 9
    coarse_share = np.cumsum(col.counts)[col.coarse_index] / col.finite_count
    np.testing.assert_allclose(coarse_share, np.arange(1, 10) / 10, atol=0.002)


def test_categorical_column_keeps_top_classes_and_other() -> None:
    values = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"] + [None] * 2, dtype=object)
    base = build_baseline({"class": values}, categorical=["class"], model_sha256="0", version="v1",
                          max_categories=2)
    col = base.column("class")
    assert isinstance(col, CategoricalColumn)
    assert col.categories == ("a", "b") and col.counts.tolist() == [5, 3, 3] and col.null_count == 2


def test_non_finite_and_null_values_are_counted_apart() -> None:
    values = np.array([1.0, 2.0, 3.0, np.nan, np.inf, -np.inf, None], dtype=object)
    col = build_baseline({"f": values}, categorical=[], model_sha256="0", version="v1").column("f")
    assert isinstance(col, NumericColumn)
    assert (col.finite_count, col.nan_count, col.posinf_count, col.neginf_count, col.null_count) == (3, 1, 1, 1, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_through_json_is_exact_and_small(dtype: type) -> None:
    rng = np.random.default_rng(5)
    signals = {"score": rng.random(1_000_000).astype(dtype),
               "feature:y": (rng.normal(size=200_000) * 1e6).astype(dtype),
               "class": rng.integers(0, 1000, 100_000)}
    base = build_baseline(signals, categorical=["class"], model_sha256="f" * 64, version="v2")
    text = json.dumps(base.to_dict())
    again = Baseline.from_dict(json.loads(text))
    assert again.to_dict() == base.to_dict()
    for name, col in base.columns.items():
        size = len(json.dumps(col.to_dict()))
        assert size <= MAX_COLUMN_BYTES, f"{name}: {size} bytes"
        twin = again.column(name)
        np.testing.assert_array_equal(twin.counts, col.counts)
        if isinstance(col, NumericColumn):
            assert isinstance(twin, NumericColumn)
            np.testing.assert_array_equal(twin.edges, col.edges)  # bit-exact, float32 edges included


def test_build_errors_name_the_problem() -> None:
    with pytest.raises(InvalidInputError, match="signals"):
        build_baseline({}, categorical=[], model_sha256="0", version="v1")
    with pytest.raises(InvalidInputError, match="categorical"):
        build_baseline({"a": np.ones(3)}, categorical=["b"], model_sha256="0", version="v1")
    with pytest.raises(InvalidInputError, match="finite"):
        build_baseline({"a": np.array([np.nan, np.nan])}, categorical=[], model_sha256="0", version="v1")
    with pytest.raises(InvalidInputError, match="1-D"):
        build_baseline({"a": np.ones((2, 2))}, categorical=[], model_sha256="0", version="v1")


def test_from_dict_errors_name_the_field(baseline: Baseline) -> None:
    data = json.loads(json.dumps(baseline.to_dict()))
    data["columns"]["score"]["counts"] = data["columns"]["score"]["counts"][:-1]
    with pytest.raises(BaselineError, match="score.edges"):
        Baseline.from_dict(data)
    data = json.loads(json.dumps(baseline.to_dict()))
    del data["columns"]["class"]["null_count"]
    with pytest.raises(BaselineError, match="class.null_count"):
        Baseline.from_dict(data)
    with pytest.raises(BaselineError, match="format"):
        Baseline.from_dict({"format": 99})
    with pytest.raises(InvalidInputError, match="nope"):
        baseline.column("nope")


def test_baseline_from_a_window_takes_its_counts(baseline: Baseline) -> None:
    from drift.compare import compare
    from drift.decision import Status
    from drift.errors import IncompatibleBinsError
    from drift.rebase import baseline_from_windows
    from drift.window import WindowCounts

    rng = np.random.default_rng(9)
    col = baseline.column("feature:x")
    shifted = rng.normal(4.0, 2.0, 60_000)  # the new normal: half a sigma above the held-out data
    window = {"feature:x": WindowCounts.from_values(col, shifted),
              "class": WindowCounts.from_values(baseline.column("class"), rng.integers(0, 10, 5000))}
    rebased = baseline_from_windows(baseline, window, model_sha256="c" * 64, version="v1")
    new = rebased.column("feature:x")
    assert isinstance(new, NumericColumn)
    assert new.mean == pytest.approx(shifted.mean(), abs=0.02) and new.std == pytest.approx(shifted.std(), rel=0.01)
    assert new.finite_count == 60_000 and rebased.column("score") is baseline.column("score")
    current = {"feature:x": WindowCounts.from_values(col, rng.normal(4.0, 2.0, 3000))}
    assert compare(baseline, [current]).result("feature:x").status is Status.DRIFT
    assert compare(rebased, [current]).result("feature:x").status is Status.OK
    assert compare(rebased, [current]).result("feature:x", "out_of_range").status is Status.OK
    again = Baseline.from_dict(json.loads(json.dumps(rebased.to_dict())))
    assert again.to_dict() == rebased.to_dict()
    with pytest.raises(IncompatibleBinsError):
        baseline_from_windows(baseline, {"score": window["feature:x"]}, model_sha256="c", version="v1")
