"""Reference data from a CSV or Parquet file: the rows a baseline is built from and the demo's traffic is
drawn from, checked column by column against what the model takes.

A numeric column must hold a finite number in every row, a string column a value in every row: the
first problem found is one :class:`ReferenceDataError` naming the file, the column and the line (CSV) or
row (Parquet). CSV is read as text (every value checked by us, so a stray ``abc`` is named, not read as
NaN); Parquet needs pyarrow (it comes with streamlit).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from shell.exits import CommandError

SUFFIXES = (".csv", ".parquet", ".pq")


class ReferenceDataError(CommandError):
    """The reference data cannot be used: ``path``, and the ``column`` and ``row`` when one is at fault."""

    def __init__(self, path: Path, problem: str, *, column: str | None = None, row: int | None = None) -> None:
        where = f"column {column!r}" if column is not None else ""
        if row is not None:
            where += f", {'line' if path.suffix.lower() == '.csv' else 'row'} {row}"
        super().__init__(f"{path}: {where + ': ' if where else ''}{problem}")
        self.path = path
        self.column = column
        self.row = row


@dataclass(frozen=True)
class ReferenceTable:
    """Columns by name: float64 arrays for numbers, object arrays of str for strings."""

    path: Path
    columns: Mapping[str, NDArray[Any]]
    rows: int

    def is_string(self, name: str) -> bool:
        return self.columns[name].dtype == object


def read_frame(path: Path) -> pd.DataFrame:
    """The file as a frame of raw values (CSV: every cell as text, nothing parsed)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ReferenceDataError(path, f"not a CSV or Parquet file (expected {', '.join(SUFFIXES)})")
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
        else:
            try:
                import pyarrow  # noqa: F401  # only to say clearly when Parquet cannot be read
            except ImportError as exc:
                raise ReferenceDataError(path, "reading Parquet needs pyarrow: pip install pyarrow") from exc
            frame = pd.read_parquet(path)
    except ReferenceDataError:
        raise
    except FileNotFoundError as exc:
        raise ReferenceDataError(path, "no such file") from exc
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ReferenceDataError(path, f"cannot be read: {str(exc).splitlines()[0][:200]}") from exc
    if frame.empty:
        raise ReferenceDataError(path, "holds no rows")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise ReferenceDataError(path, "two columns have the same name")
    frame.columns = names
    return frame


def _row(path: Path, i: int) -> int:
    return i + 2 if path.suffix.lower() == ".csv" else i  # CSV: the file's line (line 1 is the header)


def numeric_column(path: Path, name: str, raw: pd.Series) -> NDArray[np.float64]:
    # text that is not a number, and missing values of any column type (None, NaN, <NA>), become NaN
    out = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        i = int(bad[0])
        shown = raw.iloc[i]
        if shown is None or (isinstance(shown, float) and math.isnan(shown)) or str(shown).strip() == "":
            problem = "missing value (a numeric column needs a number in every row)"
        elif str(shown).strip().lower() in ("nan", "-nan"):
            problem = "NaN is not a value: fill or drop the row"
        else:
            problem = f"{str(shown)[:40]!r} is not a finite number"
        more = f" ({bad.size} such rows)" if bad.size > 1 else ""
        raise ReferenceDataError(path, problem + more, column=name, row=_row(path, i))
    return out


def string_column(path: Path, name: str, raw: pd.Series) -> NDArray[Any]:
    values = raw.tolist()
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip()):
            raise ReferenceDataError(path, "missing value (a string column needs a value in every row)",
                                     column=name, row=_row(path, i))
    return np.asarray([str(v) for v in values], dtype=object)


def read_table(path: Path, *, numeric: Sequence[str], strings: Sequence[str], optional: Sequence[str] = (),
               frame: pd.DataFrame | None = None) -> tuple[ReferenceTable, list[str]]:
    """The named columns, checked; ``optional`` columns are kept as they are (a label column). Returns the
    table and the file's other columns (left unused). ``frame``: the file already read by ``read_frame``."""
    frame = read_frame(path) if frame is None else frame
    missing = [c for c in (*numeric, *strings, *optional) if c not in frame.columns]
    if missing:
        raise ReferenceDataError(path, f"no column {', '.join(repr(c) for c in missing)} (its columns: "
                                       f"{', '.join(frame.columns[:20])}{' ...' if len(frame.columns) > 20 else ''})")
    columns: dict[str, NDArray[Any]] = {}
    for name in numeric:
        columns[name] = numeric_column(path, name, frame[name])
    for name in strings:
        columns[name] = string_column(path, name, frame[name])
    for name in optional:
        columns[name] = np.asarray(frame[name].tolist(), dtype=object)
    used = {*numeric, *strings, *optional}
    return ReferenceTable(path, columns, len(frame)), [c for c in frame.columns if c not in used]
