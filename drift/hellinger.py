"""Hellinger distance over the baseline's coarse bins.

Binning: the same 10 reference-quantile bins as PSI. Empty bins need no smoothing (``sqrt(p*q)`` is
0 there). Defined as ``sqrt(1 - sum(sqrt(p * q)))``, which equals ``||sqrt(p) - sqrt(q)||_2 / sqrt(2)``:
in [0, 1], symmetric, a metric.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from drift.counts import count_pair, proportions

NAME = "hellinger"
# 0.1 matches Evidently's default for Hellinger (whylogs uses 0.15 for "possible drift"). For small
# shifts H^2 ~ sum(d^2 / p) / 8 ~ the JS divergence in nats, so H ~ 0.83 * JS distance: similar scale.
DEFAULT_THRESHOLD = 0.1
WARN_THRESHOLD = DEFAULT_THRESHOLD
# Effect floor of the calibrated decision: the JS floor (0.025) times sqrt(ln 2) ~ 0.83.
EFFECT_FLOOR = 0.02


def hellinger_distance(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Hellinger distance between two count vectors over the same bins.

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
    return hellinger_unchecked(proportions(ref), proportions(cur))


def hellinger_unchecked(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    """Hellinger distance of already validated proportions (the engine's inner loop)."""
    # the norm form: 1 - sum(sqrt(p q)) loses ~1e-16 to rounding, which the square root makes 1e-8
    diff = np.sqrt(p) - np.sqrt(q)
    return float(min(1.0, np.sqrt(0.5 * np.dot(diff, diff))))
