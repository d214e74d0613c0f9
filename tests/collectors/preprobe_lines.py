"""Lines as the reference service wrote them before it moved onto the probe (no ``Schema`` member): the
collectors still read them (deployments of earlier versions write them), so their tests generate any
record in this format. This was the service's own emitter; the service now writes through the probe.

One CloudWatch Embedded Metric Format (EMF) line per invocation, as ``docs/telemetry.md`` specifies.

Size: PredictionScore and PredictedClass (and the shadow's) keep the first 100 rows (EMF's array limit).
InputSummary holds, per feature, the values of up to ``INPUT_SUMMARY_ROWS`` rows spread evenly over the
batch (rounded to 6 significant digits of the feature's valid maximum); ``InputSummaryRows`` says how
many. If a line would exceed
``MAX_LINE_BYTES`` the summary is halved until it fits, then dropped (InputSummaryRows = 0).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

NAMESPACE = "Inferwatch"
EMF_ARRAY_LIMIT = 100
INPUT_SUMMARY_ROWS = 10
MAX_LINE_BYTES = 8192
STATUSES = ("ok", "client_error", "timeout", "degraded", "error")
_STATUS_FLAGS = {"client_error": "ClientError", "timeout": "Timeout", "degraded": "Degraded", "error": "ServerError"}
_UNITS = {"LatencyMs": "Milliseconds", "InitMs": "Milliseconds", "Rows": "Count", "ColdStart": "Count",
          "ClientError": "Count", "Timeout": "Count", "Degraded": "Count", "ServerError": "Count",
          "MaxMemoryUsedMb": "Megabytes", "PredictionScore": "None", "ShadowAgree": "None"}


@dataclass(frozen=True, slots=True)
class ShadowOutcome:
    version: str
    status: str  # ok | error | timeout | skipped
    scores: tuple[float, ...] = ()
    classes: tuple[int, ...] = ()
    agree: float | None = None  # share of rows where the shadow's class equals the served one
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class InvocationRecord:
    timestamp_ms: int
    deployment: str
    model_version: str
    role: str
    request_id: str
    status: str
    latency_ms: float
    cold_start: int
    init_ms: float
    memory_mb: int
    max_memory_used_mb: float
    rows: int
    scores: tuple[float, ...] = ()
    classes: tuple[int, ...] = ()
    input_summary: dict[str, list[float]] | None = field(default=None, hash=False)
    input_summary_rows: int = 0
    error_type: str | None = None
    shadow: ShadowOutcome | None = None
    prewarmed: bool = False  # served by an instance started ahead of traffic (warm capacity)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


def capped_scores(values: NDArray[np.floating[Any]]) -> tuple[float, ...]:
    return tuple(round(float(v), 6) for v in values[:EMF_ARRAY_LIMIT])


def capped_classes(values: NDArray[np.integer[Any]]) -> tuple[int, ...]:
    return tuple(int(v) for v in values[:EMF_ARRAY_LIMIT])


def decimal_scales(valid_max: Sequence[float], digits: int = 6) -> NDArray[np.float64]:
    """Per feature, the power of ten that keeps ``digits`` significant digits at the feature's maximum:
    rounding with a fixed scale per feature is one vectorised step instead of a log per value."""
    top = np.maximum(np.abs(np.asarray(valid_max, dtype=np.float64)), 1e-12)
    return np.asarray(np.power(10.0, digits - 1 - np.floor(np.log10(top))), dtype=np.float64)


def summarize_inputs(x: NDArray[np.float32], feature_names: Sequence[str], max_rows: int = INPUT_SUMMARY_ROWS,
                     scales: NDArray[np.float64] | None = None) -> dict[str, list[float]]:
    """Per feature, the values of up to ``max_rows`` rows picked evenly over the batch, rounded with
    ``scales`` (see ``decimal_scales``) or, without them, to 5 significant digits each."""
    n = x.shape[0]
    if n == 0 or max_rows <= 0:
        return {}
    k = min(max_rows, n)
    picks = sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0]
    sample = x[picks].astype(np.float64)
    if scales is not None:
        with np.errstate(all="ignore"):
            rounded = np.round(sample * scales) / scales
        sample = np.where(np.isfinite(rounded), rounded, sample)
    else:
        sample = round_significant(sample)
    columns = zip(*sample.tolist(), strict=True)
    return dict(zip(feature_names, map(list, columns), strict=True))


def round_significant(a: NDArray[np.floating[Any]], digits: int = 5) -> NDArray[np.float64]:
    """Values rounded to ``digits`` significant digits (vectorised: a per-value format is 10x slower)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(all="ignore"):  # zeros, infinities and subnormals are handled by the last line
        exponent = np.floor(np.log10(np.abs(a)))
        scale = np.power(10.0, np.where(np.isfinite(exponent), digits - 1 - exponent, 0))
        rounded = np.round(a * scale) / scale
    return np.where(np.isfinite(rounded), rounded, a)  # extremes (subnormals) stay as they were


