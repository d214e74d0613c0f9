"""Cold starts, restores, timeouts and billing facts from Lambda's own log records (CloudWatch has no
cold-start metric, and a function killed at its timeout cannot write a line of its own).

Lambda writes one ``REPORT`` record per invocation, as text or, with the JSON log format, as a
``platform.report`` record (fields from the Lambda developer guide's SnapStart monitoring page and the
Telemetry API schema: ``restoreDurationMs`` and ``billedRestoreDurationMs`` on a restore, ``status``
``success`` / ``timeout`` / ``error`` / ``failure`` with ``errorType``):

    REPORT RequestId: 3f0c Duration: 102.25 ms Billed Duration: 915 ms Memory Size: 512 MB
        Max Memory Used: 131 MB Init Duration: 812.40 ms
    REPORT RequestId: 3f0d Duration: 3000.00 ms Billed Duration: 3000 ms Memory Size: 128 MB
        Max Memory Used: 58 MB Status: timeout
    REPORT RequestId: 3f0e Duration: 40.12 ms Billed Duration: 41 ms Memory Size: 128 MB
        Max Memory Used: 128 MB Status: error Error Type: Runtime.OutOfMemory
    {"time": "...", "type": "platform.report", "record": {"requestId": "3f0c", "metrics":
        {"durationMs": 102.25, "billedDurationMs": 915, "memorySizeMB": 512, "maxMemoryUsedMB": 131,
         "initDurationMs": 812.4}, "status": "success"}}

A cold start is of one of two kinds. An on-demand cold start carries ``Init Duration`` (since
2025-08-01 its ``Billed Duration`` includes the init time; before, on managed runtimes, init was free
and not in it). A SnapStart restore carries ``Restore Duration`` and ``Billed Restore Duration``
instead (the part billed: loading the runtime and the after-restore hooks, on top of ``Billed
Duration``); SnapStart initialises when a version is published, so its init time is in a separate
``INIT_REPORT`` / ``platform.initReport`` record. INIT_REPORT records add to the init time totals but
are not invocations, so they are not counted as cold starts. Restores are counted as cold starts and
also apart (``restores_count``), with their own durations, never mixed into the init average.

An out-of-memory kill is ``Error Type: Runtime.OutOfMemory`` or, in records written before Lambda
named it, a failed invocation whose ``Max Memory Used`` reached ``Memory Size``.

The version comes from the log stream name (``2026/11/24/[7]abc...`` or ``[$LATEST]``).
``FilterLogEvents`` is paged by looping on ``nextToken`` (pages may be empty and still carry a
token; a token seen twice ends the loop).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from collectors.aws_client import call_aws
from inferwatch.schema import Metric as M
from inferwatch.schema import MetricPoint

FILTER_PATTERN = '?REPORT ?INIT_REPORT ?"platform.report" ?"platform.initReport"'
MAX_PAGES = 10_000
_TEXT_FIELDS = {
    "Duration": "duration_ms", "Billed Duration": "billed_ms", "Memory Size": "memory_mb",
    "Max Memory Used": "max_memory_mb", "Init Duration": "init_ms", "Restore Duration": "restore_ms",
    "Billed Restore Duration": "billed_restore_ms",
}
_TEXT_FIELD = re.compile(r"(Billed Restore Duration|Billed Duration|Restore Duration|Init Duration|Duration|"
                         r"Memory Size|Max Memory Used): ([0-9.]+) (?:ms|MB)")
_TEXT_STATUS = re.compile(r"\bStatus: ([A-Za-z]+)")
_TEXT_ERROR_TYPE = re.compile(r"\bError Type: ([A-Za-z0-9_.:-]+)")
_JSON_FIELDS = {
    "durationMs": "duration_ms", "billedDurationMs": "billed_ms", "memorySizeMB": "memory_mb",
    "maxMemoryUsedMB": "max_memory_mb", "initDurationMs": "init_ms", "restoreDurationMs": "restore_ms",
    "billedRestoreDurationMs": "billed_restore_ms",
}
OUT_OF_MEMORY = "Runtime.OutOfMemory"
_STREAM_VERSION = re.compile(r"\[([^\]]+)\]")


class LogRecordError(ValueError):
    """A REPORT-like record that cannot be read (a field is missing or not a number)."""


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """One invocation's REPORT, or (``kind == "init"``) one INIT_REPORT."""

    timestamp_ms: int
    version: str
    kind: str  # "report" | "init"
    duration_ms: float = 0.0
    billed_ms: float = 0.0
    memory_mb: float = 0.0
    max_memory_mb: float = 0.0
    init_ms: float | None = None  # on-demand cold start (REPORT) or init phase (INIT_REPORT)
    restore_ms: float | None = None  # SnapStart restore (cold start of the other kind)
    billed_restore_ms: float | None = None
    status: str = "success"  # Lambda's word: success | timeout | error | failure
    error_type: str | None = None

    @property
    def cold_start(self) -> bool:
        return self.kind == "report" and (self.init_ms is not None or self.restore_ms is not None)

    @property
    def restored(self) -> bool:
        return self.kind == "report" and self.restore_ms is not None

    @property
    def timed_out(self) -> bool:
        return self.kind == "report" and self.status == "timeout"

    @property
    def out_of_memory(self) -> bool:
        if self.kind != "report" or self.status in ("success", "timeout"):
            return False
        return self.error_type == OUT_OF_MEMORY or (self.error_type in (None, "Runtime.ExitError")
                                                   and self.max_memory_mb >= self.memory_mb > 0)


