"""Reading and writing the JSON forms of baselines and window counts, with errors naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drift.errors import BaselineError


def require(data: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    """``data[key]`` checked to be of ``kind`` (bool is never accepted as a number)."""
    if key not in data:
        raise BaselineError(f"{where}.{key}", "missing")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise BaselineError(f"{where}.{key}", f"expected {names}, got {type(value).__name__}")
    return value


# Counts beyond 2**53 cannot come from real data, and summing a column of them must not overflow int64.
MAX_COUNT = 2**53


def read_ints(data: Mapping[str, Any], key: str, where: str) -> NDArray[np.int64]:
    raw = require(data, key, where, list)
    if not set(map(type, raw)) <= {int}:  # exact type: bool (an int subclass) and floats are refused
        raise BaselineError(f"{where}.{key}", "expected a list of integers")
    if any(not -MAX_COUNT <= v <= MAX_COUNT for v in raw):
        raise BaselineError(f"{where}.{key}", f"values must lie within +-{MAX_COUNT}")
    arr = np.asarray(raw, dtype=np.int64).reshape(-1)
    if key == "counts" and arr.size and arr.min() < 0:
        raise BaselineError(f"{where}.{key}", "counts must be >= 0")
    return arr


def read_count(data: Mapping[str, Any], key: str, where: str) -> int:
    value = int(require(data, key, where, int))
    if not 0 <= value <= MAX_COUNT:
        raise BaselineError(f"{where}.{key}", f"must be a count in [0, {MAX_COUNT}], got {value}")
    return value


def read_finite(data: Mapping[str, Any], key: str, where: str) -> float:
    value = require(data, key, where, (int, float))
    try:
        number = float(value)
    except OverflowError as exc:  # an integer beyond the float range
        raise BaselineError(f"{where}.{key}", "must be a finite number") from exc
    if not np.isfinite(number):
        raise BaselineError(f"{where}.{key}", f"must be a finite number, got {number}")
    return number


def read_constants(data: Mapping[str, Any], where: str, required: tuple[str, ...]) -> dict[str, float]:
    """The noise constants: every ``required`` statistic present, each a finite number >= 0."""
    raw = require(data, "null_constants", where, dict)
    missing = [name for name in required if name not in raw]
    if missing:
        raise BaselineError(f"{where}.null_constants", f"missing {', '.join(missing)}")
    out = {str(k): read_finite(raw, k, f"{where}.null_constants") for k in raw}
    negative = sorted(k for k, v in out.items() if v < 0)
    if negative:
        raise BaselineError(f"{where}.null_constants", f"must be >= 0: {', '.join(negative)}")
    return out


def read_floats(data: Mapping[str, Any], key: str, where: str) -> NDArray[np.float64]:
    raw = require(data, key, where, list)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
        raise BaselineError(f"{where}.{key}", "expected a list of numbers")
    try:
        arr = np.asarray(raw, dtype=np.float64).reshape(-1)
    except OverflowError as exc:  # an integer beyond the float range
        raise BaselineError(f"{where}.{key}", "values must be finite") from exc
    if not np.all(np.isfinite(arr)):
        raise BaselineError(f"{where}.{key}", "values must be finite")
    return arr


def float_list(values: NDArray[np.float64], dtype: str) -> list[float]:
    """Floats for JSON. Edges of float32 data are float32 values: writing them as the shortest string
    that round-trips through float32 halves the JSON size; :func:`restore_dtype` makes them exact again."""
    if dtype == "float32":
        return [float(str(v)) for v in values.astype(np.float32)]
    return [float(v) for v in values.tolist()]


def restore_dtype(values: NDArray[np.float64], dtype: str) -> NDArray[np.float64]:
    if dtype == "float32":
        restored: NDArray[np.float64] = values.astype(np.float32).astype(np.float64)
        return restored
    return values
