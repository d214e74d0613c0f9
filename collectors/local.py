"""The local collector: reads telemetry files incrementally and aggregates them per step.

A file may hold Inferwatch's invocation lines, the probe's window lines and other tools' EMF lines, each
read by the one parser of its kind (``collectors.telemetry_lines``); window lines, lone cold starts and
EMF lines with nothing usable are handled in ``collectors.local_lines``.

Steps stay *open* for ``grace_s`` after they end (lines are written when a request finishes, so a
step keeps filling for a while). Each run re-reads the open region of every file, rewrites the open
steps (the current step is written while it fills and replaced as it grows) and moves each file's
resume offset to the first line of a still-open step. Offsets are saved with the data in one
transaction, so a run killed midway re-reads instead of losing or doubling lines.

One bad line costs that line only: a line that is not well-formed telemetry, or is dated outside
[now - max_age_s, now + max_ahead_s], is quarantined (counted once, the first ones kept with file,
offset and reason) and never moves an offset; a file that cannot be read is skipped with a warning
while the others land. Idle steps are written as zero traffic over at most ``lookback_s``, so memory
follows the lines read, never the time span they claim.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from collectors.base import BaselineLookup, CollectorContext, ProbeBinsLookup, ProviderCheck
from collectors.local_files import FileState, plan_reads, read_lines
from collectors.local_histograms import build_histograms, prediction_records
from collectors.local_lines import Item, OtherLines, combine, stamped
from collectors.local_screen import Quarantine, TimeWindow
from collectors.local_telemetry import TelemetryLineError, TelemetryRecord
from collectors.telemetry_lines import NothingUsable, read_line
from drift import Baseline
from drift.errors import DriftError
from inferwatch.config import LocalDeploymentConfig, Settings, local_deployment
from inferwatch.schema import CollectionBatch, Deployment, MetricPoint, ModelKey, Provider, deployment_id, floor_time
from inferwatch.schema import Metric as M

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 256 * 1024  # CloudWatch Logs' limit for one event: no real EMF line is longer
Groups = dict[tuple[str, int], list[tuple[TelemetryRecord, str]]]


def telemetry_root(home: Path) -> Path:
    return home / "telemetry"


def shown(path: Path) -> str:
    """A path as text any store and terminal takes (undecodable bytes in a file name become escapes)."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(slots=True)
class _Run:
    """What one run gathers while reading the files."""

    window: TimeWindow
    old_open: int | None
    new_open: int
    groups: Groups = field(default_factory=lambda: defaultdict(list))
    quarantine: Quarantine = field(default_factory=Quarantine)
    late_count: int = 0
    other: OtherLines = field(default_factory=OtherLines)  # window lines, lone cold starts, unusable EMF


