"""Noise floors: how large each statistic gets under no drift, for given sample sizes.

Under no drift the reference and current proportions differ by sampling noise only; for large
samples ``p_ref - p_cur ~ sqrt(1/N_ref + 1/N_cur) * Z`` with ``Z ~ Normal(0, diag(p) - p p^T)``
(the multinomial limit). Every statistic here is, to first order, a fixed functional of that gap:
KS, Wasserstein, TVD, JS distance and Hellinger scale with ``sqrt(1/N_ref + 1/N_cur)``, PSI with
``1/N_ref + 1/N_cur``. So the baseline stores one constant per statistic, the 99th percentile of the
functional of ``Z`` simulated once at build time from the baseline's own proportions (a fixed seed:
baselines are deterministic), and the floor for any window size is that constant times the scale.
This is NannyML's "calibrate on the reference" idea without keeping the reference or re-running it,
and it replaces the closed form ``E[PSI] ~ (k - 1)(1/N_ref + 1/N_cur)`` by a tail quantile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from drift.errors import InvalidInputError
from drift.wasserstein import integrate_gap

QUANTILE = 0.99
REPLICATES = 1000
_SEED = 20261124
_LN2 = math.log(2.0)
# One-sided 99% normal quantile, for rate signals (NaN, inf, null, out-of-range).
_Z99 = 2.3263478740408408

SQRT_SCALED = ("ks", "wasserstein_sigma", "total_variation", "jensen_shannon", "hellinger")
LINEAR_SCALED = ("psi",)
# The constants each kind of column keeps (what :func:`categorical_constants` and
# :func:`numeric_constants` return): a baseline missing one cannot be read.
CATEGORICAL_CONSTANTS = ("psi", "jensen_shannon", "hellinger", "total_variation")
NUMERIC_CONSTANTS = ("ks", "wasserstein_sigma", *CATEGORICAL_CONSTANTS)


def _gaussian_gaps(probs: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float64]:
    g = rng.standard_normal((REPLICATES, probs.size)) * np.sqrt(probs)
    gaps: NDArray[np.float64] = g - probs * g.sum(axis=1, keepdims=True)
    return gaps


def _quantile(values: NDArray[np.float64]) -> float:
    return float(np.quantile(values, QUANTILE))


def _proportion_constants(gaps: NDArray[np.float64], probs: NDArray[np.float64]) -> dict[str, float]:
    positive = probs > 0
    chi = np.sum(gaps[:, positive] ** 2 / probs[positive], axis=1)
    return {
        "psi": _quantile(chi),
        "jensen_shannon": _quantile(np.sqrt(chi / (8.0 * _LN2))),
        "hellinger": _quantile(np.sqrt(chi / 8.0)),
        "total_variation": _quantile(0.5 * np.sum(np.abs(gaps), axis=1)),
    }


def numeric_constants(
    fine_counts: NDArray[np.int64], edges: NDArray[np.float64], coarse_index: NDArray[np.int64], std: float
) -> dict[str, float]:
    """Null constants for a numeric column from its fine counts, edges and coarse layout."""
    probs = fine_counts / fine_counts.sum()
    rng = np.random.default_rng(_SEED)
    gaps = _gaussian_gaps(probs, rng)
    cdf_gaps = np.cumsum(gaps, axis=1)[:, :-1]
    constants = {"ks": _quantile(np.max(np.abs(cdf_gaps), axis=1, initial=0.0))}
    widths = np.diff(edges)
    wass = integrate_gap(cdf_gaps, widths) if widths.size else np.zeros(REPLICATES)
    constants["wasserstein_sigma"] = _quantile(wass / (std if std > 0 else 1.0))
    starts = np.concatenate(([0], coarse_index + 1))
    coarse_gaps = np.add.reduceat(gaps, starts, axis=1)
    coarse_probs = np.add.reduceat(probs, starts)
    constants.update(_proportion_constants(coarse_gaps, coarse_probs))
    return constants


def categorical_constants(counts: NDArray[np.int64]) -> dict[str, float]:
    """Null constants for a categorical column from its class counts (incl. "other")."""
    probs = counts / counts.sum()
    return _proportion_constants(_gaussian_gaps(probs, np.random.default_rng(_SEED)), probs)


def noise_floor(constants: Mapping[str, float], statistic: str, n_reference: int, n_current: int) -> float:
    """The 99th percentile of ``statistic`` under no drift for these sample sizes.

    Parameters
    ----------
    constants
        The column's null constants (``NumericColumn.null_constants``).
    statistic
        A statistic name from :data:`SQRT_SCALED` or :data:`LINEAR_SCALED`.
    n_reference, n_current
        Sample sizes (>= 1).

    Returns
    -------
    float
        The floor, >= 0.

    Raises
    ------
    InvalidInputError
        Unknown statistic or a sample size below 1.
    """
    if n_reference < 1 or n_current < 1:
        raise InvalidInputError("n", f"sample sizes must be >= 1, got {n_reference} and {n_current}")
    if statistic not in constants:
        raise InvalidInputError("statistic", f"no noise constant for {statistic!r}")
    scale = 1.0 / n_reference + 1.0 / n_current
    factor = scale if statistic in LINEAR_SCALED else math.sqrt(scale)
    return float(constants[statistic]) * factor


def rate_noise_floor(reference_rate: float, n_reference: int, n_current: int) -> float:
    """One-sided 99% bound on how much a rate can rise under no drift (normal approximation)."""
    if n_reference < 1 or n_current < 1:
        raise InvalidInputError("n", f"sample sizes must be >= 1, got {n_reference} and {n_current}")
    p = min(1.0, max(0.0, reference_rate))
    return _Z99 * math.sqrt(p * (1.0 - p) * (1.0 / n_reference + 1.0 / n_current))
