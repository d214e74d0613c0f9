from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from drift import binning
from drift.binning import coarsen, count_values, fit_edges, split_nulls
from drift.errors import InvalidInputError

values32 = arrays(np.float32, st.integers(0, 400),
                  elements=st.floats(-1e3, 1e3, width=32) | st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0]))


def _naive(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)].astype(np.float64)
    return np.bincount(np.searchsorted(edges, finite, side="left"), minlength=edges.size + 1)


@given(values32, st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30, unique=True))
@settings(max_examples=150, deadline=None)
def test_count_values_matches_right_closed_searchsorted(values: np.ndarray, edge_list: list[float]) -> None:
    edges = np.sort(np.asarray(edge_list, dtype=np.float64))
    for arr in (values, values.astype(np.float64)):
        binned = count_values(arr, edges)
        np.testing.assert_array_equal(binned.counts, _naive(arr, edges))
        assert binned.nan_count == int(np.isnan(arr).sum())
        assert binned.posinf_count == int(np.isposinf(arr).sum())
        assert binned.neginf_count == int(np.isneginf(arr).sum())


def test_float32_values_are_compared_exactly_with_float64_edges() -> None:
    value = np.float32(0.1)  # 0.100000001490116...
    edges = np.array([0.1, float(value)])  # 0.1 (float64) is just below the float32 value
    assert count_values(np.array([value]), edges).counts.tolist() == [0, 1, 0]


def test_counting_is_independent_of_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # patch reason: the block size is a speed constant; a tiny one exercises block boundaries
    rng = np.random.default_rng(3)
    values = rng.normal(size=10_000)
    edges = np.sort(rng.normal(size=50))
    whole = count_values(values, edges).counts
    monkeypatch.setattr(binning, "_BLOCK", 7)
    np.testing.assert_array_equal(count_values(values, edges).counts, whole)


def test_fit_edges_puts_range_ends_in_own_bins() -> None:
    data = np.sort(np.random.default_rng(1).normal(size=5000))
    edges = fit_edges(data, 100)
    counts = count_values(data, edges).counts
    assert counts[0] == 0 and counts[-1] == 0  # nothing below min, nothing above max
    assert edges[-1] == data[-1] and edges[0] < data[0]
    assert np.all(np.diff(edges) > 0) and 95 <= edges.size <= 101
    assert counts[1:-1].max() - counts[1:-1].min() <= 2  # quantile bins: equal counts


def test_fit_edges_discrete_data_one_bin_per_value() -> None:
    # Each value still has a bin of its own, (prev(v), v]; since issue 18 the gaps between values are
    # bins too (cut in sub-bins), so a value just above 1.0 no longer lands in 2.0's bin.
    data = np.sort(np.repeat([1.0, 2.0, 5.0], [10, 500, 3]))
    edges = fit_edges(data, 1000)
    assert {1.0, 2.0, 5.0} <= set(edges.tolist()) and edges[-1] == 5.0
    counts = count_values(data, edges).counts
    at = np.searchsorted(edges, [1.0, 2.0, 5.0])
    assert counts[at].tolist() == [10, 500, 3] and counts.sum() == 513
    assert np.all(np.isin(np.nextafter(np.array([1.0, 2.0, 5.0]), -np.inf), edges))
    assert count_values(np.array([1.05]), edges).counts[at[0] + 1] == 1  # the gap just above 1.0


@given(st.lists(st.integers(0, 50), min_size=2, max_size=40), st.data())
def test_coarsen_preserves_totals_and_cumulative_counts(counts: list[int], data: st.DataObject) -> None:
    arr = np.asarray(counts, dtype=np.int64)
    layout = np.arange(arr.size - 1)
    target = np.asarray(sorted(data.draw(st.sets(st.integers(0, arr.size - 2)))), dtype=np.int64)
    out = coarsen(arr, layout, target)
    assert out.sum() == arr.sum() and out.size == target.size + 1
    np.testing.assert_array_equal(np.cumsum(out)[:-1], np.cumsum(arr)[target])


def test_coarsen_rejects_edges_it_does_not_have() -> None:
    with pytest.raises(InvalidInputError, match="layout"):
        coarsen(np.ones(4, dtype=np.int64), np.array([0, 2, 4]), np.array([1]))


def test_split_nulls_counts_none_and_rejects_text() -> None:
    arr, nulls = split_nulls(np.array([1.0, None, 2], dtype=object), "x")
    assert nulls == 1 and np.isnan(arr[1])
    with pytest.raises(InvalidInputError, match="x"):
        split_nulls(np.array(["a", "b"]), "x")
    with pytest.raises(InvalidInputError, match="1-D"):
        split_nulls(np.ones((2, 2)), "x")
