"""Noise floors: about 1% of no-drift windows exceed them, at small and large sizes."""

from __future__ import annotations

import numpy as np
import pytest

from drift.baseline import Baseline, NumericColumn
from drift.checks import coarse_counts
from drift.errors import InvalidInputError
from drift.hellinger import hellinger_distance
from drift.jensen_shannon import jensen_shannon_distance
from drift.ks import ks_statistic_binned
from drift.noise import noise_floor, rate_noise_floor
from drift.psi import population_stability_index
from drift.total_variation import total_variation_distance
from drift.wasserstein import wasserstein_sigma_binned
from drift.window import WindowCounts


@pytest.mark.parametrize("rows", [500, 20_000])
def test_about_one_percent_of_null_windows_exceed_the_floor(baseline: Baseline, rows: int) -> None:
    col = baseline.column("feature:x")
    assert isinstance(col, NumericColumn)
    rng = np.random.default_rng(rows)
    coarse_ref = coarse_counts(col, col.coarse_index)
    fine = {"ks": lambda r, c: ks_statistic_binned(r, c),
            "wasserstein_sigma": lambda r, c: wasserstein_sigma_binned(r, c, col.edges, col.std)}
    coarse = {"psi": population_stability_index, "jensen_shannon": jensen_shannon_distance,
              "hellinger": hellinger_distance, "total_variation": total_variation_distance}
    exceed = dict.fromkeys([*fine, *coarse], 0)
    trials = 600
    for _ in range(trials):
        w = WindowCounts.from_values(col, rng.normal(3.0, 2.0, rows))
        cur_coarse = w.coarsened(col.coarse_index)
        for name, fn in fine.items():
            exceed[name] += fn(col.counts, w.counts) > noise_floor(col.null_constants, name, col.finite_count, rows)
        for name, fn in coarse.items():
            exceed[name] += fn(coarse_ref, cur_coarse) > noise_floor(col.null_constants, name, col.finite_count, rows)
    for name, count in exceed.items():
        assert count <= 0.03 * trials, f"{name}: {count}/{trials} null windows above the 99% floor"
    assert sum(exceed.values()) >= 1  # a floor so high that nothing ever reaches it is not calibrated


def test_floors_shrink_with_sample_size_and_validate_input(baseline: Baseline) -> None:
    col = baseline.column("feature:x")
    small = noise_floor(col.null_constants, "wasserstein_sigma", 50_000, 500)
    large = noise_floor(col.null_constants, "wasserstein_sigma", 50_000, 50_000)
    assert small > large > 0
    assert noise_floor(col.null_constants, "psi", 1000, 1000) == pytest.approx(
        col.null_constants["psi"] * 0.002)
    assert rate_noise_floor(0.0, 100, 100) == 0.0 and rate_noise_floor(0.5, 100, 100) > 0
    with pytest.raises(InvalidInputError, match="statistic"):
        noise_floor(col.null_constants, "nope", 10, 10)
    with pytest.raises(InvalidInputError, match="n"):
        noise_floor(col.null_constants, "ks", 0, 10)
