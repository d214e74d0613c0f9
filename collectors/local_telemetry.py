"""Parse Inferwatch's invocation lines (docs/telemetry.md: the probe's ``inferwatch.invocation/2`` and the
reference service's pre-probe lines, both EMF) into typed records.

Parsing is strict: a line that does not follow the contract raises :class:`TelemetryLineError`
naming every field at fault (the first in its message), and the collector quarantines it. As in any EMF
line, a metric's value may be a one-element array (``"LatencyMs": [3.2]``); the probe's ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` strings in value arrays are those values, counted apart by the drift
engine, not errors. Whatever a line holds, parsing raises nothing
else. Nesting is bounded before parsing (a line of 100,000 ``[`` once took the standard library's
parser into RecursionError); the parser is orjson, which is strict JSON (no NaN or Infinity, valid
UTF-8) and never recurses in Python; every number must be finite and inside a range a real
invocation can have (a latency of 1e308 ms would make a step's sum infinite, and the store refuses
it with the whole batch); and every text field must be a string, so nothing deep is ever formatted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import orjson

from collectors.emf_format import declared_metrics, timestamp_ms
from collectors.line_fields import FieldReader, TelemetryLineError, finite, shown

__all__ = ["TelemetryLineError", "TelemetryRecord", "decode_line", "parse_emf_line", "parse_invocation"]

SCHEMA = "inferwatch.invocation/2"
STATUSES = frozenset({"ok", "client_error", "timeout", "degraded", "error"})
TASKS = ("binary", "multiclass", "regression")
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}  # how the probe writes them
MAX_DEPTH = 64  # an EMF line nests 6 deep (_aws.CloudWatchMetrics[].Dimensions[][])
MAX_DURATION_MS = 86_400_000.0  # a day: Lambda stops at 15 minutes, Cloud Run at 60
MAX_MEMORY_MB = 1_048_576.0  # 1 TiB
MAX_ROWS = 1_000_000  # rows in one invocation (a 6 MB Lambda payload holds far fewer)
MAX_CLASS = 2**31
MAX_ARRAY = 100_000
MAX_TEXT = 256  # the probe cuts labels and categories at 256 characters
_SHA256 = re.compile(r"[0-9a-f]{64}")
# A JSON string, to its closing quote or the end of the line: once begun the match cannot fail (a
# backslash may end the line), so it never backtracks and runs in linear time on any line.
_STRING = re.compile(rb'"[^"\\]*(?:\\.?[^"\\]*)*(?:"|$)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


@dataclass(frozen=True, slots=True)
class TelemetryRecord:
    timestamp_ms: int
    deployment: str
    model_version: str  # "" when a line from another tool does not say
    role: str
    request_id: str
    status: str
    latency_ms: float
    cold_start: bool
    init_ms: float
    memory_mb: float
    max_memory_used_mb: float
    rows: int
    prediction_score: tuple[float, ...] = ()  # NaN and infinities as the probe wrote them ("NaN", ...)
    predicted_class: tuple[int, ...] = ()
    input_summary: Mapping[str, tuple[float | None, ...]] = field(default_factory=dict)  # None: missing
    shadow_version: str | None = None
    shadow_score: tuple[float, ...] = ()
    shadow_class: tuple[int, ...] = ()
    shadow_agree: float | None = None
    shadow_latency_ms: float | None = None
    shadow_status: str | None = None
    error_type: str | None = None
    prewarmed: bool = False  # served by warm capacity (an instance started ahead of traffic)
    service: str | None = None  # the line's Service (the deployment's own service when absent)
    model_sha256: str | None = None
    task: str | None = None
    predicted_label: tuple[str, ...] = ()  # string labels (PredictedLabel)
    prediction_value: tuple[float, ...] = ()  # regression (PredictionValue)
    input_categories: Mapping[str, tuple[str | None, ...]] = field(default_factory=dict)
    function: str | None = None  # Lambda: aws:<region>:<function name>
    qualifier: str | None = None


def decode_line(line: str | bytes) -> dict[str, Any]:
    """One line -> its JSON object, or :class:`TelemetryLineError` (too deep, not JSON, not an object)."""
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    if too_deep(raw, MAX_DEPTH):
        raise TelemetryLineError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # also NaN, Infinity, 1e999 and invalid UTF-8: not JSON
        hint = " (NaN and Infinity are not JSON numbers)" if b"NaN" in raw or b"Infinity" in raw else ""
        raise TelemetryLineError(f"not JSON{hint}: {str(exc)[:120]}") from exc
    if not isinstance(doc, dict):
        raise TelemetryLineError("not a JSON object")
    return doc


def is_invocation_contract(doc: Mapping[str, Any]) -> bool:
    """Whether an EMF line claims Inferwatch's invocation contract (the probe's ``Schema``, or the reference
    service's ``Status``), rather than being a line of another tool read by its metric names."""
    return "Schema" in doc or "Status" in doc


