"""Cold starts and billing facts from Lambda's own log records (CloudWatch has no cold-start metric).

Lambda writes one ``REPORT`` record per invocation, as text or, with the JSON log format, as a
``platform.report`` record:

    REPORT RequestId: 3f0c Duration: 102.25 ms Billed Duration: 103 ms Memory Size: 512 MB
        Max Memory Used: 131 MB Init Duration: 812.40 ms
    {"time": "...", "type": "platform.report", "record": {"requestId": "3f0c", "metrics":
        {"durationMs": 102.25, "billedDurationMs": 103, "memorySizeMB": 512, "maxMemoryUsedMB": 131,
         "initDurationMs": 812.4}}}

An invocation is a cold start when its REPORT carries ``Init Duration`` or, under SnapStart,
``Restore Duration`` (SnapStart initialises when a version is published, so its init time is in a
separate ``INIT_REPORT`` / ``platform.initReport`` record). INIT_REPORT records add to the init
time totals but are not invocations, so they are not counted as cold starts.

The version comes from the log stream name (``2026/11/24/[7]abc...`` or ``[$LATEST]``).
``FilterLogEvents`` is paged by looping on ``nextToken`` (pages may be empty and still carry a
token; a token seen twice ends the loop).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inferwatch.schema import Metric as M
from inferwatch.schema import MetricPoint

FILTER_PATTERN = '?REPORT ?INIT_REPORT ?"platform.report" ?"platform.initReport"'
MAX_PAGES = 10_000
_TEXT_FIELDS = {
    "Duration": "duration_ms", "Billed Duration": "billed_ms", "Memory Size": "memory_mb",
    "Max Memory Used": "max_memory_mb", "Init Duration": "init_ms", "Restore Duration": "restore_ms",
}
_TEXT_FIELD = re.compile(r"(Billed Restore Duration|Billed Duration|Restore Duration|Init Duration|Duration|"
                         r"Memory Size|Max Memory Used): ([0-9.]+) (?:ms|MB)")
_JSON_FIELDS = {
    "durationMs": "duration_ms", "billedDurationMs": "billed_ms", "memorySizeMB": "memory_mb",
    "maxMemoryUsedMB": "max_memory_mb", "initDurationMs": "init_ms", "restoreDurationMs": "restore_ms",
}
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
    restore_ms: float | None = None  # SnapStart restore (cold start)

    @property
    def cold_start(self) -> bool:
        return self.kind == "report" and (self.init_ms is not None or self.restore_ms is not None)


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
        return _from_fields(_text_fields(text), timestamp_ms, version, "report")
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
    metrics = record.get("metrics") if isinstance(record, dict) else None
    if not isinstance(metrics, dict):
        raise LogRecordError(f"{doc['type']} record without metrics: {text[:120]!r}")
    if doc["type"] == "platform.initReport":
        duration = metrics.get("durationMs")
        if not isinstance(duration, int | float):
            raise LogRecordError(f"platform.initReport without durationMs: {text[:120]!r}")
        return ReportRecord(timestamp_ms, version, "init", init_ms=float(duration))
    fields = {_JSON_FIELDS[k]: float(v) for k, v in metrics.items() if k in _JSON_FIELDS and isinstance(v, int | float)}
    return _from_fields(fields, timestamp_ms, version, "report")


def _from_fields(fields: Mapping[str, float], timestamp_ms: int, version: str, kind: str) -> ReportRecord:
    missing = [name for name in ("duration_ms", "billed_ms", "memory_mb", "max_memory_mb") if name not in fields]
    if missing:
        raise LogRecordError(f"REPORT record lacks {', '.join(missing)}")
    return ReportRecord(timestamp_ms, version, kind, duration_ms=fields["duration_ms"], billed_ms=fields["billed_ms"],
                        memory_mb=fields["memory_mb"], max_memory_mb=fields["max_memory_mb"],
                        init_ms=fields.get("init_ms"), restore_ms=fields.get("restore_ms"))


class LogsReader:
    """Reads REPORT records of one log group through FilterLogEvents; botocore errors stop here."""

    def __init__(self, client: Any, *, page_size: int | None = None) -> None:
        self._client = client
        self._page_size = page_size  # None: the service default (up to 10,000 events or 1 MB)
        self.calls = 0

    def fetch_events(self, log_group: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """Every event with ``start <= timestamp < end`` that may be a REPORT record."""
        kwargs: dict[str, Any] = {"logGroupName": log_group, "startTime": int(start.timestamp() * 1000),
                                  "endTime": int(end.timestamp() * 1000) - 1, "filterPattern": FILTER_PATTERN}
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
        out: list[ReportRecord] = []
        bad = 0
        for event in self.fetch_events(log_group, start, end):
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

    def _call(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        from collectors.aws import translate_error  # late: collectors.aws imports this module

        self.calls += 1
        try:
            response: dict[str, Any] = self._client.filter_log_events(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return {"events": []}  # no log group yet: the function has never run
            raise translate_error(exc, "logs:FilterLogEvents") from exc
        except BotoCoreError as exc:
            raise translate_error(exc, "logs:FilterLogEvents") from exc
        return response


def step_metrics(records: Sequence[ReportRecord]) -> dict[str, float]:
    """The log-derived metrics of one deployment over one step."""
    reports = [r for r in records if r.kind == "report"]
    cold = [r for r in reports if r.cold_start]
    init = [r.init_ms if r.init_ms is not None else r.restore_ms for r in cold]
    init += [r.init_ms for r in records if r.kind == "init"]
    out: dict[str, float] = {M.COLD_STARTS: float(len(cold))}
    if reports:
        out[M.BILLED_DURATION_SUM] = float(sum(r.billed_ms for r in reports))
        out[M.MEMORY_CONFIGURED] = max(r.memory_mb for r in reports)
        out[M.MEMORY_MAX_USED] = max(r.max_memory_mb for r in reports)
    values = [v for v in init if v is not None]
    if values:
        out[M.INIT_SUM] = float(sum(values))
        out[M.INIT_MAX] = float(max(values))
        out[M.INIT_AVG] = float(sum(values) / len(values))
    return out


def to_points(records: Iterable[ReportRecord], deployment_of: Mapping[str, Sequence[str]], whole: str,
              steps: Sequence[datetime], step_s: int) -> list[MetricPoint]:
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
            metrics = step_metrics(groups.get((dep, int(start.timestamp())), []))
            points += [MetricPoint(dep, name, start.astimezone(UTC), step_s, value) for name, value in metrics.items()]
    return points
