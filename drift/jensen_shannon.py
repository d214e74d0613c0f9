"""Jensen-Shannon distance (base 2) over the baseline's coarse bins.

Binning: the same 10 reference-quantile bins as PSI (fine bins would give it a large small-sample
bias). Empty bins need no smoothing: terms with zero mass contribute 0 and the mixture is never
zero where either side has mass. The distance is the square root of the divergence, in [0, 1],
symmetric, and a metric.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from drift.counts import count_pair, proportions

NAME = "jensen_shannon"
# 0.1 is the default of Evidently and NannyML for this distance (drift-anchors.md section 1); for a
# normal score it corresponds to roughly a 0.25 sigma mean shift on deciles, well above noise at >= 500 rows.
DEFAULT_THRESHOLD = 0.1
WARN_THRESHOLD = DEFAULT_THRESHOLD
# Effect floor of the calibrated decision: 0.025 is a 50/50 boolean moved by 3 points (JS ~ 0.85 x the
# move there), or a ~0.06 sigma shift on deciles; a 0.034 boolean shift and a 0.086 binary move clear it.
EFFECT_FLOOR = 0.025


def _kl_to_mixture(p: NDArray[np.float64], m: NDArray[np.float64]) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / m[mask])))


def jensen_shannon_distance(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Jensen-Shannon distance, base 2, between two count vectors over the same bins.

    Parameters
    ----------
    reference_counts, current_counts
        Non-negative counts per bin, reference first.

    Returns
    -------
    float
        In [0, 1]; 0 for identical proportions, 1 for disjoint support.

    Raises
    ------
    InvalidInputError
        Negative, non-finite or misaligned counts.
    InsufficientDataError
        Either side has no counts.
    """
    ref, cur = count_pair(reference_counts, current_counts, NAME)
    return jensen_shannon_unchecked(proportions(ref), proportions(cur))


def jensen_shannon_unchecked(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    """JS distance of already validated proportions (the engine's inner loop)."""
    m = 0.5 * (p + q)
    divergence = 0.5 * _kl_to_mixture(p, m) + 0.5 * _kl_to_mixture(q, m)
    return float(np.sqrt(min(1.0, max(0.0, divergence))))
