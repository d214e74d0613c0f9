"""Binning: reference-quantile edges, the counting kernel and exact coarsening of counts.

Bins are right-closed, like CloudWatch's percentile rank ``PR(:edge)`` (the share of values <= edge):
with interior edges ``e_0 < ... < e_{K-1}``, bin 0 is ``(-inf, e_0]``, bin ``i`` is ``(e_{i-1}, e_i]``
and bin ``K`` is ``(e_{K-1}, +inf)``. Only finite values are binned; NaN, +inf and -inf are counted
apart (they are drift signals of their own, see :mod:`drift.compare`).

Edges are order statistics of the reference (actual data values, never interpolated), so that they
are exactly representable in the data's dtype and discrete data gets one bin per value. The first
edge is the float just below the reference minimum and the last edge is the reference maximum, so
bin 0 holds exactly the values below the reference range and the last bin exactly those above it.

A *layout* is a sorted subset of edge indices. Counts over a layout can be coarsened exactly to any
sub-layout by summing neighbouring bins; this is how windows read from the clouds at fewer edges
merge with windows counted locally at all edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from drift.errors import InvalidInputError

# Sorting blocks of 2**16 values and searching the edges into each sorted block is the fastest exact
# binning measured here (40 ms for 5M float32 against 1001 edges, vs 600 ms for searchsorted of the
# values into the edges): the block sort is SIMD and stays in cache.
_BLOCK = 1 << 16

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class BinnedValues:
    """Counts of finite values per bin plus the non-finite counts."""

    counts: IntArray
    nan_count: int
    posinf_count: int
    neginf_count: int

    @property
    def finite_count(self) -> int:
        return int(self.counts.sum())


def _edges_for_dtype(edges: FloatArray, dtype: np.dtype[np.floating]) -> NDArray[np.floating]:
    """The largest values of ``dtype`` that are <= each float64 edge, so that ``v <= e`` is decided
    exactly in the data's own dtype (no per-block up-cast)."""
    if dtype == np.float64:
        return edges
    cast = edges.astype(dtype)
    too_big = cast.astype(np.float64) > edges
    if np.any(too_big):
        cast[too_big] = np.nextafter(cast[too_big], dtype.type(-np.inf))
    return cast