def version_of_stream(stream: str) -> str:
    """``2026/11/24/[7]abc`` -> ``7``; ``$LATEST`` when the name has no bracket."""
    found = _STREAM_VERSION.search(stream)
    return found.group(1) if found else "$LATEST"


def parse_event(message: str, timestamp_ms: int, stream: str) -> ReportRecord | None:
    """The REPORT / INIT_REPORT record in one log event, or None for any other line."""
    text = message.strip()
    version = version_of_stream(stream)
    if text.startswith("{"):
        return _parse_json(text, timestamp_ms, version)
    if text.startswith("REPORT "):
        status, error_type = _TEXT_STATUS.search(text), _TEXT_ERROR_TYPE.search(text)
        return _from_fields(_text_fields(text), timestamp_ms, version, "report",
                            status.group(1).lower() if status else "success",
                            error_type.group(1) if error_type else None)
    if text.startswith("INIT_REPORT "):
        found = re.search(r"Init Duration: ([0-9.]+) ms", text)
        if found is None:
            raise LogRecordError(f"INIT_REPORT without Init Duration: {text[:120]!r}")
        return ReportRecord(timestamp_ms, version, "init", init_ms=float(found.group(1)))
    return None


def _text_fields(text: str) -> dict[str, float]:
    return {_TEXT_FIELDS[name]: float(value) for name, value in _TEXT_FIELD.findall(text) if name in _TEXT_FIELDS}


def _parse_json(text: str, timestamp_ms: int, version: str) -> ReportRecord | None:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None  # an application's own line that happens to start with a brace
    if not isinstance(doc, dict) or doc.get("type") not in ("platform.report", "platform.initReport"):
        return None
    record = doc.get("record")
    if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
        raise LogRecordError(f"{doc['type']} record without metrics: {text[:120]!r}")
    metrics = record["metrics"]
    if doc["type"] == "platform.initReport":
        duration = metrics.get("durationMs")
        if not isinstance(duration, int | float):
            raise LogRecordError(f"platform.initReport without durationMs: {text[:120]!r}")
        return ReportRecord(timestamp_ms, version, "init", init_ms=float(duration))
    fields = {_JSON_FIELDS[k]: float(v) for k, v in metrics.items() if k in _JSON_FIELDS and isinstance(v, int | float)}
    status, error_type = record.get("status", "success"), record.get("errorType")
    if not isinstance(status, str) or not isinstance(error_type, str | None):
        raise LogRecordError(f"platform.report with a status that is not text: {text[:120]!r}")
    return _from_fields(fields, timestamp_ms, version, "report", status.lower(), error_type)


def _from_fields(fields: Mapping[str, float], timestamp_ms: int, version: str, kind: str, status: str,
                 error_type: str | None) -> ReportRecord:
    missing = [name for name in ("duration_ms", "billed_ms", "memory_mb", "max_memory_mb") if name not in fields]
    if missing:
        raise LogRecordError(f"REPORT record lacks {', '.join(missing)}")
    return ReportRecord(timestamp_ms, version, kind, duration_ms=fields["duration_ms"], billed_ms=fields["billed_ms"],
                        memory_mb=fields["memory_mb"], max_memory_mb=fields["max_memory_mb"],
                        init_ms=fields.get("init_ms"), restore_ms=fields.get("restore_ms"),
                        billed_restore_ms=fields.get("billed_restore_ms"), status=status, error_type=error_type)


