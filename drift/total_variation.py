"""Total variation distance over the baseline's coarse bins (numeric) or classes (categorical).

Binning: 10 reference-quantile bins for numeric signals, the baseline's classes plus "other" for
categorical ones. Empty bins need no treatment (|p - q| is defined). ``0.5 * sum(|p - q|)``: the
largest difference in probability any event can have; in [0, 1], symmetric, a metric.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from drift.counts import count_pair, proportions

NAME = "total_variation"
# 0.05: five percent of the predictions changed bin/class. A quarter of the PSI 0.25 "shifted" level
# in probability mass terms, and above the sampling noise of a 500-row window on 10 classes (~0.04 at 99%).
DEFAULT_THRESHOLD = 0.05
WARN_THRESHOLD = DEFAULT_THRESHOLD
# Effect floor of the calibrated decision: 2.5% of the mass moved (a 50/50 boolean moved by 2.5 points).
EFFECT_FLOOR = 0.025


def total_variation_distance(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Total variation distance between two count vectors over the same bins.

    Parameters
    ----------
    reference_counts, current_counts
        Non-negative counts per bin, reference first.

    Returns
    -------
    float
        In [0, 1]; 0 for identical proportions.

    Raises
    ------
    InvalidInputError
        Negative, non-finite or misaligned counts.
    InsufficientDataError
        Either side has no counts.
    """
    ref, cur = count_pair(reference_counts, current_counts, NAME)
    return total_variation_unchecked(proportions(ref), proportions(cur))


def total_variation_unchecked(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    """TVD of already validated proportions (the engine's inner loop)."""
    return float(min(1.0, 0.5 * np.sum(np.abs(p - q))))
