"""Log-spaced buckets that merge exactly: the latency histogram and the sketch of numeric signals.

With ``scale`` buckets per doubling, bucket ``i`` holds the values ``v`` with
``2**((i-1)/scale) < v <= 2**(i/scale)``, that is ``i = ceil(scale * log2(v))``. The bounds are fixed by the
formula, not by the data, so buckets written by any instance in any window add up exactly. Negative values
go to a second set of buckets by their magnitude; magnitudes below ``ZERO_LIMIT`` count as zero.

Accuracy: any value inside bucket ``i`` is within a factor ``2**(1/scale)`` of the bucket's bounds, so the
bucket's geometric middle ``2**((i-0.5)/scale)`` is within ``2**(0.5/scale) - 1`` of every value in it:
0.54 % at scale 64 (the signal sketch), 4.4 % at scale 8 (latency). A quantile read from the buckets is
therefore within that relative error of the true one, and a count of values <= x is exact except for the
values sharing x's bucket. Halving the scale merges buckets ``2j-1`` and ``2j`` into ``j`` (exactly), which
is how a reader merges sketches of different scales and how a line that is too long is shortened.

Runs encoding (JSON): a list of runs ``[first_index, count_0, count_1, ...]``: bucket ``first_index + k``
holds ``count_k``. Runs are sorted and do not overlap; a run is split where three or more empty buckets
would follow one another, so sparse and dense data both stay short.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

ZERO_LIMIT = 2.0 ** -30  # about 9.3e-10: magnitudes below count as zero
_RUN_GAP = 3


def bucket_indexes(magnitudes: NDArray[np.float64], scale: int) -> NDArray[np.int64]:
    """``ceil(scale * log2(m))`` for positive finite magnitudes >= ZERO_LIMIT."""
    indexes: NDArray[np.int64] = np.ceil(np.log2(magnitudes) * scale).astype(np.int64)
    return indexes


def bucket_bounds(index: int, scale: int) -> tuple[float, float]:
    """(lower exclusive, upper inclusive) bound of bucket ``index``."""
    return 2.0 ** ((index - 1) / scale), 2.0 ** (index / scale)


def add_counts(store: dict[int, int], indexes: NDArray[np.int64]) -> None:
    if indexes.size == 0:
        return
    keys, counts = np.unique(indexes, return_counts=True)
    for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
        store[k] = store.get(k, 0) + c


def coarsen(store: dict[int, int]) -> dict[int, int]:
    """The same counts at half the scale: bucket i goes to ceil(i / 2)."""
    out: dict[int, int] = {}
    for i, c in store.items():
        j = -((-i) // 2)
        out[j] = out.get(j, 0) + c
    return out


def to_runs(store: dict[int, int]) -> list[list[int]]:
    runs: list[list[int]] = []
    last = None
    for i in sorted(store):
        c = store[i]
        if c == 0:
            continue
        if last is not None and i - last <= _RUN_GAP:
            runs[-1].extend([0] * (i - last - 1))
            runs[-1].append(c)
        else:
            runs.append([i, c])
        last = i
    return runs


def from_runs(runs: Iterable[list[int]]) -> dict[int, int]:
    store: dict[int, int] = {}
    for run in runs:
        for k, c in enumerate(run[1:]):
            if c:
                store[run[0] + k] = store.get(run[0] + k, 0) + c
    return store


class LogSketch:
    """Counts of finite values in log-spaced buckets, with exact count, min, max (and sum)."""

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self.pos: dict[int, int] = {}
        self.neg: dict[int, int] = {}
        self.zero = 0
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, finite: NDArray[np.float64]) -> None:
        """Add finite values (the caller has taken NaN and infinities apart)."""
        if finite.size == 0:
            return
        self.count += int(finite.size)
        self.total += float(finite.sum())
        self.min = min(self.min, float(finite.min()))
        self.max = max(self.max, float(finite.max()))
        magnitude = np.abs(finite)
        big = magnitude >= ZERO_LIMIT
        self.zero += int(finite.size - np.count_nonzero(big))
        positive = finite > 0
        add_counts(self.pos, bucket_indexes(magnitude[big & positive], self.scale))
        add_counts(self.neg, bucket_indexes(magnitude[big & ~positive], self.scale))

    def add_counted(self, values: NDArray[np.float64], counts: NDArray[np.int64]) -> None:
        """Distinct finite ``values`` seen ``counts`` times each (exact counts turning into a sketch)."""
        if values.size == 0:
            return
        self.count += int(counts.sum())
        self.total += float(np.dot(values, counts))
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))
        magnitude = np.abs(values)
        big = magnitude >= ZERO_LIMIT
        self.zero += int(counts[~big].sum())
        for store, mask in ((self.pos, big & (values > 0)), (self.neg, big & (values < 0))):
            idx = bucket_indexes(magnitude[mask], self.scale)  # the same numpy log2 as ``add``
            for i, c in zip(idx.tolist(), counts[mask].tolist(), strict=True):
                store[i] = store.get(i, 0) + c

    def halve(self) -> None:
        self.scale //= 2
        self.pos, self.neg = coarsen(self.pos), coarsen(self.neg)

    def bucket_count(self) -> int:
        return len(self.pos) + len(self.neg)
