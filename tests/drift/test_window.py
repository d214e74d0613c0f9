"""Window counts: from raw values, from cloud answers, merged in any order, serialised."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift.baseline import Baseline, CategoricalColumn, NumericColumn
from drift.cloud import bin_edges_for_cloud
from drift.errors import BaselineError, IncompatibleBinsError, InvalidInputError
from drift.window import WindowCounts, merge, merge_all


def _numeric(baseline: Baseline, name: str = "feature:x") -> NumericColumn:
    col = baseline.column(name)
    assert isinstance(col, NumericColumn)
    return col


def _same(a: WindowCounts, b: WindowCounts) -> None:
    assert a.to_dict() == b.to_dict()


@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(0, 3000), max_size=6))
@settings(max_examples=40, deadline=None)
def test_merging_windows_in_any_order_equals_counting_everything(baseline: Baseline, seed: int,
                                                                 cuts: list[int]) -> None:
    rng = np.random.default_rng(seed)
    values = rng.normal(3, 2.5, 3000)
    values[rng.random(3000) < 0.02] = np.nan
    classes = rng.integers(0, 12, 3000)  # 10 and 11 are not baseline classes: "other"
    for name, data in (("feature:x", values), ("class", classes)):
        col = baseline.column(name)
        whole = WindowCounts.from_values(col, data)
        parts = [WindowCounts.from_values(col, chunk) for chunk in np.split(data, sorted(cuts))]
        order = rng.permutation(len(parts))
        _same(merge_all(parts[i] for i in order), whole)
        _same(merge_all(parts[::-1]), whole)
        shuffled = WindowCounts.from_values(col, rng.permutation(data))  # row order does not matter
        _same(shuffled, whole)


def test_categorical_counts(baseline: Baseline) -> None:
    col = baseline.column("class")
    assert isinstance(col, CategoricalColumn)
    w = WindowCounts.from_values(col, np.array([0, 0, 3, 42, None, "9"], dtype=object))
    assert w.counts[col.categories.index("0")] == 2 and w.counts[col.categories.index("9")] == 1
    assert w.counts[-1] == 1 and w.null_count == 1 and w.total_count == 6
    fast = WindowCounts.from_values(col, np.array([0, 0, 3, 42]))
    slow = WindowCounts.from_values(col, np.array(["0", "0", "3", "42"]))
    _same(fast, slow)


def test_cloudwatch_percentile_ranks_give_the_local_counts(baseline: Baseline) -> None:
    col = _numeric(baseline)
    bins = bin_edges_for_cloud(col)
    values = np.random.default_rng(4).normal(3.2, 2.0, 20_000)
    layout = np.asarray(bins.layout)
    local = WindowCounts.from_values(col, values)
    # what CloudWatch answers for PR(:edge): percent of values <= edge (value + offset vs edge + offset)
    shifted = np.sort(values + bins.cloudwatch_offset)
    percent = 100.0 * np.searchsorted(shifted, np.asarray(bins.cloudwatch_edges), "right") / values.size
    cloud = WindowCounts.from_cdf_fractions(col, percent / 100.0, values.size, layout=layout)
    np.testing.assert_array_equal(cloud.counts, local.coarsened(layout))
    merged = merge(local, cloud)  # a local and a cloud window merge on the cloud's edges
    np.testing.assert_array_equal(merged.counts, 2 * local.coarsened(layout))
    _same(merge_all([local, cloud, local]), merge(merge(local, cloud), local))  # mixed bins: pairwise path
    with pytest.raises(IncompatibleBinsError):
        merge_all([local, WindowCounts.from_values(baseline.column("score"), np.array([0.5]))])
    assert bins.cloudwatch_offset > 0 and min(bins.cloudwatch_edges) > 0  # the feature goes below 0


def test_gcp_bucket_bounds_reproduce_right_closed_bins(baseline: Baseline) -> None:
    col = _numeric(baseline, "score")
    bins = bin_edges_for_cloud(col, max_edges=50)
    values = np.concatenate((np.random.default_rng(5).beta(5, 2, 5000), np.asarray(bins.edges)))  # values on edges
    # Cloud Monitoring explicit buckets: underflow (-inf, b0), [b_i-1, b_i), overflow [b_n-1, inf)
    buckets = np.bincount(np.searchsorted(np.asarray(bins.gcp_bounds), values, "right"),
                          minlength=len(bins.gcp_bounds) + 1)
    cloud = WindowCounts.from_bucket_counts(col, buckets, layout=bins.layout)
    np.testing.assert_array_equal(cloud.counts, WindowCounts.from_values(col,
                                                                         values).coarsened(np.asarray(bins.layout)))
    assert bins.cloudwatch_offset == 0.0  # scores are never negative


def test_cloud_edges_keep_range_ends_and_coarse_bins(baseline: Baseline) -> None:
    col = _numeric(baseline)
    for max_edges in (12, 100, 199, 5000):
        layout = bin_edges_for_cloud(col, max_edges=max_edges).layout
        assert len(layout) <= max_edges and layout[0] == 0 and layout[-1] == col.edges.size - 1
        assert set(col.coarse_index.tolist()) <= set(layout)
        assert list(layout) == sorted(set(layout))
    with pytest.raises(InvalidInputError, match="max_edges"):
        bin_edges_for_cloud(col, max_edges=5)


def test_round_trip_and_errors(baseline: Baseline) -> None:
    col = _numeric(baseline)
    w = WindowCounts.from_values(col, np.array([1.0, np.inf, None, np.nan], dtype=object))
    again = WindowCounts.from_dict(json.loads(json.dumps(w.to_dict())))
    _same(again, w)
    assert (again.posinf_count, again.null_count, again.nan_count) == (1, 1, 1)
    partial = WindowCounts.from_bucket_counts(col, [1, 2, 3], layout=[0, 5])
    _same(WindowCounts.from_dict(json.loads(json.dumps(partial.to_dict()))), partial)
    with pytest.raises(InvalidInputError, match="fractions"):
        WindowCounts.from_cdf_fractions(col, [50.0] * col.edges.size, 10)
    with pytest.raises(InvalidInputError, match="fractions"):
        WindowCounts.from_cdf_fractions(col, [0.5, 0.4], 10, layout=[0, 1])
    with pytest.raises(InvalidInputError, match="bucket_counts"):
        WindowCounts.from_bucket_counts(col, [1, 2], layout=[0, 5])
    with pytest.raises(InvalidInputError, match="layout"):
        WindowCounts.from_bucket_counts(col, [1, 2, 3], layout=[5, 0])
    with pytest.raises(IncompatibleBinsError):
        merge(w, WindowCounts.from_values(baseline.column("class"), np.array([1])))
    with pytest.raises(InvalidInputError, match="window"):
        WindowCounts.from_dict({"format": 7})


@pytest.mark.parametrize("bad", [True, 1.0, "1", None])
def test_stored_counts_must_be_plain_integers(baseline: Baseline, bad: object) -> None:
    data = WindowCounts.from_values(_numeric(baseline), np.array([1.0, 2.0])).to_dict()
    data["counts"] = [*data["counts"][:-1], bad]
    with pytest.raises(BaselineError, match=r"window\.counts.*list of integers"):
        WindowCounts.from_dict(data)


def test_window_state_is_small(baseline: Baseline) -> None:
    w = WindowCounts.from_values(_numeric(baseline), np.random.default_rng(0).normal(3, 2, 1_000_000))
    assert len(json.dumps(w.to_dict())) <= 8 * 1024


def test_cloudwatch_statistics_are_plain_numbers(baseline: Baseline) -> None:
    col = _numeric(baseline, "score")
    bins = bin_edges_for_cloud(col)
    stats = bins.cloudwatch_statistics()
    assert len(stats) == len(bins.layout) and all(s.startswith("PR(:") and s.endswith(")") for s in stats)
    assert not any("e" in s[4:-1].lower() for s in stats)
    assert [float(s[4:-1]) for s in stats] == list(bins.cloudwatch_edges)  # exact round trip
