"""Parse the reference service's EMF lines (docs/telemetry.md) into typed records.

Parsing is strict: a line that does not follow the contract raises :class:`TelemetryLineError`
naming the field, and the collector counts and skips it with a warning.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STATUSES = frozenset({"ok", "client_error", "timeout", "degraded", "error"})


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
    try:
        doc = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TelemetryLineError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise TelemetryLineError("not a JSON object")
    aws = doc.get("_aws")
    if not isinstance(aws, dict):
        raise TelemetryLineError("missing _aws metadata", field="_aws")
    status = _str(doc, "Status")
    if status not in STATUSES:
        raise TelemetryLineError(f"Status {status!r} is not one of {sorted(STATUSES)}", field="Status")
    summary_raw = doc.get("InputSummary") or {}
    if not isinstance(summary_raw, dict):
        raise TelemetryLineError("InputSummary must be an object", field="InputSummary")
    summary = {str(k): _floats(summary_raw, k, "InputSummary." + str(k)) for k in summary_raw}
    shadow = "ShadowVersion" in doc
    return TelemetryRecord(
        timestamp_ms=_int(aws, "Timestamp", "_aws.Timestamp"),
        deployment=_str(doc, "Deployment"),
        model_version=_str(doc, "ModelVersion"),
        role=str(doc.get("Role", "stable")),
        request_id=str(doc.get("RequestId", "")),
        status=status,
        latency_ms=_num(doc, "LatencyMs"),
        cold_start=bool(_num(doc, "ColdStart", default=0.0)),
        init_ms=_num(doc, "InitMs", default=0.0),
        memory_mb=_num(doc, "MemoryMb", default=0.0),
        max_memory_used_mb=_num(doc, "MaxMemoryUsedMb", default=0.0),
        rows=int(_num(doc, "Rows", default=0.0)),
        prediction_score=_floats(doc, "PredictionScore"),
        predicted_class=tuple(int(v) for v in _floats(doc, "PredictedClass")),
        input_summary=summary,
        shadow_version=_str(doc, "ShadowVersion") if shadow else None,
        shadow_score=_floats(doc, "ShadowScore"),
        shadow_class=tuple(int(v) for v in _floats(doc, "ShadowClass")),
        shadow_agree=_num(doc, "ShadowAgree") if "ShadowAgree" in doc else None,
        shadow_latency_ms=_num(doc, "ShadowLatencyMs") if "ShadowLatencyMs" in doc else None,
        shadow_status=str(doc["ShadowStatus"]) if "ShadowStatus" in doc else None,
        error_type=str(doc["ErrorType"]) if "ErrorType" in doc else None,
        prewarmed=bool(_num(doc, "Prewarmed", default=0.0)),
    )


def _str(doc: Mapping[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise TelemetryLineError(f"{key} must be a non-empty string", field=key)
    return value


def _int(doc: Mapping[str, Any], key: str, name: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TelemetryLineError(f"{name} must be a non-negative integer (epoch ms)", field=name)
    return value


def _num(doc: Mapping[str, Any], key: str, default: float | None = None) -> float:
    if key not in doc and default is not None:
        return default
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise TelemetryLineError(f"{key} must be a finite non-negative number", field=key)
    return float(value)


def _floats(doc: Mapping[str, Any], key: str, name: str | None = None) -> tuple[float, ...]:
    value = doc.get(key, [])
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]  # EMF allows a scalar where an array is expected
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise TelemetryLineError(f"{name or key} must be an array of numbers", field=name or key)
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TelemetryLineError(f"{name or key} must hold only numbers", field=name or key)
        out.append(float(v))  # NaN/inf kept: the drift engine counts them as signals
    return tuple(out)
