"""Population stability index over the baseline's coarse bins.

Binning: 10 reference-quantile bins (deciles) coarsened from the baseline's fine edges, with the
out-of-range mass folded into the end bins (out-of-range has its own signal). Empty bins: each bin
gets half a count on both sides (Jeffreys smoothing) before proportions are taken, so an empty bin
contributes a large but finite term instead of infinity (Evidently fills 1e-4, frouros
``float_info.min``, which explodes). PSI is symmetric in its two arguments.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from drift.counts import count_pair

NAME = "psi"
# Industry convention (credit scoring, Siddiqi 2006; drift-anchors.md section 5): below 0.1 the
# population is stable, 0.1-0.25 deserves a look, above 0.25 it has shifted.
WARN_THRESHOLD = 0.1
DEFAULT_THRESHOLD = 0.25
# Effect floor of the calibrated decision: the convention's "stable below 0.1" (a user choosing PSI
# chooses its scale; the default statistics are Wasserstein and JS, whose floors are lower).
EFFECT_FLOOR = 0.1
_SMOOTHING = 0.5


def population_stability_index(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """PSI between two count vectors over the same bins.

    Parameters
    ----------
    reference_counts, current_counts
        Non-negative counts per bin, reference first.

    Returns
    -------
    float
        ``sum((q - p) * ln(q / p))`` over smoothed proportions; 0 for identical counts, >= 0.

    Raises
    ------
    InvalidInputError
        Negative, non-finite or misaligned counts.
    InsufficientDataError
        Either side has no counts.
    """
    ref, cur = count_pair(reference_counts, current_counts, NAME)
    return psi_unchecked(ref, cur)


def psi_unchecked(ref: NDArray[np.float64], cur: NDArray[np.float64]) -> float:
    """PSI of already validated float counts (the engine's inner loop)."""
    p = (ref + _SMOOTHING) / (ref.sum() + _SMOOTHING * ref.size)
    q = (cur + _SMOOTHING) / (cur.sum() + _SMOOTHING * cur.size)
    return max(0.0, float(np.sum((q - p) * np.log(q / p))))
