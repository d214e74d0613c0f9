"""EMF lines written by other tools (aws-lambda-powertools Metrics, aws-embedded-metrics, your own), read
by the names of their metrics and members (docs/telemetry.md, "Lines from other tools").

Names are compared ignoring case and the characters ``_``, ``-``, ``.`` and spaces (``LatencyMs``,
``latency_ms`` and ``latency-ms`` are one name). Metrics are read only where the line declares them in
``_aws.CloudWatchMetrics`` (aws-embedded-metrics writes properties such as ``memorySize: ""`` that are
not metrics); members naming the deployment and the model are read wherever they are (a dimension,
Powertools metadata, or an aws-embedded-metrics property: in EMF they are all top-level members).

- The deployment: ``Deployment``, else ``function_name`` (Powertools' cold-start dimension), else
  ``ServiceName`` (aws-embedded-metrics' default dimension: the function's name), else ``service``
  (Powertools' dimension). The service: ``Service``/``service``, else the deployment's name.
- A line with a latency metric is an invocation per latency value (what CloudWatch would count as the
  metric's samples); the error metrics mark that many of them with their status. A line without a
  ``Rows``/``BatchSize`` metric predicted one row per answered (ok or degraded) invocation.
- A line whose only metric Inferwatch reads is ``ColdStart`` (Powertools' separate cold-start line) is a
  cold start of its deployment, not an invocation.
- ``InputSummary`` (feature -> values, as in Inferwatch's own lines; Powertools' ``add_metadata``) gives
  the features of the line's first invocation, counted for input drift.
- A well-formed line with nothing of this is :class:`NothingUsable`: counted and reported, never dropped
  silently. A line that is not well-formed EMF raises :class:`TelemetryLineError` (quarantined).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collectors.emf_format import EmfMetric, declared_metrics, timestamp_ms
from collectors.line_fields import FieldReader
from collectors.local_telemetry import MAX_CLASS, MAX_DURATION_MS, MAX_MEMORY_MB, TelemetryRecord, input_summary

# normalised metric name -> what Inferwatch reads it as
LATENCY = ("latencyms", "latency", "durationms", "duration", "responsetimems", "responsetime")
STATUS_FLAGS = {"error": "error", "errors": "error", "servererror": "error", "servererrors": "error",
                "fault": "error", "faults": "error", "clienterror": "client_error", "clienterrors": "client_error",
                "timeout": "timeout", "timeouts": "timeout", "degraded": "degraded"}
COLD_START = ("coldstart", "coldstarts")
INIT = ("initms", "initduration", "initdurationms")
ROWS = ("rows", "batchsize")
SCORE = ("predictionscore", "score", "probability", "confidence")
CLASS = ("predictedclass", "class")
VALUE = ("predictionvalue", "prediction")
MEMORY = ("memorymb",)
MEMORY_USED = ("maxmemoryusedmb",)
DEPLOYMENT_MEMBERS = ("deployment", "functionname", "servicename", "service")
SERVICE_MEMBERS = ("service",)
VERSION_MEMBERS = ("modelversion",)
READ = frozenset((*LATENCY, *STATUS_FLAGS, *COLD_START, *INIT, *ROWS, *SCORE, *CLASS, *VALUE, *MEMORY,
                  *MEMORY_USED))
# a latency in another unit, to milliseconds (Milliseconds, None or no unit: as it is)
TO_MS = {"seconds": 1000.0, "microseconds": 0.001}
TO_MB = {"bytes": 1 / 2**20, "kilobytes": 1 / 1024, "gigabytes": 1024.0}
_NOT_NAME = re.compile(r"[\s_.\-]")


@dataclass(frozen=True, slots=True)
class ColdStartOnly:
    """A line that only says an instance of ``deployment`` started cold (Powertools' cold-start line)."""

    timestamp_ms: int
    deployment: str
    service: str


@dataclass(frozen=True, slots=True)
class NothingUsable:
    """Well-formed EMF with nothing Inferwatch reads: the metric names it declares, and why."""

    metric_names: tuple[str, ...]
    reason: str  # "no_metric" | "no_deployment"


def normalized(name: str) -> str:
    return _NOT_NAME.sub("", name).lower()


def read_tool_line(doc: Mapping[str, Any]) -> tuple[TelemetryRecord, ...] | ColdStartOnly | NothingUsable:
    """A line of another tool -> the invocations it records, a cold start, or :class:`NothingUsable`;
    :class:`TelemetryLineError` naming every problem when it is not well-formed EMF (or a member
    Inferwatch reads has the wrong type)."""
    r = FieldReader()
    when = timestamp_ms(r, doc)
    metrics = declared_metrics(r, doc, required=True, values=True)
    members = {normalized(k): k for k in reversed(list(doc))}  # the first member wins a shared name
    texts = {n: r.text(doc, members[n]) for n in (*DEPLOYMENT_MEMBERS, *VERSION_MEMBERS) if n in members}
    r.check()
    by_name: dict[str, EmfMetric] = {}
    for metric in metrics.values():
        by_name.setdefault(normalized(metric.name), metric)
    names = tuple(sorted(metrics))
    if not READ & set(by_name):
        return NothingUsable(names, "no_metric")
    deployment = next((texts[n] for n in DEPLOYMENT_MEMBERS if texts.get(n)), None)
    if deployment is None:
        return NothingUsable(names, "no_deployment")
    service = next((texts[n] for n in SERVICE_MEMBERS if texts.get(n)), deployment)
    latencies = _read(r, by_name, LATENCY, TO_MS, MAX_DURATION_MS)
    cold = sum(_read(r, by_name, COLD_START, {}, 1e9)) >= 1
    r.check()
    if not latencies:
        return ColdStartOnly(when, deployment, service) if cold else NothingUsable(names, "no_metric")
    records = _invocations(r, by_name, when, deployment, service, texts.get("modelversion", ""), latencies, cold)
    summary = input_summary(r, doc)  # Inferwatch's member, e.g. as Powertools metadata: features for drift
    r.check()
    return (dataclasses.replace(records[0], input_summary=summary), *records[1:]) if summary else records


def _read(r: FieldReader, by_name: Mapping[str, EmfMetric], names: tuple[str, ...], units: Mapping[str, float],
          maximum: float) -> tuple[float, ...]:
    """The values of the first of ``names`` the line declares, converted by its unit, each in [0, maximum]."""
    metric = next((by_name[n] for n in names if n in by_name), None)
    if metric is None:
        return ()
    factor = units.get((metric.unit or "").lower(), 1.0)
    values = tuple(v * factor for v in metric.values)
    if any(not 0 <= v <= maximum for v in values):
        r.add(metric.name, f"must hold values in [0, {maximum:g}] (after its unit {metric.unit})")
        return ()
    return values


def _invocations(r: FieldReader, by_name: Mapping[str, EmfMetric], when: int, deployment: str, service: str,
                 version: str, latencies: tuple[float, ...], cold: bool) -> tuple[TelemetryRecord, ...]:
    """One record per latency value: as many as the error metrics count with their status (the last
    ones), the others ok; the rows, the cold start and the predictions go with the first."""
    flagged: list[str] = []
    for name, status in STATUS_FLAGS.items():
        if name in by_name:
            flagged += [status] * min(int(sum(by_name[name].values)), len(latencies))
    flagged = flagged[:len(latencies)]
    statuses = ["ok"] * (len(latencies) - len(flagged)) + flagged
    rows = _read(r, by_name, ROWS, {}, 1e6)
    answered = sum(s in ("ok", "degraded") for s in statuses)
    classes = _read(r, by_name, CLASS, {}, MAX_CLASS)
    if any(not c.is_integer() for c in classes):
        r.add(by_name[next(n for n in CLASS if n in by_name)].name, "must hold whole class indices")
    first = TelemetryRecord(
        timestamp_ms=when, deployment=deployment, model_version=version, role="stable", request_id="",
        status=statuses[0], latency_ms=latencies[0], cold_start=cold,
        init_ms=sum(_read(r, by_name, INIT, TO_MS, MAX_DURATION_MS)),
        memory_mb=max(_read(r, by_name, MEMORY, TO_MB, MAX_MEMORY_MB), default=0.0),
        max_memory_used_mb=max(_read(r, by_name, MEMORY_USED, TO_MB, MAX_MEMORY_MB), default=0.0),
        rows=int(sum(rows)) if rows else answered, service=service,
        prediction_score=_read(r, by_name, SCORE, {}, 1.0),
        predicted_class=tuple(int(c) for c in classes if c.is_integer()),
        prediction_value=next((by_name[n].values for n in VALUE if n in by_name), ()),
    )
    rest = tuple(TelemetryRecord(when, deployment, version, "stable", "", status, latency, False, 0.0,
                                 first.memory_mb, first.max_memory_used_mb, 0, service=service)
                 for status, latency in zip(statuses[1:], latencies[1:], strict=True))
    return (first, *rest)
