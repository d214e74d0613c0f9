"""The probe's window lines on Cloud Run: read from Cloud Logging with ``entries.list`` (the Logging API's
``ListLogEntries`` over gRPC), one filtered, paged request per service and window, and combined with what
Cloud Monitoring's built-in ``run.googleapis.com`` metrics say.

On Cloud Run the probe writes each window line to stdout with ``severity`` and ``message``, so Cloud
Logging stores it as a structured entry whose ``jsonPayload`` is the line. The filter selects only those
(``jsonPayload.schema``) of the service's revisions, by the entry's timestamp (when the line was written:
never earlier than the moments it counts). A ``jsonPayload`` is a protobuf ``Struct``, whose numbers are
all doubles: whole numbers are turned back into integers here, as the probe wrote them.

Cloud Monitoring's numbers win where both exist (requests, errors, latency, instances, cold starts); the
window lines give rows, degraded answers, timeouts and every drift histogram.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import retry as gretry
from google.protobuf.json_format import MessageToDict

from collectors.base import BaselineLookup, ProbeBinsLookup, Window
from collectors.gcp_client import GOOGLE_ERRORS, Target, translate_error
from collectors.gcp_run_config import retired_revision
from collectors.window_lines import WindowLine, parse_window_line
from collectors.window_merge import window_records
from inferwatch.schema import Deployment, HistogramPoint, MetricPoint, Provider
from inferwatch.schema import Metric as M

PERMISSION = "logging.logEntries.list"
WINDOW_SCHEMA = "inferwatch.window/1"
# What Cloud Monitoring's built-in run.googleapis.com metrics say exactly: window lines only stand in for them
# at the steps it has not been read for yet (collectors.window_merge).
CLOUD_METRICS = frozenset({M.INVOCATIONS, M.SERVER_ERRORS, M.CLIENT_ERRORS, M.THROTTLES, M.LATENCY_P50,
                           M.LATENCY_P95, M.LATENCY_P99, M.COLD_STARTS, M.INIT_AVG, M.INIT_MAX, M.INIT_SUM,
                           M.INSTANCES_ACTIVE, M.INSTANCES_IDLE, M.BILLABLE_INSTANCE_TIME, M.CONCURRENCY_MAX,
                           M.CPU_UTILIZATION_P95, M.MEMORY_UTILIZATION_P95})
PAGE_SIZE = 1000  # entries per page (the API's maximum)
MAX_PAGES = 10_000


def _rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_filter(target: Target, start: datetime, end: datetime) -> str:
    """The Logging query language filter of one service's window lines with ``start <= timestamp < end``."""
    return (f'resource.type="cloud_run_revision" AND resource.labels.service_name="{target.service}" '
            f'AND resource.labels.location="{target.region}" AND jsonPayload.schema="{WINDOW_SCHEMA}" '
            f'AND timestamp>="{_rfc3339(start)}" AND timestamp<"{_rfc3339(end)}"')


def list_request(target: Target, start: datetime, end: datetime) -> dict[str, Any]:
    return {"resource_names": [f"projects/{target.project}"], "filter": window_filter(target, start, end),
            "order_by": "timestamp asc", "page_size": PAGE_SIZE}


def plain(value: Any) -> Any:
    """A ``Struct`` value as the probe wrote it: whole doubles back to integers."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def fetch_window_entries(client: Any, target: Target, start: datetime, end: datetime, *, retry: gretry.Retry,
                         timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
    """(revision, window line) of every entry of the window, paged (``client``: LoggingServiceV2Client)."""
    out: list[tuple[str, dict[str, Any]]] = []
    try:
        pager = client.list_log_entries(request=list_request(target, start, end), retry=retry, timeout=timeout_s)
        for page_number, page in enumerate(pager.pages):
            if page_number >= MAX_PAGES:
                break
            for entry in page.entries:
                pb = type(entry).pb(entry)
                doc = plain(MessageToDict(pb.json_payload)) if pb.HasField("json_payload") else {}
                out.append((str(pb.resource.labels.get("revision_name", "")), doc))
    except GOOGLE_ERRORS as exc:
        raise translate_error(exc, action="ListLogEntries", permission=PERMISSION) from exc
    return out


def window_points(entries: Iterable[tuple[str, Mapping[str, Any]]], target: Target, window: Window,
                  deployments: Sequence[Deployment], *, baselines: BaselineLookup | None,
                  probe_bins: ProbeBinsLookup | None,
                  warnings: list[str]) -> tuple[list[MetricPoint], list[HistogramPoint]]:
    """Points and histograms of the window lines, for the service and each line's revision (``deployments``
    as configured; a revision out of the traffic split is a retired one), steps of ``window`` only."""
    lines: list[WindowLine] = []
    revision_of: dict[int, str] = {}
    bad: list[str] = []
    for revision, doc in entries:
        try:
            line = parse_window_line(doc)
        except ValueError as exc:  # TelemetryLineError: the line is off the contract
            bad.append(str(exc))
            continue
        lines.append(line)
        revision_of[id(line)] = revision or line.revision or ""
    if bad:
        warnings.append(f"{target.service}: {len(bad)} unreadable window line(s) skipped, first: {bad[0]}")
    by_id = {d.id: d for d in deployments}
    service = by_id.get(target.service_id) or Deployment(target.service_id, Provider.GCP, target.region,
                                                         target.service, target.service)

    def targets(line: WindowLine) -> Sequence[Deployment]:
        revision = revision_of.get(id(line), "")
        if not revision:
            return [service]
        return [service, by_id.get(target.revision_id(revision)) or retired_revision(target, revision)]

    return window_records(lines, targets, start=window.start, end=window.end, step_s=window.step_s,
                          baselines=baselines, probe_bins=probe_bins, source=target.service, warnings=warnings)


def probe_window_lines(client: Any, target: Target, now: datetime, *, retry: gretry.Retry,
                       timeout_s: float = 10.0) -> int:
    """``config check``: the service's window lines of the last hour (first page only, at most 1,000)."""
    request = list_request(target, now - timedelta(hours=1), now)
    try:
        pager = client.list_log_entries(request=request, retry=retry, timeout=timeout_s)
        return len(next(iter(pager.pages)).entries)
    except StopIteration:
        return 0
    except GOOGLE_ERRORS as exc:
        raise translate_error(exc, action="ListLogEntries probe", permission=PERMISSION) from exc
