"""G-test (log-likelihood ratio) of homogeneity for class counts (or any bins).

Binning: as :mod:`drift.chi_square`. Empty cells contribute 0 (``0 * ln 0 = 0``); bins empty on both
sides are dropped. The p-value comes from the chi-square limit with ``bins - 1`` degrees of freedom.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from drift.contingency import TestResult, chi2_sf, observed_expected

NAME = "g_test"
# p-value level, as for chi-square.
DEFAULT_THRESHOLD = 0.01


def g_test(reference_counts: ArrayLike, current_counts: ArrayLike) -> TestResult:
    """G-test that both count vectors come from the same distribution.

    Parameters
    ----------
    reference_counts, current_counts
        Non-negative counts per class, reference first.

    Returns
    -------
    TestResult
        Statistic ``2 * sum(O * ln(O / E))``, p-value, ``dof = bins - 1`` and both sample sizes.

    Raises
    ------
    InvalidInputError
        Negative, non-finite or misaligned counts.
    InsufficientDataError
        Either side has no counts.
    """
    observed, expected = observed_expected(reference_counts, current_counts, NAME)
    mask = observed > 0
    statistic = float(2.0 * np.sum(observed[mask] * np.log(observed[mask] / expected[mask])))
    dof = observed.shape[1] - 1
    n_ref, n_cur = (int(v) for v in observed.sum(axis=1))
    return TestResult(max(0.0, statistic), chi2_sf(max(0.0, statistic), dof), dof, n_ref, n_cur)
