"""The calibrated null model: golden values against scipy, properties of the chunk statistics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from drift import hellinger, jensen_shannon, psi, total_variation
from drift.calibration import _proportion_stats
from drift.noise import chi_square_quantile, numeric_shapes, proportion_shapes

counts = arrays(np.float64, st.integers(2, 12), elements=st.integers(0, 500).map(float))


@given(st.data())
@settings(max_examples=60)
def test_vectorised_chunk_statistics_equal_the_statistic_modules(data: st.DataObject) -> None:
    ref = data.draw(counts.filter(lambda a: a.sum() > 0))
    cur = data.draw(arrays(np.float64, ref.size, elements=st.integers(0, 500).map(float)).filter(lambda a: a.sum() > 0))
    rows = _proportion_stats(ref[None, :], cur[None, :])
    assert rows["psi"][0] == pytest.approx(psi.population_stability_index(ref, cur), abs=1e-12)
    assert rows["jensen_shannon"][0] == pytest.approx(jensen_shannon.jensen_shannon_distance(ref, cur), abs=1e-7)
    assert rows["hellinger"][0] == pytest.approx(hellinger.hellinger_distance(ref, cur), abs=1e-7)
    assert rows["total_variation"][0] == pytest.approx(total_variation.total_variation_distance(ref, cur), abs=1e-12)


@pytest.mark.parametrize("dof", [1, 2, 9, 59, 1023])
def test_chi_square_quantiles_match_scipy(dof: int) -> None:
    for z, q in ((2.3263478740408408, 0.99), (3.090232306167813, 0.999)):
        assert chi_square_quantile(dof, z) == pytest.approx(scipy.stats.chi2.ppf(q, dof), rel=0.03)


def test_ks_null_of_a_continuous_column_is_the_kolmogorov_distribution() -> None:
    rng = np.random.default_rng(0)
    values = np.sort(rng.normal(size=100_000))
    edges = values[99::100]
    fine = np.diff(np.concatenate(([0], np.searchsorted(values, edges, "right"), [values.size])))
    shapes = numeric_shapes(fine, edges, np.arange(99, 1000, 100), 1.0)
    assert shapes["ks"].q99 == pytest.approx(scipy.stats.kstwobign.ppf(0.99), rel=0.04)
    assert shapes["ks"].q999 == pytest.approx(scipy.stats.kstwobign.ppf(0.999), rel=0.04)
    # Wasserstein of a standard normal: E = sqrt(2/pi) * integral of sqrt(F(1-F)) dx (a known constant)
    x = np.linspace(-8, 8, 20_001)
    f = scipy.stats.norm.cdf(x)
    expected = np.sqrt(2 / np.pi) * np.trapezoid(np.sqrt(f * (1 - f)), x)
    assert np.sqrt(shapes["wasserstein_sigma"].mean_square) == pytest.approx(expected, rel=0.1)


@given(arrays(np.float64, st.integers(2, 200), elements=st.floats(0.001, 1.0)))
@settings(max_examples=40)
def test_proportion_null_shapes_are_ordered_and_positive(weights: np.ndarray) -> None:
    shapes = proportion_shapes(weights / weights.sum())
    for shape in shapes.values():
        assert 0 < shape.q99 <= shape.q999 and shape.mean_square > 0
