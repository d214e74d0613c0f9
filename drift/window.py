"""Window state: integer counts over a baseline column's bins, mergeable by addition.

A :class:`WindowCounts` is what a collector stores per signal and time step. It is made from raw
values (local collector), from CloudWatch percentile ranks ``PR(:edge)`` (AWS) or from Cloud
Monitoring distribution buckets (GCP), and windows merge exactly by adding counts, in any order.
Numeric counts carry a *layout* (the baseline edge indices they were counted at): local windows use
all edges, cloud windows the subset of :func:`drift.cloud.bin_edges_for_cloud`. Merging windows of
different layouts coarsens both to their shared edges, which is still exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drift.baseline import CategoricalColumn, Column, NumericColumn
from drift.binning import coarsen, common_layout, count_values, split_nulls
from drift.categories import count_categories
from drift.errors import IncompatibleBinsError, InvalidInputError
from drift.serial import read_ints, require

FORMAT = 1


def _frozen(arr: NDArray[np.int64]) -> NDArray[np.int64]:
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class WindowCounts:
    """Counts of one signal in one window over a baseline column's bins.

    ``counts`` are finite values per bin (numeric: ``len(layout) + 1`` right-closed bins) or per class
    then "other" (categorical). ``layout`` is None for categorical columns.
    """

    kind: str  # "numeric" | "categorical"
    column_digest: str
    counts: NDArray[np.int64]
    layout: NDArray[np.int64] | None = None
    nan_count: int = 0
    posinf_count: int = 0
    neginf_count: int = 0
    null_count: int = 0

    @property
    def finite_count(self) -> int:
        """Values counted into bins (numeric: finite ones; categorical: non-null ones)."""
        return int(self.counts.sum())

    @property
    def total_count(self) -> int:
        return self.finite_count + self.nan_count + self.posinf_count + self.neginf_count + self.null_count

    @property
    def is_empty(self) -> bool:
        return self.total_count == 0

    @classmethod
    def empty(cls, column: Column) -> WindowCounts:
        """A window with no rows (``no_data`` in a comparison)."""
        if isinstance(column, NumericColumn):
            return cls("numeric", column.digest, _frozen(np.zeros(column.edges.size + 1, np.int64)),
                       _frozen(column.full_layout))
        return cls("categorical", column.digest, _frozen(np.zeros(len(column.categories) + 1, np.int64)))

    @classmethod
    def from_values(cls, column: Column, values: object) -> WindowCounts:
        """Count raw values of one signal over ``column``'s bins (None/NaN/inf counted apart)."""
        if isinstance(column, CategoricalColumn):
            cat = count_categories(np.asarray(values), column.categories, column.name)
            return cls("categorical", column.digest, _frozen(cat.counts), None, null_count=cat.null_count)
        arr, nulls = split_nulls(values, column.name)
        binned = count_values(arr, column.edges)
        return cls("numeric", column.digest, _frozen(binned.counts), _frozen(column.full_layout),
                   nan_count=binned.nan_count - nulls, posinf_count=binned.posinf_count,
                   neginf_count=binned.neginf_count, null_count=nulls)

    @classmethod
    def from_cdf_fractions(cls, column: NumericColumn, fractions: object, total_count: int, *,
                           layout: object = None, nan_count: int = 0) -> WindowCounts:
        """Counts from the share of values <= each edge (CloudWatch ``PR(:edge)`` / 100).

        ``fractions[i]`` is the share at edge ``layout[i]`` (default: all edges); ``total_count`` is the
        number of values in the window (CloudWatch ``SampleCount``). Shares are rounded to counts.
        """
        lay = _layout(column, layout)
        frac = np.asarray(fractions, dtype=np.float64)
        if frac.shape != lay.shape:
            raise InvalidInputError("fractions", f"{frac.size} fractions for {lay.size} edges")
        if not np.all(np.isfinite(frac)) or (frac.size and (frac.min() < 0 or frac.max() > 1)):
            raise InvalidInputError("fractions", "shares must be in [0, 1] (CloudWatch PR is a percent: / 100)")
        if np.any(np.diff(frac) < -1e-9):
            bad = int(np.argmax(np.diff(frac) < -1e-9)) + 1
            raise InvalidInputError("fractions", f"share decreases at edge position {bad}")
        _check_count(total_count, "total_count")
        cum = np.round(np.maximum.accumulate(frac) * total_count).astype(np.int64)
        counts = np.diff(np.concatenate(([0], cum, [total_count])))
        return cls("numeric", column.digest, _frozen(counts), _frozen(lay), nan_count=_check_count(nan_count,
                                                                                                   "nan_count"))

    @classmethod
    def from_bucket_counts(cls, column: NumericColumn, bucket_counts: object, *, layout: object = None,
                           nan_count: int = 0, posinf_count: int = 0, neginf_count: int = 0,
                           null_count: int = 0) -> WindowCounts:
        """Counts from a distribution whose explicit bucket bounds came from ``bin_edges_for_cloud``
        (``len(layout) + 1`` buckets: underflow, one per bound, overflow), or from a probe's counts over
        a bins file's edges; the values counted apart (NaN, infinities, nulls) as given."""
        lay = _layout(column, layout)
        raw = np.asarray(bucket_counts)
        if raw.ndim != 1 or raw.size != lay.size + 1:
            raise InvalidInputError("bucket_counts", f"expected {lay.size + 1} buckets, got shape {raw.shape}")
        if raw.size and (raw.dtype.kind not in "iu" and not np.all(raw == np.round(raw))):
            raise InvalidInputError("bucket_counts", "bucket counts must be whole numbers")
        counts = raw.astype(np.int64)
        if counts.size and counts.min() < 0:
            raise InvalidInputError("bucket_counts", "bucket counts must be >= 0")
        return cls("numeric", column.digest, _frozen(counts), _frozen(lay),
                   nan_count=_check_count(nan_count, "nan_count"),
                   posinf_count=_check_count(posinf_count, "posinf_count"),
                   neginf_count=_check_count(neginf_count, "neginf_count"),
                   null_count=_check_count(null_count, "null_count"))

    @classmethod
    def from_category_counts(cls, column: CategoricalColumn, counts: object, *, other_count: int = 0,
                             null_count: int = 0) -> WindowCounts:
        """Counts already made per category of ``column``, in its order (a probe's counts over a bins
        file's categories), plus the values outside them and the nulls."""
        raw = np.asarray(counts)
        if raw.ndim != 1 or raw.size != len(column.categories) or (raw.size and raw.dtype.kind not in "iu"):
            raise InvalidInputError("counts", f"expected {len(column.categories)} whole counts, got {raw.size} "
                                    f"of dtype {raw.dtype}")
        if raw.size and raw.min() < 0:
            raise InvalidInputError("counts", "counts must be >= 0")
        full = np.append(raw.astype(np.int64), _check_count(other_count, "other_count"))
        return cls("categorical", column.digest, _frozen(full), None, null_count=_check_count(null_count,
                                                                                              "null_count"))

    def coarsened(self, layout: NDArray[np.int64]) -> NDArray[np.int64]:
        """Counts over a sub-layout of this window's layout."""
        if self.layout is None:
            raise InvalidInputError("layout", "categorical counts have no layout")
        return coarsen(self.counts, self.layout, layout)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": FORMAT, "kind": self.kind, "column_digest": self.column_digest,
                                "counts": self.counts.tolist(), "nan_count": self.nan_count,
                                "posinf_count": self.posinf_count, "neginf_count": self.neginf_count,
                                "null_count": self.null_count}
        if self.layout is not None and not (self.layout.size and self.layout[-1] == self.layout.size - 1):
            data["layout"] = self.layout.tolist()  # only when it is not the full edge list
        elif self.layout is not None:
            data["layout_size"] = int(self.layout.size)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowCounts:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise InvalidInputError("window", "not a WindowCounts dict of format 1")
        kind = require(data, "kind", "window", str)
        counts = read_ints(data, "counts", "window")
        layout: NDArray[np.int64] | None = None
        if kind == "numeric":
            if "layout" in data:
                layout = read_ints(data, "layout", "window")
            else:
                layout = np.arange(int(require(data, "layout_size", "window", int)), dtype=np.int64)
            if layout.size + 1 != counts.size:
                raise InvalidInputError("window.layout", f"{layout.size} edges for {counts.size} counts")
        elif kind != "categorical":
            raise InvalidInputError("window.kind", f"unknown kind {kind!r}")
        return cls(kind, str(require(data, "column_digest", "window", str)), _frozen(counts),
                   None if layout is None else _frozen(layout),
                   **{k: int(require(data, k, "window", int))
                      for k in ("nan_count", "posinf_count", "neginf_count", "null_count")})