def parse_emf_line(line: str | bytes) -> TelemetryRecord:
    """One invocation line (Inferwatch's contract) -> a record, or :class:`TelemetryLineError` naming what
    is wrong."""
    return parse_invocation(decode_line(line))


def parse_invocation(doc: Mapping[str, Any]) -> TelemetryRecord:
    """An invocation line's JSON object -> a record; :class:`TelemetryLineError` names every member that is
    missing or wrong (the first in its message)."""
    if not isinstance(doc.get("_aws"), dict):
        raise TelemetryLineError("missing _aws metadata", field="_aws")
    r = FieldReader()
    if "Schema" in doc and doc["Schema"] != SCHEMA:
        r.add("Schema", f"must be {SCHEMA!r}, got {shown(doc['Schema'])}")
    declared_metrics(r, doc, required=False, values=False)
    status = r.text(doc, "Status", choices=STATUSES)
    shadow = "ShadowVersion" in doc
    record = TelemetryRecord(
        timestamp_ms=timestamp_ms(r, doc),
        deployment=r.text(doc, "Deployment"),
        model_version=r.text(doc, "ModelVersion"),
        role=r.opt_text(doc, "Role") or "stable",
        request_id=r.opt_text(doc, "RequestId") or "",
        status=status,
        latency_ms=r.number(doc, "LatencyMs", maximum=MAX_DURATION_MS, emf=True),
        cold_start=bool(r.number(doc, "ColdStart", default=0.0, maximum=1.0, emf=True)),
        init_ms=r.number(doc, "InitMs", default=0.0, maximum=MAX_DURATION_MS, emf=True),
        memory_mb=r.number(doc, "MemoryMb", default=0.0, maximum=MAX_MEMORY_MB, emf=True),
        max_memory_used_mb=r.number(doc, "MaxMemoryUsedMb", default=0.0, maximum=MAX_MEMORY_MB, emf=True),
        rows=_count(r, doc, "Rows", MAX_ROWS),
        prediction_score=numbers(r, doc, "PredictionScore"),
        predicted_class=_classes(r, doc, "PredictedClass"),
        input_summary=input_summary(r, doc),
        shadow_version=r.text(doc, "ShadowVersion") if shadow else None,
        shadow_score=numbers(r, doc, "ShadowScore"),
        shadow_class=_classes(r, doc, "ShadowClass"),
        shadow_agree=r.number(doc, "ShadowAgree", maximum=1.0, emf=True) if "ShadowAgree" in doc else None,
        shadow_latency_ms=r.number(doc, "ShadowLatencyMs", maximum=MAX_DURATION_MS,
                                   emf=True) if "ShadowLatencyMs" in doc else None,
        shadow_status=r.opt_text(doc, "ShadowStatus"),
        error_type=r.opt_text(doc, "ErrorType"),
        prewarmed=bool(r.number(doc, "Prewarmed", default=0.0, maximum=1.0, emf=True)),
        service=r.opt_text(doc, "Service"),
        model_sha256=r.opt_text(doc, "ModelSha256", pattern=_SHA256, rule="64 lowercase hex digits"),
        task=r.text(doc, "Task", choices=TASKS) if "Task" in doc else None,
        predicted_label=_labels(r, doc, "PredictedLabel"),
        prediction_value=numbers(r, doc, "PredictionValue"),
        input_categories=_categories(r, doc),
        function=r.opt_text(doc, "Function"),
        qualifier=r.opt_text(doc, "Qualifier"),
    )
    r.check()
    return record


