"""The counts of a probe's window line (docs/telemetry.md, "Window lines", "Signals", "Sketches"): parsed
into typed values, merged, and turned into the drift engine's :class:`~drift.WindowCounts` over a
baseline's bins.

How each kind of signal lands on the baseline's bins:

- ``bins`` (counted over a bins file exported from the baseline): exact, through the file's layout
  (``WindowCounts.from_bucket_counts``); categorical bins are the baseline's categories in its order.
- numeric ``exact`` (at most 64 distinct values with their counts): every value is binned where it lies,
  so the counts are exactly what binning the raw values gives.
- numeric ``sketch`` (log-spaced buckets): each bucket's count goes to the baseline bin holding the
  bucket's representative value, its geometric middle ``2^((i-0.5)/scale)`` (clamped to the signal's
  exact ``min`` and ``max``). A bucket lying inside one baseline bin lands exactly; only a bucket that
  straddles a baseline edge can put some of its values in the neighbouring bin. At the probe's scale 64
  a bucket spans 1.1 % of its values (``2^(1/64)``), so only values within 1.1 % of a baseline edge can
  be misplaced, by one bin; counts, the special values and out-of-range values beyond that are exact.
- categorical ``exact``: each listed value counts in its category (integers as their canonical text),
  values the baseline never saw and ``other`` count as "other".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from collectors.line_fields import FieldReader, finite, shown
from drift import WindowCounts
from drift.baseline import CategoricalColumn, Column, NumericColumn

SCALES = (1, 2, 4, 8, 16, 32, 64)  # buckets per doubling a sketch may have (the probe writes 4-64)
MAX_BUCKET_INDEX = 1 << 20  # a double's magnitude is below 2^1024: index <= 64 * 1024
MAX_COUNT = 2**53
SIGNAL_NAME = re.compile(r"score|value|class|feature:.{1,256}", re.DOTALL)
_SPECIAL_NUMERIC = ("nan", "posinf", "neginf", "null")


@dataclass(frozen=True, slots=True)
class LogBuckets:
    """Log-spaced bucket counts: ``pos``/``neg`` bucket index -> count (``neg`` by magnitude), ``zero``
    the magnitudes below 2^-30."""

    scale: int
    zero: int = 0
    pos: Mapping[int, int] = field(default_factory=dict)
    neg: Mapping[int, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return self.zero + sum(self.pos.values()) + sum(self.neg.values())

    def at_scale(self, scale: int) -> LogBuckets:
        """The same counts at a coarser ``scale`` (exact: halving merges buckets 2j-1 and 2j into j)."""
        pos, neg, current = dict(self.pos), dict(self.neg), self.scale
        while current > scale:
            pos, neg, current = _halve(pos), _halve(neg), current // 2
        return LogBuckets(current, self.zero, pos, neg)

    def middles(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """(representative value, count) of every non-empty bucket, ascending: each bucket's geometric
        middle, 0 for the zero bucket."""
        neg = sorted(self.neg.items(), reverse=True)
        pos = sorted(self.pos.items())
        values = [-(2.0 ** ((i - 0.5) / self.scale)) for i, _ in neg] + ([0.0] if self.zero else [])
        values += [2.0 ** ((i - 0.5) / self.scale) for i, _ in pos]
        counts = [c for _, c in neg] + ([self.zero] if self.zero else []) + [c for _, c in pos]
        return np.asarray(values, dtype=np.float64), np.asarray(counts, dtype=np.int64)


def _halve(store: Mapping[int, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for i, c in store.items():
        j = -((-i) // 2)
        out[j] = out.get(j, 0) + c
    return out


def merge_buckets(items: Sequence[LogBuckets]) -> LogBuckets:
    """Sum of bucket counts, at the coarsest scale among them (finer ones are halved first, exactly)."""
    scale = min(b.scale for b in items)
    pos: dict[int, int] = {}
    neg: dict[int, int] = {}
    zero = 0
    for b in items:
        b = b.at_scale(scale)
        zero += b.zero
        for store, add in ((pos, b.pos), (neg, b.neg)):
            for i, c in add.items():
                store[i] = store.get(i, 0) + c
    return LogBuckets(scale, zero, pos, neg)


def bucket_quantile(buckets: LogBuckets, q: float, lowest: float, highest: float) -> float:
    """The q-quantile (0 <= q <= 1, the value at rank ``floor(q * (n - 1))``) read from the buckets: the
    representative of the bucket holding that rank, clamped to the exact [lowest, highest]. Within the
    buckets' relative accuracy (4.4 % at scale 8) of the sample's quantile."""
    values, counts = buckets.middles()
    rank = int(q * (int(counts.sum()) - 1))
    at = int(np.searchsorted(np.cumsum(counts), rank, side="right"))
    return float(min(max(values[min(at, values.size - 1)], lowest), highest))


def parse_buckets(reader: FieldReader, doc: Mapping[str, Any], where: str, *, signed: bool) -> LogBuckets:
    """``scale``, ``zero`` and the runs ``pos`` (and ``neg`` when ``signed``) of a sketch member."""
    scale = doc.get("scale")
    if scale not in SCALES or isinstance(scale, bool):
        reader.add(where + "scale", f"must be one of {list(SCALES)}, got {shown(scale)}")
        scale = 1
    zero = reader.integer(doc, "zero", where, maximum=MAX_COUNT, default=0)
    pos = _runs(reader, doc, "runs" if not signed else "pos", where)
    neg = _runs(reader, doc, "neg", where) if signed else {}
    return LogBuckets(int(scale), zero, pos, neg)


def _runs(reader: FieldReader, doc: Mapping[str, Any], key: str, where: str) -> dict[int, int]:
    """Runs ``[[first_index, count_0, count_1, ...], ...]``, sorted and not overlapping."""
    buckets: dict[int, int] = {}
    previous_end: int | None = None
    for run in reader.array(doc, key, where):
        if (not isinstance(run, list) or len(run) < 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                                  for v in run)
                or abs(run[0]) > MAX_BUCKET_INDEX or min(run[1:]) < 0 or max(run[1:]) > MAX_COUNT):
            reader.add(where + key, f"must hold runs [first_index, count, ...] of whole numbers, got {shown(run)}")
            return {}
        if previous_end is not None and run[0] <= previous_end:
            reader.add(where + key, "runs must be sorted and must not overlap")
            return {}
        buckets.update({run[0] + k: c for k, c in enumerate(run[1:]) if c})
        previous_end = run[0] + len(run) - 2
    return buckets


@dataclass(frozen=True, slots=True)
class SignalCounts:
    """One signal of a window line. ``counts`` are per bin (``bins``) or per listed value (``exact``);
    ``sketch``, ``lowest`` and ``highest`` describe a ``sketch``; the rest are the special counts."""

    name: str
    kind: str  # numeric | categorical
    type: str  # bins | exact | sketch
    count: int
    counts: tuple[int, ...] = ()
    values: tuple[float | int | str, ...] = ()
    sketch: LogBuckets | None = None
    lowest: float = 0.0
    highest: float = 0.0
    nan: int = 0
    posinf: int = 0
    neginf: int = 0
    null: int = 0
    other: int = 0


def parse_signal(reader: FieldReader, name: str, doc: object) -> SignalCounts | None:
    """One member of ``signals``; None (with problems recorded) when it is off the contract."""
    where = f"signals.{name}."
    if not SIGNAL_NAME.fullmatch(name):
        reader.add(f"signals.{name}", "is not a signal name (score, value, class or feature:<name>)")
        return None
    if not isinstance(doc, dict):
        reader.add(f"signals.{name}", f"must be an object, got {shown(doc)}")
        return None
    before = len(reader.problems)
    kind = reader.text(doc, "kind", where, choices=("numeric", "categorical"))
    kind_type = reader.text(doc, "type", where, choices=("bins", "exact") if kind == "categorical"
                            else ("bins", "exact", "sketch"))
    count = reader.integer(doc, "count", where, maximum=MAX_COUNT)
    specials = {k: reader.integer(doc, k, where, maximum=MAX_COUNT, default=0)
                for k in (_SPECIAL_NUMERIC if kind == "numeric" else ("other", "null"))}
    signal = SignalCounts(name, kind, kind_type, count, nan=specials.get("nan", 0),
                          posinf=specials.get("posinf", 0), neginf=specials.get("neginf", 0),
                          null=specials["null"], other=specials.get("other", 0))
    finite_count = 0
    if kind_type == "sketch":
        sketch = parse_buckets(reader, doc, where, signed=True)
        low, high = finite(doc.get("min")), finite(doc.get("max"))
        if sketch.count and (low is None or high is None or low > high):
            reader.add(where + "min", "and max must be finite numbers with min <= max")
        signal = dataclasses.replace(signal, sketch=sketch, lowest=low or 0.0, highest=high or 0.0)
        finite_count = sketch.count
    elif kind_type in ("bins", "exact"):
        counts = _counts(reader, doc, where)
        values = _values(reader, doc, where, kind, len(counts)) if kind_type == "exact" else ()
        signal = dataclasses.replace(signal, counts=counts, values=values)
        finite_count = sum(counts)
    if len(reader.problems) > before:
        return None
    if count != finite_count + sum(specials.values()):
        reader.add(where + "count", f"{count} is not the {finite_count} counted plus {sum(specials.values())} "
                   "special values")
        return None
    return signal


def _counts(reader: FieldReader, doc: Mapping[str, Any], where: str) -> tuple[int, ...]:
    counts = reader.array(doc, "counts", where, max_items=4096)
    if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= MAX_COUNT for c in counts):
        reader.add(where + "counts", "must hold whole numbers >= 0")
        return ()
    return tuple(counts)


def _values(reader: FieldReader, doc: Mapping[str, Any], where: str, kind: str,
            n_counts: int) -> tuple[float | int | str, ...]:
    values = reader.array(doc, "values", where, max_items=64)
    if len(values) != n_counts:
        reader.add(where + "values", f"must hold one value per count ({n_counts})")
    elif kind == "numeric" and (any(finite(v) is None for v in values) or values != sorted(set(values))):
        reader.add(where + "values", "must be distinct finite numbers, ascending")
    elif kind == "categorical" and (not all(isinstance(v, str) and len(v) <= 256 or isinstance(v, int)
                                            and not isinstance(v, bool) for v in values)
                                    or len(set(values)) != len(values)):
        reader.add(where + "values", "must be distinct strings (of at most 256 characters) or integers")
    else:
        return tuple(values)
    return ()


def window_counts(signal: SignalCounts, column: Column, layout: NDArray[np.int64] | None = None) -> WindowCounts:
    """The signal's counts over ``column``'s bins; ``layout``: the bins file's edge indices, for numeric
    ``bins`` signals. Raises drift's errors when the counts do not fit the column."""
    if isinstance(column, CategoricalColumn):
        return _categorical(signal, column)
    if signal.type == "bins":
        binned = np.asarray(signal.counts, dtype=np.int64)
    else:
        layout = None
        if signal.type == "exact":
            at, weights = np.asarray(signal.values, dtype=np.float64), np.asarray(signal.counts, dtype=np.int64)
        else:
            assert signal.sketch is not None
            middles, weights = signal.sketch.middles()
            at = np.clip(middles, signal.lowest, signal.highest)
        binned = _bin(column, at, weights)
    return WindowCounts.from_bucket_counts(column, binned, layout=layout, nan_count=signal.nan,
                                           posinf_count=signal.posinf, neginf_count=signal.neginf,
                                           null_count=signal.null)


def _bin(column: NumericColumn, values: NDArray[np.float64], weights: NDArray[np.int64]) -> NDArray[np.int64]:
    """Weighted counts of finite values in the right-closed bins of every edge of ``column``."""
    where = np.searchsorted(column.edges, values, side="left")  # bin i: (edges[i-1], edges[i]]
    return np.bincount(where, weights=weights, minlength=column.edges.size + 1).astype(np.int64)


def _categorical(signal: SignalCounts, column: CategoricalColumn) -> WindowCounts:
    if signal.type == "bins":
        return WindowCounts.from_category_counts(column, signal.counts, other_count=signal.other,
                                                 null_count=signal.null)
    index = {c: i for i, c in enumerate(column.categories)}
    counts = [0] * len(column.categories)
    other = signal.other
    for value, c in zip(signal.values, signal.counts, strict=True):
        at = index.get(str(value))  # integer labels are categories by their canonical text
        if at is None:
            other += c
        else:
            counts[at] += c
    return WindowCounts.from_category_counts(column, counts, other_count=other, null_count=signal.null)
