"""The probe's window lines on AWS: read from each function's log group with FilterLogEvents, matched to
the configured function by the ``function`` member the probe writes (``aws:<region>:<name>``, from the
Lambda context's ARN), and combined with what CloudWatch and Lambda's own REPORT records say.

One FilterLogEvents pass per function and window selects, by ``LINES_PATTERN``, the window lines and only
those REPORT records that carry what no metric has: cold starts (``Init Duration``), SnapStart restores,
INIT_REPORTs and failed invocations (timeouts, out-of-memory kills). The every-invocation REPORT read of
the pre-probe design (``collectors.aws_logs.FILTER_PATTERN``) is kept for functions that write no window
line: at 10 requests per second it moves ~8 GB a month out of AWS per read (docs/cloud.md).

What comes from where, per step (``combine``):
- invocations, server errors, throttles, latency percentiles and duration sum, concurrency: CloudWatch's
  AWS/Lambda metrics (exact, free to store). Window lines fill the steps CloudWatch has not been read for
  yet (``[collect] cloud_metrics_interval_s``) and are replaced once it is.
- cold starts, init and restore times, out-of-memory kills: the REPORT records (the platform's own).
- timeouts: the larger of the probe's count and REPORT's (the probe also counts a handler that answered
  within its deadline margin; REPORT also counts a kill the probe did not see).
- rows, client errors, degraded answers, memory used and every drift histogram: the window lines.

Moto ignores filter patterns, so the selection is applied again here (``selected``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from collectors.aws_client import call_aws
from collectors.aws_logs import FILTER_PATTERN, LogsReader, ReportRecord, read_records, version_of_stream
from collectors.base import BaselineLookup, ProbeBinsLookup
from collectors.window_lines import WindowLine, parse_window_line
from collectors.window_merge import window_records
from inferwatch.schema import Deployment, HistogramPoint, MetricPoint
from inferwatch.schema import Metric as M

WINDOW_SCHEMA = "inferwatch.window/1"
# Terms of the one FilterLogEvents pattern (any of them selects an event): the window lines, then the
# REPORT records of cold starts, restores and failures in Lambda's text and JSON log formats.
LINE_TERMS = ("inferwatch.window/1", "Init Duration", "Restore Duration", "Status:", "INIT_REPORT",
              "initDurationMs", "restoreDurationMs", "platform.initReport", "errorType", "timeout")
LINES_PATTERN = " ".join(f'?"{term}"' for term in LINE_TERMS)
# A function not known to write window lines: the same pass also selects every REPORT record, which is all
# such a function has per invocation (one FilterLogEvents call per function and run either way).
EVERY_REPORT_PATTERN = f"{LINES_PATTERN} {FILTER_PATTERN}"
# The AWS/Lambda metrics CloudWatch has exactly; window lines only stand in for them until it is read.
CLOUD_METRICS = frozenset({M.INVOCATIONS, M.SERVER_ERRORS, M.THROTTLES, M.LATENCY_P50, M.LATENCY_P95,
                           M.LATENCY_P99, M.LATENCY_AVG, M.LATENCY_MAX, M.DURATION_SUM, M.CONCURRENCY_MAX})
# What the platform's REPORT records say better than the probe (it cannot see its own init as billed).
REPORT_METRICS = frozenset({M.COLD_STARTS, M.RESTORES, M.OOM_KILLS, M.INIT_AVG, M.INIT_MAX, M.INIT_SUM,
                            M.RESTORE_AVG, M.RESTORE_MAX, M.BILLED_RESTORE_SUM, M.BILLED_DURATION_SUM})


def lambda_function_id(region: str, function: str) -> str:
    """What the probe writes as ``function``: ``aws:<region>:<name>`` (``lambda_target`` in the probe)."""
    return f"aws:{region}:{function}"


@dataclass(frozen=True, slots=True)
class FunctionLogs:
    """One function's log records over a window."""

    lines: list[WindowLine] = field(default_factory=list)  # its window lines
    versions: dict[int, str] = field(default_factory=dict)  # id(line) -> the version its log stream names
    reports: list[ReportRecord] = field(default_factory=list)  # REPORT records
    every_report: bool = True  # False: only the exceptional REPORTs were read (window lines were found)
    other_functions: int = 0  # window lines of other functions in a shared log group, left to them