def too_deep(line: bytes, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (checked before parsing, in C-speed
    steps: an EMF line has some fifty brackets, and the collector reads many lines)."""
    if line.count(b"[") + line.count(b"{") <= limit:
        return False  # cannot be
    brackets = _STRING.sub(b"", line).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > limit


def _count(r: FieldReader, doc: Mapping[str, Any], key: str, maximum: int) -> int:
    value = doc.get(key, 0)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # EMF: a one-element array is the number
    number = finite(value)
    if number is None or not number.is_integer() or not 0 <= number <= maximum:
        r.add(key, f"must be a whole number in [0, {maximum}], got {shown(value)}")
        return 0
    return int(number)


def numbers(r: FieldReader, doc: Mapping[str, Any], key: str) -> tuple[float, ...]:
    """An array of numbers (a lone number is one), where the probe's ``"NaN"``, ``"Infinity"`` and
    ``"-Infinity"`` stand for the values JSON cannot hold: the drift engine counts them apart, as it
    counts raw values."""
    return tuple(v for v in _values(r, doc, key, key, nulls=False) if v is not None)


def _values(r: FieldReader, doc: Mapping[str, Any], key: str, name: str, *, nulls: bool) -> list[float | None]:
    """The values of ``numbers``; with ``nulls``, null stands for a missing value (a None input)."""
    value = doc.get(key, [])
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]  # EMF allows a scalar where an array is expected
    if not isinstance(value, list):
        r.add(name, f"must be an array of numbers, got {shown(value)}")
        return []
    out: list[float | None] = []
    for v in value:
        number = NON_FINITE.get(v) if isinstance(v, str) else finite(v)
        if number is None and not (nulls and v is None):
            what = "finite numbers, 'NaN', 'Infinity', '-Infinity'" + (" or null" if nulls else "")
            r.add(name, f"must hold only {what}, got {shown(v)}")
            return []
        out.append(number)
    return out


def _classes(r: FieldReader, doc: Mapping[str, Any], key: str) -> tuple[int, ...]:
    values = numbers(r, doc, key)
    if any(not math.isfinite(v) or not v.is_integer() or abs(v) > MAX_CLASS for v in values):
        r.add(key, f"must hold class indices (whole numbers within +-{MAX_CLASS})")
        return ()
    return tuple(int(v) for v in values)


def _labels(r: FieldReader, doc: Mapping[str, Any], key: str) -> tuple[str, ...]:
    labels = r.array(doc, key, required=False, max_items=MAX_ARRAY)
    if not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in labels):
        r.add(key, f"must hold strings of at most {MAX_TEXT} characters")
        return ()
    return tuple(labels)


def input_summary(r: FieldReader, doc: Mapping[str, Any]) -> dict[str, tuple[float | None, ...]]:
    """``InputSummary``: feature -> values of the rows summarised (numbers, the probe's non-finite strings,
    null for missing)."""
    summary = r.mapping(doc, "InputSummary", required=False) if doc.get("InputSummary") is not None else {}
    return {str(k): tuple(_values(r, summary, k, f"InputSummary.{k}", nulls=True)) for k in summary}


def _categories(r: FieldReader, doc: Mapping[str, Any]) -> dict[str, tuple[str | None, ...]]:
    out: dict[str, tuple[str | None, ...]] = {}
    for name, values in r.mapping(doc, "InputCategories", required=False).items():
        if not isinstance(values, list) or not all(v is None or isinstance(v, str) and len(v) <= MAX_TEXT
                                                   for v in values):
            r.add(f"InputCategories.{name}", f"must be an array of strings (at most {MAX_TEXT} characters) or null")
            continue
        out[str(name)] = tuple(values)
    return out