class LocalCollector:
    def __init__(
        self,
        home: Path,
        deployments: Sequence[Deployment],
        *,
        step_s: int = 60,
        grace_s: int = 30,
        baselines: BaselineLookup | None = None,
        probe_bins: ProbeBinsLookup | None = None,
        lookback_s: int = 3600,
        max_age_s: int = 14 * 86_400,
        max_ahead_s: int = 300,
    ) -> None:
        self.name = "local"
        self.root = telemetry_root(home)
        self.deployments = {d.name: d for d in deployments}
        self.step_s = step_s
        self.grace_s = grace_s
        self.baselines = baselines
        self.probe_bins = probe_bins
        self.services: dict[str, str] = {}  # deployment -> the service its lines name (this run)
        self.lookback_s, self.max_age_s, self.max_ahead_s = lookback_s, max_age_s, max_ahead_s

    def collect(self, now: datetime, cursor: Mapping[str, Any] | None) -> CollectionBatch:
        cursor = cursor or {}
        warnings: list[str] = []
        old_open = cursor.get("open_from")
        run = _Run(TimeWindow(now, self.max_age_s, self.max_ahead_s),
                   int(old_open) if old_open is not None else None,
                   int(floor_time(now - timedelta(seconds=self.grace_s), self.step_s).timestamp()))
        files_cursor: Mapping[str, Any] = cursor.get("files", {})
        new_files: dict[str, Any] = {}
        for state in plan_reads(self.root, files_cursor, warnings):
            try:
                new_files[state.key] = self._read_file(state, files_cursor.get(state.key, {}), run)
            except OSError as exc:  # e.g. permissions: this file waits, the others land
                warnings.append(f"{shown(state.path)} cannot be read, skipped this run: {exc}")
                if state.key in files_cursor:
                    new_files[state.key] = files_cursor[state.key]
        summary = run.quarantine.summary()
        if summary:
            log.warning("local collector: %s", summary)
            warnings.insert(0, summary)
        if run.late_count:
            warnings.append(f"{run.late_count} telemetry lines arrived after their step closed and were dropped")
        warnings += run.other.warnings()
        self.services = run.other.services
        lookup = self._lookup(warnings)
        occupied = set(run.groups) | run.other.steps(self.step_s)
        points, histograms = self._aggregate(run.groups, self._zero_fill(run), lookup, occupied)
        window_points, cold_points, window_histograms = run.other.batch(self._deployment, self.step_s, lookup,
                                                                        self.probe_bins, warnings)
        points, histograms = combine([points, window_points, cold_points], histograms + window_histograms)
        names = sorted({n for n, _ in occupied} | set(self.deployments))
        predictions = [p for (name, _), items in run.groups.items()
                       for p in prediction_records(self._deployment(name).id, [r for r, _ in items])]
        return CollectionBatch(
            collector=self.name, deployments=tuple(self._deployment(name) for name in names),
            points=tuple(points), histograms=tuple(histograms),
            cursor={"files": new_files, "open_from": run.new_open, "complete_until": run.new_open},
            warnings=tuple(warnings), quarantined=tuple(run.quarantine.sample),
            quarantined_count=run.quarantine.count, predictions=tuple(predictions),
        )

    def _read_file(self, state: FileState, prior: Mapping[str, Any], run: _Run) -> dict[str, Any]:
        """Read one file into ``run``; returns its cursor entry. Its lines join the run only once the
        whole file has been read, so a file failing midway adds nothing (and keeps its offset)."""
        seen = int(prior.get("seen", 0))
        resume, last_end = None, state.offset
        instance = state.path.name.split(".", 1)[0]
        kept: list[tuple[int, Item]] = []
        bad = Quarantine()
        other = OtherLines()
        late = 0
        for line in read_lines(state, max_line_bytes=MAX_LINE_BYTES):
            last_end = line.end
            fresh = line.end > seen  # counted once: a line re-read in a later run was counted then
            try:
                if line.oversized:
                    raise TelemetryLineError(f"longer than {MAX_LINE_BYTES} bytes")
                parsed = read_line(line.text)
                items = stamped(parsed, run.window)
            except TelemetryLineError as exc:
                if fresh:
                    bad.add(shown(state.path), line.offset, str(exc))
                continue
            if isinstance(parsed, NothingUsable) and fresh:
                other.note_unusable(shown(state.path), parsed)
            for timestamp_ms, item in items:
                step = timestamp_ms // 1000 // self.step_s * self.step_s
                if resume is None and step >= run.new_open:
                    resume = line.offset
                if run.old_open is not None and step < run.old_open:
                    late += int(fresh)
                    continue
                kept.append((step, item))
        for step, item in kept:
            if isinstance(item, TelemetryRecord):
                run.groups[(item.deployment, step)].append((item, instance))
            other.add(step, item)
        run.other.merge(other)
        run.quarantine.merge(bad)
        run.late_count += late
        return {"path": shown(state.path), "offset": resume if resume is not None else last_end,
                "seen": max(seen, last_end)}

    def _zero_fill(self, run: _Run) -> range:
        """The closed steps to write as zero traffic where no line fell: since the last run (or the
        oldest line read), but never more than ``lookback_s`` back."""
        first = run.old_open if run.old_open is not None else min((s for _, s in run.groups), default=run.new_open)
        earliest = run.new_open - self.lookback_s // self.step_s * self.step_s
        return range(max(first, earliest), run.new_open, self.step_s)

    def _lookup(self, warnings: list[str]) -> BaselineLookup | None:
        """The baseline lookup, asked once per model per run; an unreadable baseline costs that model's
        histograms only, with one warning naming it and how to recreate it."""
        if self.baselines is None:
            return None
        lookup: BaselineLookup = self.baselines
        found: dict[ModelKey, tuple[str, Baseline] | None] = {}

        def baseline(key: ModelKey) -> tuple[str, Baseline] | None:
            if key not in found:
                try:
                    found[key] = lookup(key)
                except DriftError as exc:
                    found[key] = None
                    warnings.append(f"{key.service} model {key.model_version}: no prediction histograms this "
                                    f"run: {exc}")
            return found[key]

        return baseline

    def _deployment(self, name: str) -> Deployment:
        known = self.deployments.get(name)
        if known is not None:
            return known
        return Deployment(id=deployment_id(Provider.LOCAL, "local", name), provider=Provider.LOCAL, region="local",
                          name=name, service=self.services.get(name, name))

    def _aggregate(self, groups: Groups, zero_fill: range, baselines: BaselineLookup | None,
                   occupied: set[tuple[str, int]]) -> tuple[list[MetricPoint], list[Any]]:
        points: list[MetricPoint] = []
        histograms: list[Any] = []
        for name, dep in self.deployments.items():
            for step in zero_fill:
                if (name, step) not in occupied:
                    start = datetime.fromtimestamp(step, tz=UTC)
                    idle = {M.INVOCATIONS: 0.0, M.ROWS: 0.0, **warm_capacity_metrics((), dep)}
                    points += [MetricPoint(dep.id, m, start, self.step_s, v) for m, v in idle.items()]
        for (name, step), items in groups.items():
            start = datetime.fromtimestamp(step, tz=UTC)
            dep = self._deployment(name)
            records = [r for r, _ in items]
            values = {**step_metrics(records, len({i for _, i in items})), **warm_capacity_metrics(records, dep)}
            points += [MetricPoint(dep.id, metric, start, self.step_s, value) for metric, value in values.items()]
            histograms += build_histograms(dep, start, self.step_s, [r for r, _ in items], baselines)
        return points, histograms


