"""Bounded input summaries for invocation lines, with every value exact: a float is written as the
shortest decimal that reads back to the same double (Python's ``repr``; a float32 input becomes the
double it equals, so nothing is lost), an integer as itself, a string as itself (cut at 256 characters).
JSON has no NaN or infinities: they are written as the strings "NaN", "Infinity" and "-Infinity".

Rounding here would be wrong, not merely imprecise: values rounded to 6 digits fell outside the
baseline's range and reported drift on unshifted traffic.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from inferwatch_probe.inputs import FeatureBatch

NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def exact(value: Any) -> Any:
    """A JSON-safe, exact form of one number (non-finite floats as strings)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def exact_list(values: list[Any]) -> list[Any]:
    if all(not isinstance(v, float) or math.isfinite(v) for v in values):
        return values
    return [exact(v) for v in values]


@functools.lru_cache(maxsize=1024)
def spread_rows(n: int, k: int) -> tuple[int, ...]:
    """Up to ``k`` row positions spread evenly over ``n`` rows, first and last included."""
    if n <= 0 or k <= 0:
        return ()
    if k >= n:
        return tuple(range(n))
    if k == 1:
        return (0,)
    return tuple(sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}))


def summarize(batches: Sequence[FeatureBatch], max_rows: int
              ) -> tuple[dict[str, list[Any]], dict[str, list[str | None]], int]:
    """(numeric values per feature, string values per feature, rows kept) for up to ``max_rows`` rows
    spread over every batch of the invocation."""
    total = sum(b.rows for b in batches)
    picks = spread_rows(total, max_rows)
    numeric: dict[str, list[Any]] = {}
    strings: dict[str, list[str | None]] = {}
    offset = 0
    for b in batches:
        mine = [p - offset for p in picks if offset <= p < offset + b.rows]
        offset += b.rows
        if not mine:
            continue
        if b.numeric is not None:
            block = b.numeric[mine]
            if block.dtype.kind == "b":  # JSON booleans are not numbers to a reader of InputSummary
                block = block.astype(np.int64)
            columns = block.T.tolist()  # float32 -> the exact double; integers stay integers
            if block.dtype.kind == "f" and not np.isfinite(block).all():
                columns = [exact_list(c) for c in columns]
            if not numeric:
                numeric = dict(zip(b.numeric_names, columns, strict=True))
            else:
                for name, column in zip(b.numeric_names, columns, strict=True):
                    numeric.setdefault(name, []).extend(column)
        for name, values in zip(b.categorical_names, b.categorical, strict=True):
            strings.setdefault(name, []).extend(values[p] for p in mine)
    return numeric, strings, len(picks)


def shrink(numeric: dict[str, list[Any]], strings: dict[str, list[str | None]], rows: int
           ) -> tuple[dict[str, list[Any]], dict[str, list[str | None]], int]:
    """The first half of the kept rows (what a line over its size cap falls back to)."""
    half = rows // 2
    return ({k: v[:half] for k, v in numeric.items()} if half else {},
            {k: v[:half] for k, v in strings.items()} if half else {}, half)
