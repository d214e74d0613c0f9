"""Parse the reference service's EMF lines (docs/telemetry.md) into typed records.

Parsing is strict: a line that does not follow the contract raises :class:`TelemetryLineError`
naming the field, and the collector quarantines it. Whatever a line holds, parsing raises nothing
else. Nesting is bounded before parsing (a line of 100,000 ``[`` once took the standard library's
parser into RecursionError); the parser is orjson, which is strict JSON (no NaN or Infinity, valid
UTF-8) and never recurses in Python; every number must be finite and inside a range a real
invocation can have (a latency of 1e308 ms would make a step's sum infinite, and the store refuses
it with the whole batch); and every text field must be a string, so nothing deep is ever formatted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import orjson

STATUSES = frozenset({"ok", "client_error", "timeout", "degraded", "error"})
MAX_DEPTH = 64  # an EMF line nests 6 deep (_aws.CloudWatchMetrics[].Dimensions[][])
MAX_DURATION_MS = 86_400_000.0  # a day: Lambda stops at 15 minutes, Cloud Run at 60
MAX_MEMORY_MB = 1_048_576.0  # 1 TiB
MAX_ROWS = 1_000_000  # rows in one invocation (a 6 MB Lambda payload holds far fewer)
MAX_CLASS = 2**31
# A JSON string, to its closing quote or the end of the line: once begun the match cannot fail (a
# backslash may end the line), so it never backtracks and runs in linear time on any line.
_STRING = re.compile(rb'"[^"\\]*(?:\\.?[^"\\]*)*(?:"|$)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class TelemetryLineError(ValueError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class TelemetryRecord:
    timestamp_ms: int
    deployment: str
    model_version: str
    role: str
    request_id: str
    status: str
    latency_ms: float
    cold_start: bool
    init_ms: float
    memory_mb: float
    max_memory_used_mb: float
    rows: int
    prediction_score: tuple[float, ...] = ()
    predicted_class: tuple[int, ...] = ()
    input_summary: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    shadow_version: str | None = None
    shadow_score: tuple[float, ...] = ()
    shadow_class: tuple[int, ...] = ()
    shadow_agree: float | None = None
    shadow_latency_ms: float | None = None
    shadow_status: str | None = None
    error_type: str | None = None
    prewarmed: bool = False  # served by warm capacity (an instance started ahead of traffic)


def parse_emf_line(line: str | bytes) -> TelemetryRecord:
    """One EMF line -> a record, or :class:`TelemetryLineError` naming what is wrong."""
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
    aws = doc.get("_aws")
    if not isinstance(aws, dict):
        raise TelemetryLineError("missing _aws metadata", field="_aws")
    status = _str(doc, "Status")
    if status not in STATUSES:
        raise TelemetryLineError(f"Status {_shown(status)} is not one of {sorted(STATUSES)}", field="Status")
    summary_raw = doc.get("InputSummary") or {}
    if not isinstance(summary_raw, dict):
        raise TelemetryLineError("InputSummary must be an object", field="InputSummary")
    summary = {str(k): _floats(summary_raw, k, "InputSummary." + str(k)) for k in summary_raw}
    shadow = "ShadowVersion" in doc
    return TelemetryRecord(
        timestamp_ms=_int(aws, "Timestamp", "_aws.Timestamp"),
        deployment=_str(doc, "Deployment"),
        model_version=_str(doc, "ModelVersion"),
        role=_opt_str(doc, "Role") or "stable",
        request_id=_opt_str(doc, "RequestId") or "",
        status=status,
        latency_ms=_num(doc, "LatencyMs", maximum=MAX_DURATION_MS),
        cold_start=bool(_num(doc, "ColdStart", default=0.0, maximum=1.0)),
        init_ms=_num(doc, "InitMs", default=0.0, maximum=MAX_DURATION_MS),
        memory_mb=_num(doc, "MemoryMb", default=0.0, maximum=MAX_MEMORY_MB),
        max_memory_used_mb=_num(doc, "MaxMemoryUsedMb", default=0.0, maximum=MAX_MEMORY_MB),
        rows=_count(doc, "Rows", MAX_ROWS),
        prediction_score=_floats(doc, "PredictionScore"),
        predicted_class=_classes(doc, "PredictedClass"),
        input_summary=summary,
        shadow_version=_str(doc, "ShadowVersion") if shadow else None,
        shadow_score=_floats(doc, "ShadowScore"),
        shadow_class=_classes(doc, "ShadowClass"),
        shadow_agree=_num(doc, "ShadowAgree", maximum=1.0) if "ShadowAgree" in doc else None,
        shadow_latency_ms=_num(doc, "ShadowLatencyMs", maximum=MAX_DURATION_MS) if "ShadowLatencyMs" in doc else None,
        shadow_status=_opt_str(doc, "ShadowStatus"),
        error_type=_opt_str(doc, "ErrorType"),
        prewarmed=bool(_num(doc, "Prewarmed", default=0.0, maximum=1.0)),
    )


def too_deep(line: bytes, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (checked before parsing, in C-speed
    steps: an EMF line has some fifty brackets, and the collector reads many lines)."""
    if line.count(b"[") + line.count(b"{") <= limit:
        return False  # cannot be
    brackets = _STRING.sub(b"", line).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > limit


def _shown(value: str, limit: int = 40) -> str:
    text = repr(value)  # escapes NULs and undecodable characters
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _str(doc: Mapping[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise TelemetryLineError(f"{key} must be a non-empty string", field=key)
    return value


def _opt_str(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise TelemetryLineError(f"{key} must be a string", field=key)
    return value


def _int(doc: Mapping[str, Any], key: str, name: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TelemetryLineError(f"{name} must be a non-negative integer (epoch ms)", field=name)
    return value


def _finite(value: object) -> float | None:
    """The value as a finite float, or None (not a number, a bool, NaN, inf, or beyond the float range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _num(doc: Mapping[str, Any], key: str, default: float | None = None, *, maximum: float) -> float:
    if key not in doc and default is not None:
        return default
    value = _finite(doc.get(key))
    if value is None or not 0 <= value <= maximum:
        raise TelemetryLineError(f"{key} must be a finite number in [0, {maximum:g}]", field=key)
    return value


def _count(doc: Mapping[str, Any], key: str, maximum: int) -> int:
    value = _finite(doc.get(key, 0))
    if value is None or not value.is_integer() or not 0 <= value <= maximum:
        raise TelemetryLineError(f"{key} must be a whole number in [0, {maximum}]", field=key)
    return int(value)


def _floats(doc: Mapping[str, Any], key: str, name: str | None = None) -> tuple[float, ...]:
    value = doc.get(key, [])
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]  # EMF allows a scalar where an array is expected
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise TelemetryLineError(f"{name or key} must be an array of numbers", field=name or key)
    out = []
    for v in value:
        number = _finite(v)
        if number is None:  # the reference service writes finite values only (allow_nan=False)
            raise TelemetryLineError(f"{name or key} must hold only finite numbers", field=name or key)
        out.append(number)
    return tuple(out)


def _classes(doc: Mapping[str, Any], key: str) -> tuple[int, ...]:
    values = _floats(doc, key)
    if any(not v.is_integer() or abs(v) > MAX_CLASS for v in values):
        raise TelemetryLineError(f"{key} must hold class indices (whole numbers within +-{MAX_CLASS})", field=key)
    return tuple(int(v) for v in values)
