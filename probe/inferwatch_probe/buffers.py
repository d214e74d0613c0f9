"""Preallocated buffers for a window's raw rows: an invocation only copies its rows in (one slice
assignment per block); binning happens in bulk, vectorised, when a buffer is full or the window ends.
Memory is bounded: a buffer holds at most ``BUFFER_VALUES`` numbers (2 MB) whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

BUFFER_VALUES = 1 << 18
MIN_ROWS, MAX_ROWS = 256, 8192


def capacity_rows(columns: int) -> int:
    return max(MIN_ROWS, min(MAX_ROWS, BUFFER_VALUES // max(columns, 1)))


class ColumnBuffer:
    """Rows of numeric columns (float64: every float32, integer up to 2**53 and bool is exact in it)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.data = np.empty((capacity_rows(len(names)), len(names)), dtype=np.float64)
        self.nulls = np.zeros(len(names), dtype=np.int64)
        self.n = 0

    def put(self, block: NDArray[Any], nulls: tuple[int, ...] | None,
            fold: Callable[[tuple[str, ...], NDArray[Any], NDArray[np.int64]], None]) -> None:
        rows = block.shape[0]
        if self.n + rows > self.data.shape[0]:
            self.flush(fold)
        if rows > self.data.shape[0]:  # larger than the whole buffer: binned at once
            fold(self.names, block, np.asarray(nulls or np.zeros(len(self.names)), dtype=np.int64))
            return
        self.data[self.n:self.n + rows] = block
        if nulls is not None:
            self.nulls += nulls
        self.n += rows

    def flush(self, fold: Callable[[tuple[str, ...], NDArray[Any], NDArray[np.int64]], None]) -> None:
        if self.n:
            fold(self.names, self.data[:self.n], self.nulls)
        self.n = 0
        self.nulls = np.zeros(len(self.names), dtype=np.int64)


class LabelBuffer:
    """Class labels: integers in a preallocated int64 array, strings in a list (never both at once)."""

    def __init__(self) -> None:
        self.ints = np.empty(MAX_ROWS, dtype=np.int64)
        self.n = 0
        self.strings: list[str] = []

    def put(self, labels: NDArray[np.int64] | list[str],
            fold: Callable[[NDArray[np.int64] | list[str]], None]) -> None:
        if isinstance(labels, np.ndarray):
            if self.strings or self.n + labels.size > self.ints.size:
                self.flush(fold)
            if labels.size > self.ints.size:
                fold(labels)
                return
            self.ints[self.n:self.n + labels.size] = labels
            self.n += labels.size
        else:
            if self.n or len(self.strings) + len(labels) > MAX_ROWS:
                self.flush(fold)
            self.strings.extend(labels)

    def flush(self, fold: Callable[[NDArray[np.int64] | list[str]], None]) -> None:
        if self.n:
            fold(self.ints[:self.n])
            self.n = 0
        if self.strings:
            fold(self.strings)
            self.strings = []


class StringBuffer:
    """Rows of categorical columns, as lists."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.columns: list[list[str | None]] = [[] for _ in names]
        self.n = 0
        self.cap = capacity_rows(len(names))

    def put(self, columns: tuple[list[str | None], ...],
            fold: Callable[[tuple[str, ...], list[list[str | None]]], None]) -> None:
        rows = len(columns[0]) if columns else 0
        if self.n + rows > self.cap:
            self.flush(fold)
        for mine, theirs in zip(self.columns, columns, strict=True):
            mine.extend(theirs)
        self.n += rows

    def flush(self, fold: Callable[[tuple[str, ...], list[list[str | None]]], None]) -> None:
        if self.n:
            fold(self.names, self.columns)
        self.columns = [[] for _ in self.names]
        self.n = 0