class LogsReader:
    """Reads REPORT records of one log group through FilterLogEvents; botocore errors stop here."""

    def __init__(self, client: Any, *, page_size: int | None = None) -> None:
        self._client = client
        self._page_size = page_size  # None: the service default (up to 10,000 events or 1 MB)
        self.calls = 0

    def fetch_events(self, log_group: str, start: datetime, end: datetime,
                     pattern: str = FILTER_PATTERN) -> Iterator[dict[str, Any]]:
        """Every event with ``start <= timestamp < end`` that ``pattern`` selects (default: what may be a
        REPORT record)."""
        kwargs: dict[str, Any] = {"logGroupName": log_group, "startTime": int(start.timestamp() * 1000),
                                  "endTime": int(end.timestamp() * 1000) - 1, "filterPattern": pattern}
        if self._page_size:
            kwargs["limit"] = self._page_size
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            response = self._call(kwargs)
            yield from response.get("events", [])
            token = response.get("nextToken")
            if not token or token in seen:
                return
            seen.add(token)
            kwargs["nextToken"] = token

    def fetch_records(self, log_group: str, start: datetime, end: datetime,
                      warnings: list[str]) -> list[ReportRecord]:
        return read_records(self.fetch_events(log_group, start, end), log_group, warnings)

    def _call(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        # no log group yet (the function has never run): no events, not an error
        return call_aws(self._client, "logs", "filter_log_events", kwargs, absent={"events": []})


def read_records(events: Iterable[Mapping[str, Any]], log_group: str, warnings: list[str]) -> list[ReportRecord]:
    """The REPORT-like records among FilterLogEvents events; one warning for the unreadable ones."""
    out: list[ReportRecord] = []
    bad = 0
    for event in events:
        try:
            record = parse_event(str(event.get("message", "")), int(event["timestamp"]),
                                 str(event.get("logStreamName", "")))
        except LogRecordError as exc:
            bad += 1
            if bad == 1:
                warnings.append(f"{log_group}: unreadable REPORT record skipped: {exc}")
            continue
        if record is not None:
            out.append(record)
    if bad > 1:
        warnings.append(f"{log_group}: {bad} unreadable REPORT records skipped in total")
    return out


def step_metrics(records: Sequence[ReportRecord], *, every_report: bool = True) -> dict[str, float]:
    """The log-derived metrics of one deployment over one step. Counts are 0, not missing, in a step
    without records: the log group holds every invocation's REPORT. With ``every_report`` False only
    the exceptional records were read (cold starts, restores, failures: ``collectors.aws_windows``), so
    the sums over every invocation (billed duration, memory) are not derived from them."""
    reports = [r for r in records if r.kind == "report"]
    restores = [r for r in reports if r.restored]
    inits = [r.init_ms for r in records if r.init_ms is not None]  # on-demand cold starts and INIT_REPORTs
    out: dict[str, float] = {
        M.COLD_STARTS: float(sum(1 for r in reports if r.cold_start)),
        M.RESTORES: float(len(restores)),
        M.TIMEOUTS: float(sum(1 for r in reports if r.timed_out)),
        M.OOM_KILLS: float(sum(1 for r in reports if r.out_of_memory)),
    }
    if reports and every_report:
        out[M.BILLED_DURATION_SUM] = float(sum(r.billed_ms for r in reports))
        out[M.MEMORY_CONFIGURED] = max(r.memory_mb for r in reports)
        out[M.MEMORY_MAX_USED] = max(r.max_memory_mb for r in reports)
    if inits:
        out[M.INIT_SUM] = float(sum(inits))
        out[M.INIT_MAX] = float(max(inits))
        out[M.INIT_AVG] = float(sum(inits) / len(inits))
    if restores:
        restore_ms = [r.restore_ms for r in restores if r.restore_ms is not None]
        out[M.RESTORE_MAX] = float(max(restore_ms))
        out[M.RESTORE_AVG] = float(sum(restore_ms) / len(restore_ms))
        out[M.BILLED_RESTORE_SUM] = float(sum(r.billed_restore_ms or 0.0 for r in restores))
    return out


def merge_log_counts(cloudwatch: Sequence[MetricPoint], logs: Sequence[MetricPoint]) -> list[MetricPoint]:
    """CloudWatch's points and the REPORT-derived ones as one set of points.

    A function killed at its timeout writes no EMF line, so the REPORT timeouts add to the EMF
    ``Timeout`` count (the reference service's own deadline answers, which Lambda counts as
    successes). Lambda's ``Errors`` metric counts those kills too, so they are taken out of the server
    errors: the schema's error causes are disjoint. Errors are stamped at invoke time and REPORT
    records at their end, so a timeout that straddles a step boundary can stay counted in both steps
    (never below zero).
    """
    timeouts = {(p.deployment, p.start): p.value for p in logs if p.metric == M.TIMEOUTS}
    added: set[tuple[str, datetime]] = set()
    out: list[MetricPoint] = []
    for p in cloudwatch:
        key = (p.deployment, p.start)
        if p.metric == M.TIMEOUTS and key in timeouts:
            p = replace(p, value=p.value + timeouts[key])
            added.add(key)
        elif p.metric == M.SERVER_ERRORS and key in timeouts:
            p = replace(p, value=max(0.0, p.value - timeouts[key]))
        out.append(p)
    out += [p for p in logs if p.metric != M.TIMEOUTS or (p.deployment, p.start) not in added]
    return out


def to_points(records: Iterable[ReportRecord], deployment_of: Mapping[str, Sequence[str]], whole: str,
              steps: Sequence[datetime], step_s: int, *, every_report: bool = True) -> list[MetricPoint]:
    """Points per step for the whole function (``whole``) and each deployment its version maps to.

    Every step of the window gets a cold-start count (0 when no REPORT was seen).
    """
    groups: dict[tuple[str, int], list[ReportRecord]] = defaultdict(list)
    for record in records:
        step = record.timestamp_ms // 1000 // step_s * step_s
        for dep in (whole, *deployment_of.get(record.version, ())):
            groups[(dep, step)].append(record)
    targets = {whole, *(d for deps in deployment_of.values() for d in deps)}
    points: list[MetricPoint] = []
    for dep in sorted(targets):
        for start in steps:
            metrics = step_metrics(groups.get((dep, int(start.timestamp())), []), every_report=every_report)
            points += [MetricPoint(dep, name, start.astimezone(UTC), step_s, value) for name, value in metrics.items()]
    return points
