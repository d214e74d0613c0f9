"""Kolmogorov-Smirnov statistic from binned CDFs, and its asymptotic p-value.

Binning: the baseline's fine reference-quantile edges (about 1,000), or the subset a cloud window
was read at. The statistic is the largest CDF gap at the edges, so it is never larger than the
raw-sample statistic and differs from it by at most the mass of one bin (~0.001 with 1,000 bins).
Empty bins need no treatment. For raw samples use :func:`drift.exact.ks_exact`.

The p-value uses the Kolmogorov limit distribution with Stephens' small-sample correction,
summed in numpy: no scipy import on this path.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from drift.counts import count_pair, proportions
from drift.errors import InvalidInputError

NAME = "ks"
# 0.1: a tenth of the population on the other side of some value. KS is a p-value workhorse rather
# than an effect size (it flags 0.01 sigma at 1M rows, drift-anchors.md section 3), so it is a
# secondary statistic here: reported next to the decision statistic, not driving it by default.
DEFAULT_THRESHOLD = 0.1
WARN_THRESHOLD = DEFAULT_THRESHOLD
# Effect floor of the calibrated decision: 3% of the population on the other side of some value.
EFFECT_FLOOR = 0.03


def ks_statistic_binned(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Largest gap between the two empirical CDFs at the bin edges.

    Parameters
    ----------
    reference_counts, current_counts
        Non-negative counts per ordered bin, reference first.

    Returns
    -------
    float
        In [0, 1]; symmetric.

    Raises
    ------
    InvalidInputError
        Negative, non-finite or misaligned counts.
    InsufficientDataError
        Either side has no counts.
    """
    ref, cur = count_pair(reference_counts, current_counts, NAME)
    return ks_from_cdf_gap(np.cumsum(proportions(ref) - proportions(cur))[:-1])


def ks_from_cdf_gap(gap: NDArray[np.float64]) -> float:
    """KS statistic from ``F_ref - F_cur`` at the edges (the engine's inner loop)."""
    return float(min(1.0, np.max(np.abs(gap)))) if gap.size else 0.0


def ks_pvalue(statistic: float, n_reference: int, n_current: int) -> float:
    """Asymptotic two-sided p-value of a two-sample KS statistic.

    Parameters
    ----------
    statistic
        The KS statistic, in [0, 1].
    n_reference, n_current
        Sample sizes (>= 1).

    Returns
    -------
    float
        ``Q_KS((sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) * D)`` with ``ne = n m / (n + m)``, in [0, 1].

    Raises
    ------
    InvalidInputError
        Statistic outside [0, 1] or a sample size below 1.
    """
    if not 0.0 <= statistic <= 1.0:
        raise InvalidInputError("statistic", f"KS statistic {statistic!r} is outside [0, 1]")
    if n_reference < 1 or n_current < 1:
        raise InvalidInputError("n", f"sample sizes must be >= 1, got {n_reference} and {n_current}")
    root = math.sqrt(n_reference * n_current / (n_reference + n_current))
    lam = (root + 0.12 + 0.11 / root) * statistic
    if lam < 0.2:
        return 1.0
    total, k = 0.0, 1
    while k <= 100:  # alternating series; terms fall like exp(-2 k^2 lam^2), lam >= 0.2
        term = 2.0 * math.exp(-2.0 * k * k * lam * lam)
        total += term if k % 2 else -term
        if term < 1e-17:
            break
        k += 1
    return float(min(1.0, max(0.0, total)))
