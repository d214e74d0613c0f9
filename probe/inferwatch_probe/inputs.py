"""Feature batches: a model call's inputs as named numeric and categorical (string) columns, exactly as
given (float32 stays float32, nothing is rounded).

Names: with one 2-D input, ``feature_names`` (or ``<input>_<j>``); with several inputs (one per column,
as a scikit-learn ColumnTransformer exports them), each input's name, ``<input>_<j>`` for the columns of
a wider one. String tensors (and Python strings) are categorical; numbers and booleans are numeric.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAX_STRING_CHARS = 256  # longer strings are cut: a value that long is not a category


@dataclass(slots=True)
class FeatureBatch:
    rows: int
    numeric_names: tuple[str, ...] = ()
    numeric: NDArray[Any] | None = None  # [rows, len(numeric_names)], the caller's own array when possible
    numeric_nulls: tuple[int, ...] | None = None  # per numeric feature, how many were None (Python input only)
    categorical_names: tuple[str, ...] = ()
    categorical: tuple[list[str | None], ...] = ()


@functools.lru_cache(maxsize=256)
def column_names(input_name: str, width: int, feature_names: tuple[str, ...] | None) -> tuple[str, ...]:
    if feature_names is not None and len(feature_names) == width:
        return feature_names
    return (input_name,) if width == 1 else tuple(f"{input_name}_{j}" for j in range(width))


def _as_2d(value: Any) -> NDArray[Any]:
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.ndim == 1:
        return arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"inputs must be 1-D or 2-D, got shape {arr.shape}")
    return arr


def _strings(column: NDArray[Any]) -> list[str | None]:
    out: list[str | None] = []
    for v in column.tolist():
        if v is None:
            out.append(None)
        elif isinstance(v, bytes):
            out.append(v.decode("utf-8", "replace")[:MAX_STRING_CHARS])
        else:
            out.append(str(v)[:MAX_STRING_CHARS])
    return out


def _object_numeric(column: NDArray[Any]) -> tuple[NDArray[np.float64], int] | None:
    """An object column of numbers and None as floats (None -> NaN) and its None count, or None if it
    holds anything else."""
    values = column.tolist()
    if not all(v is None or (isinstance(v, int | float | np.number) and not isinstance(v, str)) for v in values):
        return None
    nulls = sum(1 for v in values if v is None)
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64), nulls


def batch_from_feed(feed: Mapping[str, Any], order: Sequence[str], feature_names: tuple[str, ...] | None
                    ) -> FeatureBatch:
    """The features in a ``session.run`` input feed, inputs taken in ``order`` (the session's own)."""
    names = [n for n in order if n in feed] or list(feed)
    if len(names) == 1:
        width = _width(feed[names[0]])
        if feature_names is not None and len(feature_names) != width:
            raise ValueError(f"{len(feature_names)} feature names for {width} input columns")
        return batch_from_matrix(feed[names[0]], column_names(names[0], width, feature_names))
    columns: dict[str, Any] = {}
    for name in names:
        arr = _as_2d(feed[name])
        for j, col_name in enumerate(column_names(name, arr.shape[1], None)):
            columns[col_name] = arr[:, j]
    if feature_names is not None and len(feature_names) == len(columns):
        columns = dict(zip(feature_names, columns.values(), strict=True))
    return batch_from_columns(columns)


def _width(value: Any) -> int:
    shape = np.shape(value)
    return 1 if len(shape) < 2 else int(shape[1])


def batch_from_matrix(value: Any, names: Sequence[str]) -> FeatureBatch:
    """One 2-D input whose columns are ``names``."""
    arr = _as_2d(value)
    if arr.shape[1] != len(names):
        raise ValueError(f"{len(names)} feature names for {arr.shape[1]} input columns")
    if arr.dtype.kind in "iubf":
        return FeatureBatch(rows=arr.shape[0], numeric_names=tuple(names), numeric=arr)
    return batch_from_columns({name: arr[:, j] for j, name in enumerate(names)})


def batch_from_columns(columns: Mapping[str, Any]) -> FeatureBatch:
    """Named 1-D columns of equal length (numbers, strings, or Python lists holding None)."""
    numeric_names: list[str] = []
    numeric: list[NDArray[Any]] = []
    nulls: list[int] = []
    cat_names: list[str] = []
    categorical: list[list[str | None]] = []
    rows = -1
    for name, value in columns.items():
        col = np.asarray(value)
        col = col.reshape(-1) if col.ndim != 1 else col
        if rows not in (-1, col.size):
            raise ValueError(f"column {name!r} has {col.size} rows, others {rows}")
        rows = col.size
        as_numbers = _object_numeric(col) if col.dtype.kind == "O" else None
        if col.dtype.kind in "iubf" or as_numbers is not None:
            numeric_names.append(name)
            numeric.append(as_numbers[0] if as_numbers is not None else col)
            nulls.append(as_numbers[1] if as_numbers is not None else 0)
        else:
            cat_names.append(name)
            categorical.append(_strings(col))
    block = np.column_stack(numeric) if numeric else None
    return FeatureBatch(rows=max(rows, 0), numeric_names=tuple(numeric_names), numeric=block,
                        numeric_nulls=tuple(nulls) if any(nulls) else None,
                        categorical_names=tuple(cat_names), categorical=tuple(categorical))
