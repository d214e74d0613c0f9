"""Pearson chi-square test of homogeneity for class counts (or any bins).

Binning: the baseline's classes plus "other" (categorical signals). Bins empty on both sides are
dropped (they carry no information and would give 0/0); a bin empty on one side only stays. No
continuity correction. The p-value comes from scipy's chi-square tail (imported lazily). At large N
it is significant for negligible changes: the decision needs an effect size too (drift.decision).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from drift.contingency import TestResult, chi2_sf, observed_expected

NAME = "chi_square"
# p-value level, not an effect size: the level BH controls the false discovery rate at by default.
DEFAULT_THRESHOLD = 0.01


def chi_square_test(reference_counts: ArrayLike, current_counts: ArrayLike) -> TestResult:
    """Chi-square test that both count vectors come from the same distribution.

    Parameters
    ----------
    reference_counts, current_counts
        Non-negative counts per class, reference first.

    Returns
    -------
    TestResult
        Statistic ``sum((O - E)^2 / E)``, p-value, ``dof = bins - 1`` and both sample sizes.

    Raises
    ------
    InvalidInputError
        Negative, non-finite or misaligned counts.
    InsufficientDataError
        Either side has no counts.
    """
    observed, expected = observed_expected(reference_counts, current_counts, NAME)
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    dof = observed.shape[1] - 1
    n_ref, n_cur = (int(v) for v in observed.sum(axis=1))
    return TestResult(max(0.0, statistic), chi2_sf(statistic, dof), dof, n_ref, n_cur)
