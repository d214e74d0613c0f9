"""Validation of the count vectors every binned statistic takes (reference first, then current)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from drift.errors import InsufficientDataError, InvalidInputError


def count_vector(values: ArrayLike, field: str) -> NDArray[np.float64]:
    """``values`` as a 1-D float64 array of non-negative finite counts."""
    arr = np.asarray(values, dtype=np.float64) if not isinstance(values, np.ndarray) else values
    if arr.ndim != 1:
        raise InvalidInputError(field, f"expected 1-D counts, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0):
        raise InvalidInputError(field, "counts must be finite and non-negative")
    return arr


def count_pair(
    reference_counts: ArrayLike, current_counts: ArrayLike, statistic: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validated reference and current counts over the same bins, each with at least one count."""
    ref = count_vector(reference_counts, "reference_counts")
    cur = count_vector(current_counts, "current_counts")
    if ref.shape != cur.shape:
        raise InvalidInputError("current_counts", f"{cur.size} bins, reference has {ref.size}")
    if ref.size == 0:
        raise InvalidInputError("reference_counts", "no bins")
    n = int(min(ref.sum(), cur.sum()))
    if n < 1:
        raise InsufficientDataError(statistic, n, 1)
    return ref, cur


def proportions(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = counts / counts.sum(axis=-1, keepdims=True)
    return result