def _check_count(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InvalidInputError(field, f"must be a non-negative integer, got {value!r}")
    return int(value)


def _layout(column: NumericColumn, layout: object) -> NDArray[np.int64]:
    if layout is None:
        return column.full_layout
    lay = np.asarray(layout, dtype=np.int64)
    if lay.ndim != 1 or (lay.size and (np.any(np.diff(lay) <= 0) or lay[0] < 0 or lay[-1] >= column.edges.size)):
        raise InvalidInputError("layout", "must be increasing indices into the baseline's edges")
    return lay


def merge(a: WindowCounts, b: WindowCounts) -> WindowCounts:
    """Exact sum of two windows of the same signal (coarsened to shared edges if layouts differ)."""
    if a.kind != b.kind or a.column_digest != b.column_digest:
        raise IncompatibleBinsError("merge", "windows were counted over different baseline columns")
    layout: NDArray[np.int64] | None = None
    if a.layout is not None and b.layout is not None:
        layout = common_layout(a.layout, b.layout)
        counts = a.coarsened(layout) + b.coarsened(layout)
    else:
        if a.counts.shape != b.counts.shape:
            raise IncompatibleBinsError("merge", "categorical windows with different class lists")
        counts = a.counts + b.counts
    return WindowCounts(a.kind, a.column_digest, _frozen(counts), None if layout is None else _frozen(layout),
                        a.nan_count + b.nan_count, a.posinf_count + b.posinf_count,
                        a.neginf_count + b.neginf_count, a.null_count + b.null_count)


def merge_all(windows: Iterable[WindowCounts]) -> WindowCounts:
    """Sum of one or more windows of the same signal."""
    items = list(windows)
    if not items:
        raise InvalidInputError("windows", "nothing to merge")
    first = items[0]
    if _same_bins(first, items):  # the common case (every step counted over the same bins): one sum
        return WindowCounts(first.kind, first.column_digest, _frozen(np.sum([w.counts for w in items], axis=0)),
                            first.layout, *(sum(getattr(w, k) for w in items) for k in _EXTRA_COUNTS))
    total = first
    for item in items[1:]:
        total = merge(total, item)
    return total


_EXTRA_COUNTS = ("nan_count", "posinf_count", "neginf_count", "null_count")


def _same_bins(first: WindowCounts, items: Sequence[WindowCounts]) -> bool:
    return all(w.kind == first.kind and w.column_digest == first.column_digest and w.counts.shape == first.counts.shape
               and (w.layout is first.layout or (w.layout is not None and first.layout is not None
                                                 and np.array_equal(w.layout, first.layout)))
               for w in items[1:])
