"""The local collector: reads the emulator's EMF files incrementally and aggregates them per step.

Steps stay *open* for ``grace_s`` after they end (lines are written when a request finishes, so a
step keeps filling for a while). Each run re-reads the open region of every file, rewrites the open
steps (the current step is written while it fills and replaced as it grows) and moves each file's
resume offset to the first line of a still-open step. Offsets are saved with the data in one
transaction, so a run killed midway re-reads instead of losing or doubling lines.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from collectors.base import CollectorContext, ProviderCheck
from collectors.local_files import plan_reads, read_lines
from collectors.local_histograms import build_histograms
from collectors.local_telemetry import TelemetryLineError, TelemetryRecord, parse_emf_line
from inferwatch.config import LocalDeploymentConfig, Settings, local_deployment
from inferwatch.schema import CollectionBatch, Deployment, MetricPoint, deployment_id, floor_time
from inferwatch.schema import Metric as M

log = logging.getLogger(__name__)

MAX_WARNINGS = 20
BaselineLookup = Callable[[str], tuple[str, Mapping[str, Any]] | None]


def telemetry_root(home: Path) -> Path:
    return home / "telemetry"


class LocalCollector:
    def __init__(
        self,
        home: Path,
        deployments: Sequence[Deployment],
        *,
        step_s: int = 60,
        grace_s: int = 30,
        baselines: BaselineLookup | None = None,
    ) -> None:
        self.name = "local"
        self.root = telemetry_root(home)
        self.deployments = {d.name: d for d in deployments}
        self.step_s = step_s
        self.grace_s = grace_s
        self.baselines = baselines

    def collect(self, now: datetime, cursor: Mapping[str, Any] | None) -> CollectionBatch:
        cursor = cursor or {}
        warnings: list[str] = []
        old_open = cursor.get("open_from")
        new_open = int(floor_time(now - timedelta(seconds=self.grace_s), self.step_s).timestamp())
        files_cursor: Mapping[str, Any] = cursor.get("files", {})
        groups: dict[tuple[str, int], list[tuple[TelemetryRecord, str]]] = defaultdict(list)
        counts = {"malformed": 0, "late": 0}
        new_files: dict[str, Any] = {}
        for state in plan_reads(self.root, files_cursor, warnings):
            seen = int(files_cursor.get(state.key, {}).get("seen", 0))
            resume, last_end = None, state.offset
            instance = state.path.name.split(".", 1)[0]
            for line in read_lines(state):
                last_end = line.end
                fresh = line.end > seen
                try:
                    rec = parse_emf_line(line.text)
                except TelemetryLineError as exc:
                    if fresh:
                        counts["malformed"] += 1
                        if len(warnings) < MAX_WARNINGS:
                            warnings.append(f"{state.path}@{line.offset}: skipped malformed line: {exc}")
                    continue
                step = rec.timestamp_ms // 1000 // self.step_s * self.step_s
                if resume is None and step >= new_open:
                    resume = line.offset
                if old_open is not None and step < int(old_open):
                    counts["late"] += int(fresh)
                    continue
                groups[(rec.deployment, step)].append((rec, instance))
            new_files[state.key] = {"path": str(state.path), "offset": resume if resume is not None else last_end,
                                    "seen": max(seen, last_end)}
        if counts["malformed"]:
            log.warning("local collector skipped %d malformed telemetry lines", counts["malformed"])
            warnings.append(f"{counts['malformed']} malformed telemetry lines skipped")
        if counts["late"]:
            warnings.append(f"{counts['late']} telemetry lines arrived after their step closed and were dropped")
        first = int(old_open) if old_open is not None else min((s for _, s in groups), default=new_open)
        points, histograms = self._aggregate(groups, zero_fill=range(first, new_open, self.step_s))
        return CollectionBatch(
            collector=self.name,
            deployments=tuple(self._deployment(name) for name in sorted({n for n, _ in groups} | set(self.deployments))),
            points=tuple(points),
            histograms=tuple(histograms),
            cursor={"files": new_files, "open_from": new_open, "complete_until": new_open},
            warnings=tuple(warnings),
        )

    def _deployment(self, name: str) -> Deployment:
        known = self.deployments.get(name)
        if known is not None:
            return known
        return Deployment(id=deployment_id("local", "local", name), provider="local", region="local",
                          name=name, service=name)

    def _aggregate(self, groups: Mapping[tuple[str, int], list[tuple[TelemetryRecord, str]]],
                   zero_fill: range) -> tuple[list[MetricPoint], list[Any]]:
        points: list[MetricPoint] = []
        histograms: list[Any] = []
        for name, dep in self.deployments.items():
            for step in zero_fill:
                if (name, step) not in groups:
                    start = datetime.fromtimestamp(step, tz=UTC)
                    idle = {M.INVOCATIONS: 0.0, M.ROWS: 0.0, **warm_capacity_metrics((), dep)}
                    points += [MetricPoint(dep.id, m, start, self.step_s, v) for m, v in idle.items()]
        for (name, step), items in groups.items():
            start = datetime.fromtimestamp(step, tz=UTC)
            dep = self._deployment(name)
            records = [r for r, _ in items]
            values = {**step_metrics(records, len({i for _, i in items})), **warm_capacity_metrics(records, dep)}
            points += [MetricPoint(dep.id, metric, start, self.step_s, value) for metric, value in values.items()]
            histograms += build_histograms(dep.id, start, self.step_s, [r for r, _ in items], self.baselines)
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
        M.BILLED_DURATION_SUM: float(np.ceil(latency).sum()),  # Lambda bills per started ms
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
    return [LocalCollector(ctx.home, [local_deployment(d) for d in configs], step_s=settings.collect.step_s,
                           baselines=ctx.baselines)]


def check(settings: Settings, ctx: CollectorContext) -> list[ProviderCheck]:
    root = telemetry_root(ctx.home)
    if not root.exists():
        return [ProviderCheck("local", str(root), True, "no telemetry yet: start `inferwatch demo` to produce some")]
    files = list(root.rglob("*.jsonl"))
    return [ProviderCheck("local", str(root), True, f"{len(files)} telemetry files readable")]