def selected(message: str) -> bool:
    """Whether ``LINES_PATTERN`` selects this event (term patterns match the terms anywhere)."""
    return any(term in message for term in LINE_TERMS)


def window_doc(message: str) -> dict[str, Any] | None:
    """The window line in a log event, None for any other event; ``ValueError`` for a window line that
    is not JSON."""
    text = message.strip()
    if not text.startswith("{") or WINDOW_SCHEMA not in text:
        return None
    doc = json.loads(text)
    return doc if isinstance(doc, dict) and doc.get("schema") == WINDOW_SCHEMA else None


def read_function_logs(reader: LogsReader, group: str, function_id: str, start: datetime, end: datetime,
                       warnings: list[str], *, known_probed: bool = False) -> FunctionLogs:
    """Window lines and REPORT records of one function with ``start <= timestamp < end``: one pass. A
    function ``known_probed`` (window lines seen lately) is read for its window lines and exceptional
    REPORTs only; any other also for every REPORT, kept whole when it turns out to write no window lines."""
    pattern = LINES_PATTERN if known_probed else EVERY_REPORT_PATTERN
    read = list(reader.fetch_events(group, start, end, pattern))
    events = [e for e in read if selected(str(e.get("message", "")))]
    out = FunctionLogs()
    others: list[Mapping[str, Any]] = []
    bad: list[str] = []
    for event in events:
        try:
            doc = window_doc(str(event.get("message", "")))
            if doc is None:
                others.append(event)
                continue
            if doc.get("function") not in (None, function_id):
                out = replace(out, other_functions=out.other_functions + 1)
                continue
            line = parse_window_line(doc)
        except ValueError as exc:  # JSONDecodeError, and the parser's errors about the line's members
            bad.append(str(exc))
            continue
        out.lines.append(line)
        out.versions[id(line)] = str(doc.get("function_version") or version_of_stream(str(event.get("logStreamName"))))
    if bad:
        warnings.append(f"{group}: {len(bad)} unreadable window line(s) skipped, first: {bad[0]}")
    if not out.lines:  # not instrumented with the probe (or idle): every REPORT is the only per-invocation record
        every = read_records(read, group, warnings) if not known_probed else reader.fetch_records(group, start, end,
                                                                                                  warnings)
        return replace(out, reports=every)
    return replace(out, reports=read_records(others, group, warnings), every_report=False)


def window_points(logs: FunctionLogs, deployments: Sequence[Deployment], deployment_of: Mapping[str, Sequence[str]],
                  *, start: datetime, end: datetime, step_s: int, baselines: BaselineLookup | None,
                  probe_bins: ProbeBinsLookup | None, warnings: list[str]) -> tuple[list[MetricPoint],
                                                                                   list[HistogramPoint]]:
    """Points and histograms of one function's window lines for the whole function (``deployments[0]``) and
    the aliases their version maps to (``deployment_of``: version -> deployment ids), steps of
    ``[start, end)`` only."""
    by_id = {d.id: d for d in deployments}

    def targets(line: WindowLine) -> Sequence[Deployment]:
        version = logs.versions.get(id(line), "$LATEST")
        return [deployments[0], *(by_id[d] for d in deployment_of.get(version, ()) if d in by_id)]

    return window_records(logs.lines, targets, start=start, end=end, step_s=step_s, baselines=baselines,
                          probe_bins=probe_bins, source=deployments[0].name, warnings=warnings)


def count_window_lines(client: Any, group: str, function_id: str, start: datetime, end: datetime) -> int | None:
    """``config check``: this function's window lines in ``group`` between ``start`` and ``end`` (first page
    of at most 100), None when the log group does not exist. Collector errors (denied, throttled) propagate."""
    kwargs = {"logGroupName": group, "startTime": int(start.timestamp() * 1000),
              "endTime": int(end.timestamp() * 1000), "filterPattern": f'{{ $.schema = "{WINDOW_SCHEMA}" }}',
              "limit": 100}
    response = call_aws(client, "logs", "filter_log_events", kwargs, absent={"missing": True})
    if response.get("missing"):
        return None
    count = 0
    for event in response.get("events", []):
        try:
            doc = window_doc(str(event.get("message", "")))
        except ValueError:
            continue
        count += doc is not None and doc.get("function") in (None, function_id)
    return count
