"""Per-signal counts in a window, mergeable by adding: over the baseline's bins when a bins file gives
them, else exact values while there are few, else a log-spaced sketch (numeric) or the first values seen
plus ``other`` (categorical). ``to_json`` gives the signal's member of a window line (docs/telemetry.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from inferwatch_probe.bins import CategoricalBins, NumericBins
from inferwatch_probe.sketch import LogSketch, to_runs

MAX_EXACT_VALUES = 64  # distinct values kept exactly, per signal and window
SIGNAL_SCALE = 64  # sketch buckets per doubling: 0.54 % relative accuracy


def _nonzero(doc: dict[str, Any], **counts: int) -> dict[str, Any]:
    """Counts of special values appear only when non-zero (absent means 0), to keep lines short."""
    doc.update({k: v for k, v in counts.items() if v})
    return doc


class NumericSignal:
    def __init__(self, bins: NumericBins | None = None) -> None:
        self.bins = bins
        self.counts = np.zeros(bins.edges.size + 1, dtype=np.int64) if bins is not None else None
        self.exact: dict[float, int] | None = {} if bins is None else None
        self.sketch: LogSketch | None = None
        self.count = self.nan = self.posinf = self.neginf = self.null = 0

    def add(self, values: NDArray[Any], nulls: int = 0) -> None:
        """Add a 1-D column; ``nulls`` of its NaNs stood for None (missing) values."""
        v = np.asarray(values, dtype=np.float64)
        self.count += int(v.size)
        finite_mask = np.isfinite(v)
        finite = v
        if not bool(finite_mask.all()):
            bad = v[~finite_mask]
            nan = int(np.count_nonzero(np.isnan(bad)))
            self.nan += nan - nulls
            self.null += nulls
            self.posinf += int(np.count_nonzero(bad > 0))
            self.neginf += int(np.count_nonzero(bad < 0))
            finite = v[finite_mask]
        if self.counts is not None and self.bins is not None:
            self.counts += self.bins.count(finite)
        elif self.exact is not None:
            self._add_exact(finite)
        elif self.sketch is not None:
            self.sketch.add(finite)

    def _add_exact(self, finite: NDArray[np.float64]) -> None:
        assert self.exact is not None
        keys, counts = np.unique(finite, return_counts=True)
        for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
            self.exact[k] = self.exact.get(k, 0) + c
        if len(self.exact) > MAX_EXACT_VALUES:  # too many distinct values: from here on, a sketch
            self.sketch = LogSketch(SIGNAL_SCALE)
            self.sketch.add_counted(np.fromiter(self.exact.keys(), dtype=np.float64, count=len(self.exact)),
                                    np.fromiter(self.exact.values(), dtype=np.int64, count=len(self.exact)))
            self.exact = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kind": "numeric", "count": self.count}
        if self.counts is not None:
            doc.update(type="bins", counts=self.counts.tolist())
        elif self.exact is not None:
            values = sorted(self.exact)
            doc.update(type="exact", values=values, counts=[self.exact[v] for v in values])
        elif self.sketch is not None:
            s = self.sketch
            doc.update(type="sketch", scale=s.scale, min=s.min, max=s.max)
            _nonzero(doc, zero=s.zero)
            doc.update(pos=to_runs(s.pos), neg=to_runs(s.neg))
        return _nonzero(doc, nan=self.nan, posinf=self.posinf, neginf=self.neginf, null=self.null)

    def size_hint(self) -> int:
        """Buckets this signal would write (what shrinking a long line acts on)."""
        return self.sketch.bucket_count() if self.sketch is not None else 0


class CategoricalSignal:
    def __init__(self, bins: CategoricalBins | None = None) -> None:
        self.bins = bins
        self.counts = np.zeros(len(bins.categories), dtype=np.int64) if bins is not None else None
        self.seen: dict[str | int, int] = {}
        self.count = self.other = self.null = 0
        self.mismatched = False  # values of another type than the bins' categories were seen

    def add(self, values: Sequence[str | None] | NDArray[np.int64]) -> None:
        self.count += len(values)
        if isinstance(values, np.ndarray):
            keys, counts = np.unique(values, return_counts=True)
            distinct: list[tuple[Any, int]] = list(zip(keys.tolist(), counts.tolist(), strict=True))
        else:
            tally: dict[str | None, int] = {}
            for v in values:
                tally[v] = tally.get(v, 0) + 1
            self.null += tally.pop(None, 0)
            distinct = list(tally.items())
        for value, c in distinct:
            self._add_one(value, c)

    def _add_one(self, value: str | int, c: int) -> None:
        if self.bins is not None and self.counts is not None:
            at = self.bins.positions.get(value)
            if at is None:
                self.other += c
                self.mismatched = self.mismatched or not isinstance(value, type(self.bins.categories[0]))
            else:
                self.counts[at] += c
        elif value in self.seen or len(self.seen) < MAX_EXACT_VALUES:
            self.seen[value] = self.seen.get(value, 0) + c
        else:
            self.other += c

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kind": "categorical", "count": self.count}
        if self.counts is not None:
            doc.update(type="bins", counts=self.counts.tolist())
        else:
            doc.update(type="exact", values=list(self.seen), counts=list(self.seen.values()))
        return _nonzero(doc, other=self.other, null=self.null)

    def size_hint(self) -> int:
        return 0
