"""Counting categorical values (predicted classes, labels) against a baseline's class list.

Classes are identified by their canonical string: integers (and integral floats) as ``str(int)``,
strings as themselves. Null is None, or NaN in a float array. Values not among the baseline's
classes count as "other" (the last count). Non-negative integer arrays take a ``bincount`` path
(>= 750 Mrows/s); anything else goes through ``np.unique``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from drift.errors import InvalidInputError

_BINCOUNT_LIMIT = 1 << 20


@dataclass(frozen=True, slots=True)
class CategoryCounts:
    counts: NDArray[np.int64]  # one per class, then "other"
    null_count: int


def _canonical(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def category_keys(values: object, field: str) -> tuple[NDArray[np.str_], int]:
    """Canonical string keys of the non-null values, and the null count."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInputError(field, f"expected a 1-D array, got shape {arr.shape}")
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64).astype(str), 0
    if arr.dtype.kind == "f":
        finite = arr[~np.isnan(arr)]
        if np.any(np.isinf(finite)) or np.any(finite != np.round(finite)):
            raise InvalidInputError(field, "float class labels must be whole numbers (or NaN for null)")
        return finite.astype(np.int64).astype(str), int(arr.size - finite.size)
    if arr.dtype.kind in "US":
        return arr.astype(str), 0
    if arr.dtype.kind == "O":
        nulls = [v is None or (isinstance(v, float) and math.isnan(v)) for v in arr]
        keys = [_canonical(v) for v, null in zip(arr, nulls) if not null]
        return np.asarray(keys, dtype=str), int(sum(nulls))
    raise InvalidInputError(field, f"categorical signal has unsupported dtype {arr.dtype}")


def _int_codes(categories: tuple[str, ...]) -> NDArray[np.int64]:
    codes = np.full(len(categories), -1, dtype=np.int64)
    for i, cat in enumerate(categories):
        if cat.isdigit() and str(int(cat)) == cat:
            codes[i] = int(cat)
    return codes


def count_categories(values: NDArray[np.generic], categories: tuple[str, ...], field: str) -> CategoryCounts:
    """Counts of ``values`` per class in ``categories``, then "other", plus the null count."""
    arr = np.asarray(values)
    counts = np.zeros(len(categories) + 1, dtype=np.int64)
    if arr.ndim == 1 and arr.dtype.kind in "iu" and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo >= 0 and hi < _BINCOUNT_LIMIT:
            hist = np.bincount(arr, minlength=hi + 1)
            codes = _int_codes(categories)
            known = (codes >= 0) & (codes <= hi)
            counts[:-1][known] = hist[codes[known]]
            counts[-1] = arr.size - counts[:-1].sum()
            return CategoryCounts(counts, 0)
    keys, null_count = category_keys(arr, field)
    if keys.size:
        uniq, cnt = np.unique(keys, return_counts=True)
        index = {cat: i for i, cat in enumerate(categories)}
        for key, c in zip(uniq.tolist(), cnt.tolist()):
            counts[index.get(key, len(categories))] += c
    return CategoryCounts(counts, null_count)
