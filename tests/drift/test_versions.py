from __future__ import annotations

import numpy as np
import pytest

from drift.baseline import Baseline
from drift.cloud import bin_edges_for_cloud
from drift.decision import Status
from drift.errors import IncompatibleBinsError, InsufficientDataError, InvalidInputError
from drift.versions import agreement, agreement_from_pairs, compare_versions
from drift.window import WindowCounts


def test_same_distribution_versions_do_not_differ(baseline: Baseline) -> None:
    rng = np.random.default_rng(21)
    col = baseline.column("score")
    a = WindowCounts.from_values(col, rng.beta(5, 2, 4000).astype(np.float32))
    b = WindowCounts.from_values(col, rng.beta(5, 2, 3000).astype(np.float32))
    result = compare_versions(col, a, b, reference_version="v1", current_version="v2",
                              agree_count=2900, paired_count=3000)
    assert result.distribution.status is Status.OK and result.distribution.n_reference == 4000
    assert result.agreement is not None and result.agreement.rate == pytest.approx(2900 / 3000)


def test_shifted_candidate_is_flagged_even_on_cloud_bins(baseline: Baseline) -> None:
    rng = np.random.default_rng(22)
    col = baseline.column("score")
    layout = bin_edges_for_cloud(col, max_edges=60).layout  # the canary was read from the cloud
    a = WindowCounts.from_values(col, rng.beta(5, 2, 4000).astype(np.float32))
    b_full = WindowCounts.from_values(col, rng.beta(2, 2, 4000).astype(np.float32))
    b = WindowCounts.from_bucket_counts(col, b_full.coarsened(np.asarray(layout)), layout=layout)
    result = compare_versions(col, a, b, reference_version="v1", current_version="v2")
    assert result.distribution.status is Status.DRIFT and result.agreement is None
    classes = baseline.column("class")
    ca = WindowCounts.from_values(classes, rng.integers(0, 10, 3000))
    cb = WindowCounts.from_values(classes, rng.integers(0, 5, 3000))
    assert compare_versions(classes, ca, cb, reference_version="v1",
                            current_version="v2").distribution.status is Status.DRIFT


def test_empty_reference_version_is_no_data(baseline: Baseline) -> None:
    col = baseline.column("score")
    b = WindowCounts.from_values(col, np.full(1000, 0.5))
    result = compare_versions(col, WindowCounts.empty(col), b, reference_version="v1", current_version="v2")
    assert result.distribution.status is Status.NO_DATA


def test_agreement_wilson_interval() -> None:
    a = agreement(90, 100)
    assert a.rate == 0.9 and a.ci_low == pytest.approx(0.8256, abs=1e-4) and a.ci_high == pytest.approx(0.9448,
                                                                                                        abs=1e-4)
    full = agreement(10, 10)
    assert full.ci_high == pytest.approx(1.0) and 0.65 < full.ci_low < 0.75
    assert agreement_from_pairs(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])).rate == 0.75
    with pytest.raises(InsufficientDataError):
        agreement(0, 0)
    with pytest.raises(InvalidInputError, match="agree_count"):
        agreement(5, 4)
    with pytest.raises(InvalidInputError, match="current_classes"):
        agreement_from_pairs(np.array([1, 2]), np.array([1]))


def test_windows_over_other_bins_are_rejected(baseline: Baseline) -> None:
    col = baseline.column("score")
    wrong = WindowCounts.from_values(baseline.column("feature:x"), np.ones(3))
    with pytest.raises(IncompatibleBinsError):
        compare_versions(col, wrong, wrong, reference_version="v1", current_version="v2")
