"""The one reader of the probe's window lines (``inferwatch.window/1``, docs/telemetry.md "Window lines"), for
every collector that meets them: the local collector reads them from files, the cloud collectors from
CloudWatch Logs and Cloud Logging.

- :func:`parse_window_line` turns one parsed JSON object into a typed, validated :class:`WindowLine`, or
  raises :class:`~collectors.local_telemetry.TelemetryLineError` naming every member that is off the
  contract (the line is then quarantined like any bad line).
- :func:`window_batch` aggregates window lines per deployment and step into the store's records: metric
  points and histograms over the models' baselines.

Steps: a window line covers the span ``[first_ms, last_ms]`` of its invocations, and the whole line is
attributed to the step holding ``last_ms``, the end of its last invocation. Splitting a line across the
steps it spans was rejected: its counts are integers (a histogram cannot hold 0.4 of a row), and nothing
in the line says how its invocations spread in time (after a pause, one invocation at each end). The
probe writes a line on the first invocation after its flush interval, so a step's counts arrive at most
one flush interval late: with the default 60 s interval and 60 s steps, traffic lands in its own step or
the next, and every window of two steps or more (5 minutes, an hour) is exact.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collectors.base import BaselineLookup, ProbeBinsLookup
from collectors.line_fields import FieldReader, TelemetryLineError, shown
from collectors.window_histograms import HistogramCounter
from collectors.window_signals import (
    LogBuckets,
    SignalCounts,
    bucket_quantile,
    merge_buckets,
    parse_buckets,
    parse_signal,
)
from inferwatch.names import NAME_RULE, name_problem
from inferwatch.schema import Deployment, HistogramPoint, MetricPoint, ModelKey
from inferwatch.schema import Metric as M

SCHEMA = "inferwatch.window/1"
STATUSES = ("ok", "client_error", "timeout", "degraded", "error")
TASKS = ("binary", "multiclass", "regression")
ROLES = ("stable", "canary", "blue", "green", "shadow")
PLATFORMS = ("lambda", "cloud_run", "local")
REASONS = ("interval", "exit", "sigterm", "timeout", "manual", "close")
MAX_MS = 2**53  # epoch milliseconds and counts: integers a double holds exactly
MAX_DURATION_MS = 86_400_000.0 * 366  # sums of a window's durations: a year of handler time
MAX_MEMORY_MB = 1_048_576.0
_INSTANCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,95}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r".{1,64}", re.DOTALL)  # checked by the product's name rule below


@dataclass(frozen=True, slots=True)
class WindowInit:
    """The init of the instance, in the window of its first invocation."""

    type: str
    cold: bool
    init_ms: float
    load_ms: float
    other_ms: float


@dataclass(frozen=True, slots=True)
class WindowLatency:
    """The window's ``LatencyMs`` histogram (log-spaced buckets, mergeable) with its exact count, sum and range."""

    buckets: LogBuckets
    count: int
    sum_ms: float
    min_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class WindowLine:
    """One window line of one probe instance, as docs/telemetry.md specifies it."""

    deployment: str
    service: str
    model_version: str
    task: str
    role: str
    platform: str
    instance_id: str
    start_ms: int
    end_ms: int
    first_ms: int
    last_ms: int
    reason: str
    invocations: Mapping[str, int]  # count per status, all five
    rows: int
    error_types: Mapping[str, int]
    cold_starts: int
    latency: WindowLatency
    inference_ms_sum: float
    concurrency_max: int
    max_memory_used_mb: float
    configured_memory_mb: int  # 0 when unknown
    signals: Mapping[str, SignalCounts]
    probe_version: str
    probe_errors: int
    dropped_lines: int
    model_sha256: str | None = None
    revision: str | None = None
    function_version: str | None = None
    function: str | None = None
    qualifiers: Mapping[str, int] = field(default_factory=dict)
    error_types_other: int = 0
    init: WindowInit | None = None
    bins_sha256: str | None = None
    signals_dropped: int = 0
    signals_truncated: tuple[str, ...] = ()

    @property
    def invocation_count(self) -> int:
        return sum(self.invocations.values())

    @property
    def model_key(self) -> ModelKey:
        """The model the line's predictions came from, which its baseline is looked up by."""
        return ModelKey(self.service, self.model_version, self.model_sha256)


