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
        raise BaselineError(f"{where}.{key}", f"expected {kind}, got {type(value).__name__}")
    return value


def read_ints(data: Mapping[str, Any], key: str, where: str) -> NDArray[np.int64]:
    raw = require(data, key, where, list)
    if not set(map(type, raw)) <= {int}:  # exact type: bool (an int subclass) and floats are refused
        raise BaselineError(f"{where}.{key}", "expected a list of integers")
    arr = np.asarray(raw, dtype=np.int64).reshape(-1)
    if key == "counts" and arr.size and arr.min() < 0:
        raise BaselineError(f"{where}.{key}", "counts must be >= 0")
    return arr


def read_floats(data: Mapping[str, Any], key: str, where: str) -> NDArray[np.float64]:
    raw = require(data, key, where, list)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
        raise BaselineError(f"{where}.{key}", "expected a list of numbers")
    arr = np.asarray(raw, dtype=np.float64).reshape(-1)
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