def step_metrics(records: Sequence[TelemetryRecord], instances: int) -> dict[str, float]:
    """The metrics of one deployment over one step."""
    latency = np.array([r.latency_ms for r in records], dtype=float)
    status = [r.status for r in records]
    cold = [r for r in records if r.cold_start]
    out: dict[str, float] = {
        M.INVOCATIONS: float(len(records)),
        M.ROWS: float(sum(r.rows for r in records if r.status in ("ok", "degraded"))),
        M.LATENCY_AVG: float(latency.mean()),
        M.LATENCY_MAX: float(latency.max()),
        M.DURATION_SUM: float(latency.sum()),
        # Lambda bills per started ms, the init phase included since 2025-08-01 (as REPORT says)
        M.BILLED_DURATION_SUM: float(np.ceil(latency + [r.init_ms if r.cold_start else 0.0 for r in records]).sum()),
        M.SERVER_ERRORS: float(status.count("error")),
        M.CLIENT_ERRORS: float(status.count("client_error")),
        M.TIMEOUTS: float(status.count("timeout")),
        M.DEGRADED: float(status.count("degraded")),
        M.COLD_STARTS: float(len(cold)),
        M.MEMORY_CONFIGURED: float(max(r.memory_mb for r in records)),
        M.MEMORY_MAX_USED: float(max(r.max_memory_used_mb for r in records)),
        M.CONCURRENCY_MAX: float(max_overlap(records)),
        M.INSTANCES_ACTIVE: float(instances),
    }
    for metric, q in ((M.LATENCY_P50, 50), (M.LATENCY_P95, 95), (M.LATENCY_P99, 99)):
        out[metric] = float(np.percentile(latency, q))
    if cold:
        init = np.array([r.init_ms for r in cold], dtype=float)
        out[M.INIT_AVG], out[M.INIT_MAX], out[M.INIT_SUM] = float(init.mean()), float(init.max()), float(init.sum())
    # rows compared with the shadow, and the share of them on which both versions agree
    paired = [(r.shadow_agree, len(r.shadow_class) or r.rows) for r in records if r.shadow_agree is not None]
    rows = sum(n for _, n in paired)
    if rows:
        out[M.SHADOW_COUNT] = float(rows)
        out[M.SHADOW_AGREEMENT] = float(sum(a * n for a, n in paired) / rows)
    return out


def warm_capacity_metrics(records: Sequence[TelemetryRecord], deployment: Deployment) -> dict[str, float]:
    """Lambda's provisioned-concurrency metrics of one step for a deployment that keeps warm instances
    (the emulator's ``min_instances``, whose invocations carry ``Prewarmed``); nothing for one that does not.

    Utilisation is the most requests in flight at once on the warm instances over their request slots
    (``min_instances x concurrency``); invocations served by instances started on demand spilled over.
    """
    warm = deployment.min_instances
    if warm <= 0:
        return {}
    served_warm = [r for r in records if r.prewarmed]
    slots = warm * max(deployment.concurrency, 1)
    return {
        M.PROVISIONED_CONCURRENCY: float(warm),
        M.PROVISIONED_UTILIZATION: min(1.0, max_overlap(served_warm) / slots),
        M.PROVISIONED_SPILLOVER: float(len(records) - len(served_warm)),
    }


def max_overlap(records: Sequence[TelemetryRecord]) -> int:
    """Most requests in flight at once, from each request's [timestamp, timestamp + latency)."""
    events = sorted([(r.timestamp_ms, 1) for r in records] + [(r.timestamp_ms + r.latency_ms, -1) for r in records],
                    key=lambda e: (e[0], e[1]))
    best = level = 0
    for _, delta in events:
        level += delta
        best = max(best, level)
    return best


def from_settings(settings: Settings, ctx: CollectorContext) -> list[LocalCollector]:
    configs = [d for d in settings.deployments if isinstance(d, LocalDeploymentConfig)]
    c = settings.collect
    return [LocalCollector(ctx.home, [local_deployment(d) for d in configs], step_s=c.step_s, baselines=ctx.baselines,
                           probe_bins=ctx.probe_bins, lookback_s=c.lookback_s, max_age_s=c.max_age_s,
                           max_ahead_s=c.max_ahead_s)]


def check(settings: Settings, ctx: CollectorContext) -> list[ProviderCheck]:
    root = telemetry_root(ctx.home)
    if not root.exists():
        return [ProviderCheck("local", str(root), True, "no telemetry yet: start `inferwatch demo` to produce some")]
    files = list(root.rglob("*.jsonl"))
    return [ProviderCheck("local", str(root), True, f"{len(files)} telemetry files readable")]
