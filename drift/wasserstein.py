"""Wasserstein-1 distance from binned CDFs, divided by the reference standard deviation.

Binning: the baseline's fine reference-quantile edges (or a cloud subset of them). Within a bin
both CDFs are taken as linear (values spread uniformly over the bin), so the distance is the exact
integral of ``|F_ref - F_cur|`` between piecewise-linear CDFs. Mass outside the reference range
is placed at the range ends (the out-of-range signal reports it), so this is the distance between
the two distributions clipped to ``[min, max]`` of the reference. Empty bins need no treatment.

Dividing by the reference sigma makes it unit-free: a mean shift of ``k`` sigma gives about ``k``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from drift.counts import count_pair, proportions
from drift.errors import InvalidInputError

NAME = "wasserstein_sigma"
# 0.1 sigma: Evidently's WD-norm default. It sits exactly on a 0.1 sigma mean shift, so that shift
# flips like a coin (drift-anchors.md section 3); 0.01 sigma is ten times below, 0.5 sigma five times above.
DEFAULT_THRESHOLD = 0.1
WARN_THRESHOLD = DEFAULT_THRESHOLD
# Effect floor of the calibrated decision (drift.decision): 0.05 sigma, five times the 0.01 sigma that
# must never alert and half Evidently's 0.1, so a moderate 0.09 sigma shift (a credit limit) is caught once
# it clears the noise of its window.
EFFECT_FLOOR = 0.05


def integrate_gap(gap: NDArray[np.float64], widths: NDArray[np.float64]) -> NDArray[np.float64]:
    """Integral of ``|g|`` for a piecewise-linear ``g`` with values ``gap[..., i]`` at the edges and
    ``widths[i]`` between edge ``i`` and ``i + 1``; vectorised over leading axes."""
    a, b = gap[..., :-1], gap[..., 1:]
    abs_a, abs_b = np.abs(a), np.abs(b)
    segment = 0.5 * (abs_a + abs_b)
    crossing = (a * b) < 0  # the gap changes sign inside the bin: two triangles
    if np.any(crossing):
        ca, cb = abs_a[crossing], abs_b[crossing]
        segment[crossing] = (ca * ca + cb * cb) / (2.0 * (ca + cb))
    result: NDArray[np.float64] = np.sum(segment * widths, axis=-1)
    return result


def wasserstein_sigma_binned(
    reference_counts: ArrayLike, current_counts: ArrayLike, edges: ArrayLike, reference_std: float
) -> float:
    """Wasserstein-1 distance between binned samples, in reference standard deviations.

    Parameters
    ----------
    reference_counts, current_counts
        Counts over the right-closed bins of ``edges`` (``len(edges) + 1`` bins), reference first.
    edges
        Increasing finite interior edges.
    reference_std
        Standard deviation of the reference; when it is 0 the distance is returned in data units.

    Returns
    -------
    float
        >= 0; symmetric; 0 for identical proportions.

    Raises
    ------
    InvalidInputError
        Misaligned counts, non-increasing edges or a negative/non-finite standard deviation.
    InsufficientDataError
        Either side has no counts.
    """
    ref, cur = count_pair(reference_counts, current_counts, NAME)
    edge_arr = np.asarray(edges, dtype=np.float64)
    if edge_arr.ndim != 1 or not np.all(np.isfinite(edge_arr)):
        raise InvalidInputError("edges", "edges must be a 1-D array of finite values")
    if edge_arr.size + 1 != ref.size:
        raise InvalidInputError("edges", f"{edge_arr.size} edges for {ref.size} bins")
    widths = np.diff(edge_arr)
    if np.any(widths <= 0):
        raise InvalidInputError("edges", "edges must be strictly increasing")
    if not np.isfinite(reference_std) or reference_std < 0:
        raise InvalidInputError("reference_std", f"must be finite and >= 0, got {reference_std!r}")
    return wasserstein_from_cdf_gap(np.cumsum(proportions(ref) - proportions(cur))[:-1], widths, reference_std)


def wasserstein_from_cdf_gap(gap: NDArray[np.float64], widths: NDArray[np.float64], reference_std: float) -> float:
    """Wasserstein/sigma from ``F_ref - F_cur`` at the edges and the widths between them (inner loop)."""
    distance = float(integrate_gap(gap, widths)) if widths.size else 0.0
    return max(0.0, distance / reference_std if reference_std > 0 else distance)