def split_nulls(values: object, field: str) -> tuple[NDArray[np.floating], int]:
    """A 1-D float array of ``values`` (float32 stays float32) and how many were None (null).

    None in object arrays becomes NaN in the array; callers subtract the null count from NaNs.
    """
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInputError(field, f"expected a 1-D array, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        return (arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64)), 0
    if arr.dtype.kind in "iub":
        return arr.astype(np.float64), 0
    if arr.dtype.kind == "O":
        nulls = sum(1 for v in arr if v is None)
        try:
            floats = np.array([np.nan if v is None else float(v) for v in arr], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(field, f"non-numeric value in a numeric signal ({exc})") from exc
        return floats, nulls
    raise InvalidInputError(field, f"numeric signal has dtype {arr.dtype}, expected numbers")


def count_values(values: NDArray[np.floating], edges: FloatArray) -> BinnedValues:
    """Count ``values`` into the right-closed bins of ``edges`` (len(edges) + 1 bins)."""
    typed_edges = _edges_for_dtype(edges, values.dtype)
    inf = values.dtype.type(np.inf)
    cum = np.zeros(edges.size, dtype=np.int64)
    nan = posinf = neginf = finite = 0
    for start in range(0, values.size, _BLOCK):
        block = np.sort(values[start:start + _BLOCK])
        n_neg = int(np.searchsorted(block, -inf, "right"))
        lt_inf = int(np.searchsorted(block, inf, "left"))
        le_inf = int(np.searchsorted(block, inf, "right"))
        cum += np.searchsorted(block, typed_edges, "right")
        cum -= n_neg
        neginf += n_neg
        posinf += le_inf - lt_inf
        nan += block.size - le_inf
        finite += lt_inf - n_neg
    counts = np.empty(edges.size + 1, dtype=np.int64)
    counts[0] = cum[0] if edges.size else finite
    if edges.size:
        counts[1:-1] = np.diff(cum)
        counts[-1] = finite - cum[-1]
    return BinnedValues(counts=counts, nan_count=nan, posinf_count=posinf, neginf_count=neginf)


def fit_edges(sorted_finite: FloatArray, n_bins: int) -> FloatArray:
    """Interior edges for ``n_bins`` reference-quantile bins over the sorted finite reference.

    Returns ``[prev(min), q_1, ..., q_{n_bins-1}, max]`` without duplicates, where ``q_j`` is the
    order statistic at rank ``ceil(j * n / n_bins)``. A reference with at most ``n_bins // 4``
    distinct values gets the discrete layout of :func:`discrete_edges` instead.
    """
    n = sorted_finite.size
    if n == 0:
        return np.empty(0, dtype=np.float64)
    distinct = 1 + int(np.count_nonzero(sorted_finite[1:] != sorted_finite[:-1]))
    if distinct <= max(1, n_bins // 4):
        return discrete_edges(np.unique(sorted_finite), n_bins)
    ranks = np.ceil(np.arange(1, n_bins) * (n / n_bins)).astype(np.int64) - 1
    # just below the minimum in the data's own dtype, so float32 edges stay float32-representable
    below = float(np.nextafter(sorted_finite[0], sorted_finite.dtype.type(-np.inf)))
    inner = sorted_finite[np.clip(ranks, 0, n - 1)].astype(np.float64)
    edges = np.concatenate(([below], inner, [float(sorted_finite[-1])]))
    return np.unique(edges)


def discrete_edges(atoms: NDArray[np.floating], n_bins: int) -> FloatArray:
    """Edges for a reference made of a few values (counts, booleans, ratings, codes).

    Each value ``a`` gets a bin of its own, ``(prev(a), a]``, and each gap between two values is cut
    into up to 8 equal sub-bins (an even number, so that the gap's midpoint is an edge). Quantile
    bins would put a value just above ``a`` into the next value's bin and spread it over the whole
    gap: a Poisson feature shifted by 0.05 sigma then measured a Wasserstein of 0.55 sigma. With the
    sub-bins, mass that moves off the reference's values is located to within 1/16 of the gap.
    """
    dtype = atoms.dtype
    d = atoms.size
    per_gap = max(1, min(8, (n_bins - 2 * d) // max(1, d - 1)))
    per_gap -= per_gap % 2 if per_gap > 1 else 0
    below = np.nextafter(atoms, dtype.type(-np.inf))
    parts = [below.astype(np.float64), atoms.astype(np.float64)]
    if per_gap > 1 and d > 1:
        lo, hi = atoms[:-1].astype(np.float64), atoms[1:].astype(np.float64)
        steps = np.arange(1, per_gap, dtype=np.float64) / per_gap
        inner = (lo[:, None] + (hi - lo)[:, None] * steps[None, :]).astype(dtype).astype(np.float64)
        # keep sub-edges strictly inside their gap (rounding to the dtype can land on an atom)
        ok = (inner > lo[:, None]) & (inner < below[1:].astype(np.float64)[:, None])
        parts.append(inner[ok])
    return np.unique(np.concatenate(parts))


def count_sorted(sorted_finite: NDArray[np.floating], edges: FloatArray) -> IntArray:
    """Counts of already sorted finite values in the right-closed bins of ``edges`` (no second sort)."""
    cum = np.searchsorted(sorted_finite, _edges_for_dtype(edges, sorted_finite.dtype), "right")
    return np.diff(np.concatenate(([0], cum, [sorted_finite.size]))).astype(np.int64)


def coarsen(counts: IntArray, layout: IntArray, target: IntArray) -> IntArray:
    """Sum counts over ``layout`` (edge indices, len(counts) - 1 of them) into bins over ``target``,
    which must be a subset of ``layout``."""
    if layout is target or (layout.size == target.size and np.array_equal(layout, target)):
        return counts
    if layout.size and layout[0] == 0 and layout[-1] == layout.size - 1:  # all edges: index = position
        pos = target
        valid = target.size == 0 or (target[0] >= 0 and target[-1] < layout.size)
    else:
        pos = np.searchsorted(layout, target)
        valid = bool(np.all(pos < layout.size)) and bool(np.all(layout[np.minimum(pos, layout.size - 1)] == target))
    if not valid:
        raise InvalidInputError("layout", "target edges are not a subset of the counts' edges")
    cum = np.cumsum(counts)
    out = np.empty(target.size + 1, dtype=counts.dtype)
    picked = cum[pos]
    out[0] = picked[0] if target.size else cum[-1]
    if target.size:
        out[1:-1] = np.diff(picked)
        out[-1] = cum[-1] - picked[-1]
    return out


def common_layout(a: IntArray, b: IntArray) -> IntArray:
    """The finest layout both ``a`` and ``b`` can be coarsened to exactly: their shared edges."""
    if a.size == b.size and np.array_equal(a, b):
        return a
    return np.intersect1d(a, b, assume_unique=True)
