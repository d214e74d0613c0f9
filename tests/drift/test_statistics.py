"""Binned statistics: golden values against scipy, and properties."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from drift.chi_square import chi_square_test
from drift.errors import InsufficientDataError, InvalidInputError
from drift.hellinger import hellinger_distance
from drift.jensen_shannon import jensen_shannon_distance
from drift.ks import ks_pvalue, ks_statistic_binned
from drift.likelihood_ratio import g_test
from drift.psi import population_stability_index
from drift.total_variation import total_variation_distance
from drift.wasserstein import wasserstein_sigma_binned

BOUNDED = [jensen_shannon_distance, hellinger_distance, total_variation_distance, ks_statistic_binned]
SYMMETRIC = [*BOUNDED, population_stability_index]
ALL = [*SYMMETRIC]


def counts_pair(min_bins: int = 2, max_bins: int = 30) -> st.SearchStrategy[tuple[list[int], list[int]]]:
    return st.integers(min_bins, max_bins).flatmap(
        lambda k: st.tuples(st.lists(st.integers(0, 1000), min_size=k, max_size=k),
                            st.lists(st.integers(0, 1000), min_size=k, max_size=k))
    ).filter(lambda p: sum(p[0]) > 0 and sum(p[1]) > 0)


@pytest.mark.parametrize("statistic", ALL)
@given(pair=counts_pair())
@settings(max_examples=60, deadline=None)
def test_distance_to_itself_is_zero_and_never_negative(statistic, pair) -> None:  # type: ignore[no-untyped-def]
    ref, cur = pair
    assert statistic(ref, ref) == pytest.approx(0.0, abs=1e-12)
    # Proportions only, once the counts dwarf PSI's additive smoothing (0.5 per bin): with a total of
    # one, [0, 1] against [0, 3] is 0.106 by design.
    big = np.asarray(ref) * 100_000
    assert statistic(big, big * 3) == pytest.approx(0.0, abs=1e-3)
    value = statistic(ref, cur)
    assert np.isfinite(value) and value >= 0


@pytest.mark.parametrize("statistic", BOUNDED)
@given(pair=counts_pair())
@settings(max_examples=60, deadline=None)
def test_bounded_statistics_stay_in_unit_interval(statistic, pair) -> None:  # type: ignore[no-untyped-def]
    assert 0.0 <= statistic(*pair) <= 1.0


@pytest.mark.parametrize("statistic", SYMMETRIC)
@given(pair=counts_pair())
@settings(max_examples=60, deadline=None)
def test_symmetric_statistics(statistic, pair) -> None:  # type: ignore[no-untyped-def]
    ref, cur = pair
    assert statistic(ref, cur) == pytest.approx(statistic(cur, ref), rel=1e-9, abs=1e-12)


@given(pair=counts_pair(), data=st.data())
@settings(max_examples=60, deadline=None)
def test_wasserstein_properties(pair, data) -> None:  # type: ignore[no-untyped-def]
    ref, cur = pair
    edges = np.cumsum(data.draw(st.lists(st.floats(0.01, 10), min_size=len(ref) - 1, max_size=len(ref) - 1)))
    std = data.draw(st.floats(0.1, 10))
    assert wasserstein_sigma_binned(ref, ref, edges, std) == pytest.approx(0.0, abs=1e-12)
    forward = wasserstein_sigma_binned(ref, cur, edges, std)
    assert forward >= 0 and forward == pytest.approx(wasserstein_sigma_binned(cur, ref, edges, std), rel=1e-9,
                                                     abs=1e-12)
    assert forward <= (edges[-1] - edges[0]) / std + 1e-9  # never more than the width of the range


def test_jensen_shannon_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        p, q = rng.integers(0, 50, 12), rng.integers(0, 50, 12)
        assert jensen_shannon_distance(p, q) == pytest.approx(float(jensenshannon(p, q, base=2)), abs=1e-12)
    assert jensen_shannon_distance([1, 0], [0, 1]) == pytest.approx(1.0)


def test_hellinger_total_variation_and_psi_golden() -> None:
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    assert hellinger_distance(p * 1000, q * 1000) == pytest.approx(
        np.linalg.norm(np.sqrt(p) - np.sqrt(q)) / np.sqrt(2), abs=1e-12)
    assert total_variation_distance(p * 1000, q * 1000) == pytest.approx(0.3)
    ps, qs = (p * 1000 + 0.5) / 1001.5, (q * 1000 + 0.5) / 1001.5
    assert population_stability_index(p * 1000, q * 1000) == pytest.approx(np.sum((qs - ps) * np.log(qs / ps)))


def test_psi_empty_bin_is_finite() -> None:
    assert 0 < population_stability_index([100, 0], [50, 50]) < 10


def test_chi_square_and_g_test_match_scipy_contingency() -> None:
    rng = np.random.default_rng(1)
    for _ in range(10):
        ref, cur = rng.integers(1, 200, 8), rng.integers(1, 200, 8)
        ref[2] = cur[2] = 0  # an empty class on both sides is dropped, like scipy would need
        keep = (ref + cur) > 0
        table = np.vstack((ref[keep], cur[keep]))
        chi = scipy.stats.chi2_contingency(table, correction=False)
        g = scipy.stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
        ours, ours_g = chi_square_test(ref, cur), g_test(ref, cur)
        assert ours.statistic == pytest.approx(chi.statistic) and ours.p_value == pytest.approx(chi.pvalue)
        assert ours_g.statistic == pytest.approx(g.statistic) and ours_g.p_value == pytest.approx(g.pvalue)
        assert ours.dof == chi.dof and ours.n_reference == ref.sum() and ours.n_current == cur.sum()


def test_binned_ks_equals_scipy_on_discrete_data_binned_at_its_values() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 20, 3000), rng.integers(2, 22, 2000)
    edges = np.arange(0, 22)
    ref = np.bincount(np.searchsorted(edges, a), minlength=23)
    cur = np.bincount(np.searchsorted(edges, b), minlength=23)
    assert ks_statistic_binned(ref, cur) == pytest.approx(scipy.stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_binned_wasserstein_approximates_scipy_on_fine_bins() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 200_000), rng.normal(0.3, 1.2, 200_000)
    edges = np.quantile(a, np.linspace(0, 1, 1001))
    ref = np.bincount(np.searchsorted(edges, a), minlength=1002)
    cur = np.bincount(np.searchsorted(edges, np.clip(b, edges[0], edges[-1])), minlength=1002)
    expected = scipy.stats.wasserstein_distance(a, np.clip(b, edges[0], edges[-1])) / np.std(a)
    assert wasserstein_sigma_binned(ref, cur, edges, float(np.std(a))) == pytest.approx(expected, rel=0.01)


def test_ks_pvalue_is_the_kolmogorov_tail_with_stephens_correction() -> None:
    for d, n, m in ((0.05, 1000, 2000), (0.02, 10_000, 10_000), (0.3, 30, 40)):
        en = np.sqrt(n * m / (n + m))
        expected = scipy.special.kolmogorov((en + 0.12 + 0.11 / en) * d)
        assert ks_pvalue(d, n, m) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert ks_pvalue(0.0, 10, 10) == 1.0
    with pytest.raises(InvalidInputError, match="statistic"):
        ks_pvalue(1.5, 10, 10)


@pytest.mark.parametrize("statistic", ALL)
def test_bad_counts_raise_clear_errors(statistic) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match="current_counts"):
        statistic([1, 2, 3], [1, 2])
    with pytest.raises(InvalidInputError, match="reference_counts"):
        statistic([1, -2, 3], [1, 2, 3])
    with pytest.raises(InvalidInputError, match="reference_counts"):
        statistic([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(InsufficientDataError):
        statistic([0, 0, 0], [1, 2, 3])