def parse_window_line(doc: Mapping[str, Any]) -> WindowLine:
    """A window line's JSON object -> :class:`WindowLine`; :class:`TelemetryLineError` naming every member
    that is missing or wrong (the first in its message, all in ``problems``)."""
    r = FieldReader()
    if doc.get("schema") != SCHEMA or doc.get("kind") != "window":
        raise TelemetryLineError(f"not a window line: schema must be {SCHEMA!r} and kind 'window', got "
                                 f"{shown(doc.get('schema'))} and {shown(doc.get('kind'))}", field="schema")
    start_ms, end_ms, first_ms, last_ms = (r.integer(doc, k, maximum=MAX_MS)
                                           for k in ("start_ms", "end_ms", "first_ms", "last_ms"))
    if not (start_ms <= end_ms and first_ms <= last_ms <= end_ms):
        r.add("end_ms", "must hold start_ms <= end_ms and first_ms <= last_ms <= end_ms")
    invocations = _counts_of(r, doc, "invocations", required=True)
    if invocations and sorted(invocations) != sorted(STATUSES):
        r.add("invocations", f"must hold one count per status {list(STATUSES)}")
    error_types = _counts_of(r, doc, "error_types", required=True)
    error_types_other = r.integer(doc, "error_types_other", maximum=MAX_MS, default=0)
    if sum(error_types.values()) + error_types_other != sum(invocations.values()) - invocations.get("ok", 0):
        r.add("error_types", "with error_types_other must add up to the invocations that were not ok")
    latency = _latency(r, r.mapping(doc, "latency_ms"), sum(invocations.values()))
    memory = r.mapping(doc, "memory")
    probe = r.mapping(doc, "probe")
    signals = {name: s for name, spec in r.mapping(doc, "signals").items()
               if (s := parse_signal(r, str(name), spec)) is not None}
    bins_sha256 = r.opt_text(doc, "bins_sha256", pattern=_SHA256, rule="64 lowercase hex digits")
    if bins_sha256 is None and any(s.type == "bins" for s in signals.values()):
        r.add("bins_sha256", "is missing: signals of type bins need the bins file they were counted over")
    line = WindowLine(
        deployment=_name(r, doc, "deployment"), service=_name(r, doc, "service"),
        model_version=_name(r, doc, "model_version"), task=r.text(doc, "task", choices=TASKS),
        role=r.text(doc, "role", choices=ROLES),
        platform=r.text(doc, "platform", choices=PLATFORMS),
        instance_id=r.text(doc, "instance_id", pattern=_INSTANCE_ID, rule="1-96 letters, digits, '_' or '-'"),
        start_ms=start_ms, end_ms=end_ms, first_ms=first_ms, last_ms=last_ms,
        reason=r.text(doc, "reason", choices=REASONS), invocations=invocations,
        rows=r.integer(doc, "rows", maximum=MAX_MS), error_types=error_types,
        cold_starts=r.integer(doc, "cold_starts", maximum=1), latency=latency,
        inference_ms_sum=r.number(doc, "inference_ms_sum", maximum=MAX_DURATION_MS),
        concurrency_max=r.integer(doc, "concurrency_max", maximum=MAX_MS),
        max_memory_used_mb=r.number(memory, "max_used_mb", "memory.", maximum=MAX_MEMORY_MB),
        configured_memory_mb=r.integer(memory, "configured_mb", "memory.", maximum=int(MAX_MEMORY_MB)),
        signals=signals, probe_version=r.text(probe, "version", "probe."),
        probe_errors=r.integer(probe, "errors", "probe.", maximum=MAX_MS),
        dropped_lines=r.integer(probe, "dropped_lines", "probe.", maximum=MAX_MS),
        model_sha256=r.opt_text(doc, "model_sha256", pattern=_SHA256, rule="64 lowercase hex digits"),
        revision=r.opt_text(doc, "revision"), function_version=r.opt_text(doc, "function_version"),
        function=r.opt_text(doc, "function"), qualifiers=_counts_of(r, doc, "qualifiers", required=False),
        error_types_other=error_types_other,
        init=_init(r, doc), bins_sha256=bins_sha256,
        signals_dropped=r.integer(doc, "signals_dropped", maximum=MAX_MS, default=0),
        signals_truncated=tuple(str(n) for n in r.array(doc, "signals_truncated", required=False, max_items=2048)),
    )
    r.check()
    return line


def _name(r: FieldReader, doc: Mapping[str, Any], key: str) -> str:
    value = r.text(doc, key, pattern=_NAME, rule=NAME_RULE)
    if value and name_problem(value) is not None:
        r.add(key, f"must be {NAME_RULE}, got {shown(value)}")
        return ""
    return value


def _counts_of(r: FieldReader, doc: Mapping[str, Any], key: str, *, required: bool) -> dict[str, int]:
    """An object of name -> whole count (statuses, error types, qualifiers)."""
    counts = r.mapping(doc, key, required=required)
    if len(counts) > 1024 or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= MAX_MS
                                     and 0 < len(k) <= 256 for k, c in counts.items()):
        r.add(key, "must map names of 1-256 characters to whole counts >= 0")
        return {}
    return dict(counts)


def _latency(r: FieldReader, doc: Mapping[str, Any], invocations: int) -> WindowLatency:
    where = "latency_ms."
    if not doc:
        return WindowLatency(LogBuckets(1), 0, 0.0, 0.0, 0.0)  # missing: reported by the caller's read
    buckets = parse_buckets(r, doc, where, signed=False)
    count = r.integer(doc, "count", where, maximum=MAX_MS)
    latency = WindowLatency(buckets, count, r.number(doc, "sum", where, maximum=MAX_DURATION_MS),
                            r.number(doc, "min", where, maximum=MAX_DURATION_MS),
                            r.number(doc, "max", where, maximum=MAX_DURATION_MS))
    if count != invocations or buckets.count != count:
        r.add(where + "count", f"must equal the invocations ({invocations}) and the buckets' total "
              f"({buckets.count}), got {count}")
    return latency


