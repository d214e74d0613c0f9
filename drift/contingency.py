"""The 2 x k contingency table shared by the chi-square and G tests of homogeneity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from drift.counts import count_pair


@dataclass(frozen=True, slots=True)
class TestResult:
    """A test statistic with its p-value, degrees of freedom and sample sizes (always shown with N)."""

    statistic: float
    p_value: float
    dof: int
    n_reference: int
    n_current: int


def observed_expected(
    reference_counts: ArrayLike, current_counts: ArrayLike, statistic: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Observed and expected (under homogeneity) 2 x k tables, without bins empty on both sides."""
    ref, cur = count_pair(reference_counts, current_counts, statistic)
    keep = (ref + cur) > 0
    observed = np.vstack((ref[keep], cur[keep]))
    rows = observed.sum(axis=1, keepdims=True)
    cols = observed.sum(axis=0, keepdims=True)
    return observed, rows * cols / observed.sum()


def chi2_sf(statistic: float, dof: int) -> float:
    """Upper tail of the chi-square distribution (scipy imported here, lazily, to keep import fast)."""
    if dof < 1:
        return 1.0
    from scipy.special import chdtrc  # scipy costs ~0.5 s to import; only p-values need it

    return float(min(1.0, max(0.0, chdtrc(dof, statistic))))