@functools.lru_cache(maxsize=4)
def _metric_declarations(with_scores: bool, with_shadow_agree: bool) -> str:
    """The CloudWatchMetrics member as JSON: it depends on two flags only, so it is encoded once each."""
    metrics = ["LatencyMs", "InitMs", "Rows", "ColdStart", "ClientError", "Timeout", "Degraded",
               "ServerError", "MaxMemoryUsedMb"]
    if with_scores:
        # an empty EMF array is not a metric value, so declare only when there are rows
        metrics.append("PredictionScore")
    if with_shadow_agree:
        metrics.append("ShadowAgree")
    return json.dumps([{"Namespace": NAMESPACE, "Dimensions": [["Deployment"], ["Deployment", "ModelVersion"]],
                        "Metrics": [{"Name": m, "Unit": _UNITS[m]} for m in metrics]}], separators=(",", ":"))


def _declaration_key(r: InvocationRecord) -> tuple[bool, bool]:
    return bool(r.scores), r.shadow is not None and r.shadow.agree is not None


def _properties(r: InvocationRecord) -> dict[str, Any]:
    """Every member of the line except ``_aws``."""
    doc: dict[str, Any] = {
        "Deployment": r.deployment, "ModelVersion": r.model_version, "Role": r.role,
        "RequestId": r.request_id, "Status": r.status, "LatencyMs": r.latency_ms, "ColdStart": r.cold_start,
        "InitMs": r.init_ms, "MemoryMb": r.memory_mb, "MaxMemoryUsedMb": r.max_memory_used_mb, "Rows": r.rows,
        "PredictionScore": list(r.scores), "PredictedClass": list(r.classes),
    }
    for status, flag in _STATUS_FLAGS.items():
        doc[flag] = 1 if r.status == status else 0
    if r.input_summary is not None:
        doc["InputSummary"] = r.input_summary
        doc["InputSummaryRows"] = r.input_summary_rows
    if r.shadow is not None:
        s = r.shadow
        doc.update({"ShadowVersion": s.version, "ShadowStatus": s.status, "ShadowScore": list(s.scores),
                    "ShadowClass": list(s.classes)})
        if s.latency_ms is not None:
            doc["ShadowLatencyMs"] = s.latency_ms
        if s.agree is not None:
            doc["ShadowAgree"] = s.agree
    if r.error_type is not None and r.status != "ok":
        doc["ErrorType"] = r.error_type
    if r.prewarmed:
        doc["Prewarmed"] = 1
    return doc


def emf_document(r: InvocationRecord) -> dict[str, Any]:
    """The line as a dict (what ``encode_line`` writes)."""
    declarations = json.loads(_metric_declarations(*_declaration_key(r)))
    return {"_aws": {"Timestamp": r.timestamp_ms, "CloudWatchMetrics": declarations}, **_properties(r)}


def _shrunk(r: InvocationRecord) -> InvocationRecord:
    rows = r.input_summary_rows // 2
    summary = {k: v[:rows] for k, v in (r.input_summary or {}).items()} if rows else None
    return replace(r, input_summary=summary, input_summary_rows=rows)


def encode_line(r: InvocationRecord, *, extra: dict[str, Any] | None = None,
                max_line_bytes: int = MAX_LINE_BYTES) -> bytes:
    """The record as one newline-terminated JSON line, shrinking the input summary to fit the cap."""
    while True:
        doc = _properties(r)
        if extra:
            doc.update(extra)
        body = json.dumps(doc, separators=(",", ":"), allow_nan=False)
        declarations = _metric_declarations(*_declaration_key(r))
        aws = f'{{"_aws":{{"Timestamp":{int(r.timestamp_ms)},"CloudWatchMetrics":{declarations}}},'
        line = (aws + body[1:] + "\n").encode()
        if len(line) <= max_line_bytes or r.input_summary is None:
            return line
        r = _shrunk(r)


def parse_line(line: str | bytes) -> InvocationRecord:
    """The record an EMF line was written from (the inverse of ``encode_line``)."""
    d = json.loads(line)
    shadow = None
    if "ShadowVersion" in d:
        shadow = ShadowOutcome(d["ShadowVersion"], d["ShadowStatus"], tuple(d["ShadowScore"]),
                               tuple(d["ShadowClass"]), d.get("ShadowAgree"), d.get("ShadowLatencyMs"))
    return InvocationRecord(
        timestamp_ms=d["_aws"]["Timestamp"], deployment=d["Deployment"], model_version=d["ModelVersion"],
        role=d["Role"], request_id=d["RequestId"], status=d["Status"], latency_ms=d["LatencyMs"],
        cold_start=d["ColdStart"], init_ms=d["InitMs"], memory_mb=d["MemoryMb"],
        max_memory_used_mb=d["MaxMemoryUsedMb"], rows=d["Rows"], scores=tuple(d["PredictionScore"]),
        classes=tuple(d["PredictedClass"]), input_summary=d.get("InputSummary"),
        input_summary_rows=d.get("InputSummaryRows", 0), error_type=d.get("ErrorType"), shadow=shadow,
        prewarmed=bool(d.get("Prewarmed", 0)),
    )