def _init(r: FieldReader, doc: Mapping[str, Any]) -> WindowInit | None:
    init = r.mapping(doc, "init", required=False)
    if not init:
        return None
    cold = init.get("cold")
    if not isinstance(cold, bool):
        r.add("init.cold", f"must be true or false, got {shown(cold)}")
    return WindowInit(r.text(init, "type", "init."), bool(cold),
                      *(r.number(init, k, "init.", maximum=MAX_DURATION_MS) for k in ("init_ms", "load_ms",
                                                                                      "other_ms")))


def step_of(line: WindowLine, step_s: int) -> int:
    """The epoch second of the step a window line is attributed to: the one holding its ``last_ms``."""
    return line.last_ms // 1000 // step_s * step_s


def window_batch(
    lines: Iterable[WindowLine],
    *,
    deployment_of: Callable[[WindowLine], Deployment | None],
    step_s: int,
    baselines: BaselineLookup | None,
    probe_bins: ProbeBinsLookup | None,
    warnings: list[str],
) -> tuple[list[MetricPoint], list[HistogramPoint]]:
    """Metric points and histograms of window lines, per deployment and step (the step holding each
    line's ``last_ms``). ``deployment_of`` names the deployment a line belongs to (None: not collected,
    counted in one warning); problems with baselines and bins files are warnings, one each."""
    groups: dict[tuple[str, int], list[WindowLine]] = defaultdict(list)
    deployments: dict[str, Deployment] = {}
    unknown: dict[str, int] = defaultdict(int)
    for line in lines:
        dep = deployment_of(line)
        if dep is None:
            unknown[line.deployment] += 1
            continue
        deployments[dep.id] = dep
        groups[(dep.id, step_of(line, step_s))].append(line)
    if unknown:
        warnings.append(f"{sum(unknown.values())} window lines of deployments not collected here were skipped "
                        f"(deployments: {', '.join(sorted(unknown)[:10])})")
    points: list[MetricPoint] = []
    histograms = HistogramCounter(baselines, probe_bins, warnings)
    for (dep_id, step), items in sorted(groups.items()):
        start = datetime.fromtimestamp(step, tz=UTC)
        points += [MetricPoint(dep_id, metric, start, step_s, value)
                   for metric, value in window_step_metrics(items).items()]
        for line in items:
            histograms.add(dep_id, start, line.model_key, line.bins_sha256, line.signals)
    return points, histograms.points(step_s)


def window_step_metrics(lines: Sequence[WindowLine]) -> dict[str, float]:
    """The metrics of one deployment over one step, from its window lines (every instance's).

    Latency percentiles come from the instances' latency histograms merged (4.4 % relative accuracy);
    the average, sum and maximum are exact. ``concurrency_max`` adds up each instance's peak: exact when
    their peaks coincide, an upper bound otherwise. No billed duration: Lambda's REPORT lines have it."""
    total = sum(line.invocation_count for line in lines)
    by_status = {s: sum(line.invocations.get(s, 0) for line in lines) for s in STATUSES}
    peaks: dict[str, int] = {}
    for line in lines:
        peaks[line.instance_id] = max(peaks.get(line.instance_id, 0), line.concurrency_max)
    out: dict[str, float] = {
        M.INVOCATIONS: float(total), M.ROWS: float(sum(line.rows for line in lines)),
        M.SERVER_ERRORS: float(by_status["error"]), M.CLIENT_ERRORS: float(by_status["client_error"]),
        M.TIMEOUTS: float(by_status["timeout"]), M.DEGRADED: float(by_status["degraded"]),
        M.COLD_STARTS: float(sum(line.cold_starts for line in lines)),
        M.MEMORY_CONFIGURED: float(max(line.configured_memory_mb for line in lines)),
        M.MEMORY_MAX_USED: float(max(line.max_memory_used_mb for line in lines)),
        M.CONCURRENCY_MAX: float(sum(peaks.values())), M.INSTANCES_ACTIVE: float(len(peaks)),
    }
    timed = [line.latency for line in lines if line.latency.count]
    if timed:
        count = sum(t.count for t in timed)
        low, high = min(t.min_ms for t in timed), max(t.max_ms for t in timed)
        merged = merge_buckets([t.buckets for t in timed])
        out[M.DURATION_SUM] = sum(t.sum_ms for t in timed)
        out[M.LATENCY_AVG] = out[M.DURATION_SUM] / count
        out[M.LATENCY_MAX] = high
        for metric, q in ((M.LATENCY_P50, 0.50), (M.LATENCY_P95, 0.95), (M.LATENCY_P99, 0.99)):
            out[metric] = bucket_quantile(merged, q, low, high)
    inits = [line.init.init_ms for line in lines if line.cold_starts and line.init is not None and line.init.cold]
    if inits:
        out[M.INIT_AVG], out[M.INIT_MAX], out[M.INIT_SUM] = sum(inits) / len(inits), max(inits), sum(inits)
    return out
