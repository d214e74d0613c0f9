"""Exact statistics on raw samples against scipy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from drift import exact
from drift.errors import InsufficientDataError, InvalidInputError
from drift.exact import cramer_von_mises_exact, ks_exact, wasserstein_sigma_exact


def _samples(dtype: type, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, 3000).astype(dtype)
    b = rng.normal(0.1, 1.3, 2000).astype(dtype)
    b[:100] = a[:100]  # ties across samples
    a[200:220], b[200:210] = -0.0, 0.0  # signed zeros are one value
    return a, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ks_and_wasserstein_match_scipy(dtype: type) -> None:
    a, b = _samples(dtype, 1)
    expected = scipy.stats.ks_2samp(a, b, method="asymp")
    ours = ks_exact(a, b)
    assert ours.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert ours.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert (ours.n_reference, ours.n_current) == (3000, 2000)
    w = scipy.stats.wasserstein_distance(a, b) / np.std(a.astype(np.float64))
    assert wasserstein_sigma_exact(a, b).statistic == pytest.approx(w, rel=1e-9)


def test_cramer_von_mises_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(2)
    a, b = np.round(rng.normal(size=400), 1), np.round(rng.normal(0.2, 1, 300), 1)
    expected = scipy.stats.cramervonmises_2samp(a, b, method="asymptotic")
    ours = cramer_von_mises_exact(a, b)
    assert ours.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(expected.pvalue, rel=1e-6)


def test_block_boundaries_do_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    # patch reason: the block size is a cache-size constant; a tiny one puts ties across block edges
    a, b = np.round(np.random.default_rng(3).normal(size=(2, 2000)), 1)
    whole = (ks_exact(a, b), cramer_von_mises_exact(a, b), wasserstein_sigma_exact(a, b))
    monkeypatch.setattr(exact, "_BLOCK", 37)
    parts = (ks_exact(a, b), cramer_von_mises_exact(a, b), wasserstein_sigma_exact(a, b))
    for w, p in zip(whole, parts, strict=True):
        assert p.statistic == pytest.approx(w.statistic, rel=1e-12)


# float32: exact in every bit (float64 values that differ only in their last bit tie, as documented)
finite = arrays(np.float32, st.integers(5, 60), elements=st.floats(-1e6, 1e6, allow_nan=False, width=32))


@given(finite, finite, st.randoms(use_true_random=False))
@settings(max_examples=40, deadline=None)
def test_exact_statistics_properties(a: np.ndarray, b: np.ndarray, random) -> None:  # type: ignore[no-untyped-def]
    ks_ab = ks_exact(a, b).statistic
    assert 0 <= ks_ab <= 1 and ks_ab == pytest.approx(ks_exact(b, a).statistic)
    assert ks_exact(a, a).statistic == 0 and wasserstein_sigma_exact(a, a).statistic == 0
    assert ks_ab == pytest.approx(scipy.stats.ks_2samp(a, b, method="asymp").statistic, abs=1e-12)
    shuffled = a.copy()
    random.shuffle(shuffled)
    assert ks_exact(shuffled, b).statistic == ks_ab  # invariant to row order
    assert wasserstein_sigma_exact(a, b).statistic >= 0


def test_exact_rejects_nan_and_empty() -> None:
    with pytest.raises(InvalidInputError, match="reference"):
        ks_exact(np.array([1.0, np.nan]), np.array([1.0]))
    with pytest.raises(InvalidInputError, match="current"):
        ks_exact(np.array([1.0]), np.array(["a"]))
    with pytest.raises(InsufficientDataError):
        ks_exact(np.array([], dtype=float), np.array([1.0]))
