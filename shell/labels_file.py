"""Reading a label file for ``inferwatch labels ingest``: CSV with a header, or JSON lines.

Columns (JSON members), by name: ``label`` (required), then either ``request_id`` (and ``row``, the row
within the request's batch, default 0) or ``timestamp`` and ``prediction`` (and ``score``, the
prediction's score, when known); optional ``deployment`` and ``model_version``. Other columns are
ignored. Timestamps are ISO 8601 with a time zone (``2026-01-05T10:00:00Z``) or epoch seconds or
milliseconds. A file without a ``label`` column (or a way to name the prediction) is refused as a
whole, with one message; a row that cannot be read is refused alone, with its line, and the others
are read.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from readmodels.labels import LabelInput, RowError
from shell.exits import CommandError

COLUMNS = ("label", "request_id", "row", "timestamp", "prediction", "score", "deployment", "model_version")
MAX_TEXT_CHARS = 256  # a class label, request id or deployment longer than this is not one
MAX_ROWS = 2_000_000  # ~0.5 GB of parsed rows: split a larger file
MAX_ROW_INDEX = 99  # invocation lines keep the first 100 rows of a batch
_EPOCH_MS_FROM = 100_000_000_000  # numbers from here on are epoch milliseconds (from 1973 in ms)
JSON_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})
MAX_NAMES_SHOWN = 50  # member names a message about missing columns lists


class RowProblem(ValueError):
    """One field of one row that cannot be used."""


def _text(value: Any, name: str) -> str | None:
    """A field as canonical text (integers and whole floats as integers, like class labels); None if empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RowProblem(f"{name} {value!r} is not a finite number")
        return str(int(value)) if value.is_integer() else repr(value)
    if not isinstance(value, str):
        raise RowProblem(f"{name} must be text or a number, not {type(value).__name__}")
    text = value.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise RowProblem(f"{name} is longer than {MAX_TEXT_CHARS} characters")
    return text or None


def _number(value: Any, name: str) -> float | None:
    text = _text(value, name)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError as exc:
        raise RowProblem(f"{name} {text[:40]!r} is not a number") from exc
    if not math.isfinite(number):
        raise RowProblem(f"{name} {text[:40]!r} is not a finite number")
    return number


def _time(value: Any) -> datetime | None:
    text = _text(value, "timestamp")
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        seconds = number / 1000 if abs(number) >= _EPOCH_MS_FROM else number
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise RowProblem(f"timestamp {text[:40]!r} is not a time") from exc
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError as exc:
        raise RowProblem(f"timestamp {text[:40]!r} is not ISO 8601 or epoch seconds") from exc
    if at.tzinfo is None:
        raise RowProblem(f"timestamp {text[:40]!r} has no time zone: add Z or +00:00")
    return at.astimezone(UTC)


def _row_index(value: Any) -> int:
    number = _number(value, "row")
    if number is None:
        return 0
    if not number.is_integer() or not 0 <= number <= MAX_ROW_INDEX:
        raise RowProblem(f"row {number!r} is not a row index from 0 to {MAX_ROW_INDEX}")
    return int(number)


def parse_row(line: int, fields: Mapping[str, Any]) -> LabelInput:
    """One row (column name -> value) as a :class:`LabelInput`; raises RowProblem naming the bad field."""
    label = _text(fields.get("label"), "label")
    if label is None:
        raise RowProblem("no label")
    request_id = _text(fields.get("request_id"), "request_id")
    at, predicted = _time(fields.get("timestamp")), _text(fields.get("prediction"), "prediction")
    if request_id is None and (at is None or predicted is None):
        raise RowProblem("needs a request_id, or a timestamp and a prediction")
    return LabelInput(line=line, label=label, deployment=_text(fields.get("deployment"), "deployment"),
                      request_id=request_id, row=_row_index(fields.get("row")), at=at, predicted=predicted,
                      score=_number(fields.get("score"), "score"),
                      model_version=_text(fields.get("model_version"), "model_version"))


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, Mapping[str, Any] | RowProblem]]:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise CommandError(f"{path}: no header row (expected columns such as request_id,label)") from exc
    _check_columns(path, set(header))
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, RowProblem(f"not a CSV row: {exc}")
            continue
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            yield reader.line_num, RowProblem(f"{len(values)} fields for {len(header)} columns")
            continue
        yield reader.line_num, dict(zip(header, values, strict=False))


def _check_columns(path: Path, columns: set[str]) -> None:
    shown = ", ".join(sorted(c[:40] for c in columns)[:MAX_NAMES_SHOWN]) or "none"
    if "label" not in columns:
        raise CommandError(f"{path}: no 'label' column (columns: {shown})")
    if "request_id" not in columns and not {"timestamp", "prediction"} <= columns:
        raise CommandError(f"{path}: needs a request_id column, or timestamp and prediction columns (columns: {shown})")


def _json_rows(path: Path, text: str) -> Iterator[tuple[int, Mapping[str, Any] | RowProblem]]:
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, RowProblem(f"not JSON: {str(exc)[:80]}")
            continue
        if not isinstance(doc, dict):
            yield number, RowProblem("not a JSON object")
            continue
        fields = {str(k).lower(): v for k, v in doc.items()}
        if len(seen) < MAX_NAMES_SHOWN:
            seen.update(fields)
        yield number, fields
    if seen:
        _check_columns(path, seen)
    elif text.strip():
        raise CommandError(f"{path}: no row is a JSON object (expected members such as request_id and label)")


def read_label_file(path: Path) -> tuple[list[LabelInput], list[RowError]]:
    """The rows of a label file and the rows refused while reading it (each with its line).

    Raises
    ------
    CommandError
        The file cannot be read, is not UTF-8, has no label column or too many rows.
    OSError
        The system refuses the file (the root command turns it into one line).
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    as_json = path.suffix.lower() in JSON_SUFFIXES or text.lstrip().startswith("{")
    rows: list[LabelInput] = []
    errors: list[RowError] = []
    for line, fields in (_json_rows if as_json else _csv_rows)(path, text):
        if len(rows) + len(errors) >= MAX_ROWS:
            raise CommandError(f"{path}: more than {MAX_ROWS:,} rows: split the file")
        if isinstance(fields, RowProblem):
            errors.append(RowError(line, str(fields)))
            continue
        try:
            rows.append(parse_row(line, fields))
        except RowProblem as exc:
            errors.append(RowError(line, str(exc)))
    if not rows and not errors:
        raise CommandError(f"{path}: no label rows")
    return rows, errors
