"""What the local collector does with the lines that are not one invocation record each: the probe's window
lines, cold starts without an invocation (Powertools' cold-start line), and well-formed EMF lines carrying
nothing Inferwatch reads (counted per file and reported, never dropped silently).

A step of one deployment may hold both invocation lines and window lines (instances in the two modes):
its two sets of metrics are then combined metric by metric (:func:`combine`): counts, sums, instances and
peaks add, maxima take the larger, averages are weighted (latency by invocations, init by cold starts),
and the p95/p99 take the larger of the two parts (an upper bound of the combined percentile); histograms
of one signal and baseline add their counts, exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collectors.base import BaselineLookup, ProbeBinsLookup
from collectors.local_screen import TimeWindow, screen, screen_fields
from collectors.local_telemetry import TelemetryRecord
from collectors.telemetry_lines import ColdStartOnly, Invocations, NothingUsable, ParsedLine
from collectors.window_lines import WindowLine, step_of, window_batch
from drift import WindowCounts
from drift.window import merge
from inferwatch.schema import AGGREGATION, Aggregation, Deployment, HistogramPoint, MetricPoint
from inferwatch.schema import Metric as M

Item = TelemetryRecord | WindowLine | ColdStartOnly
_WEIGHTS: dict[str, str] = {M.LATENCY_AVG: M.INVOCATIONS, M.LATENCY_P50: M.INVOCATIONS, M.INIT_AVG: M.COLD_STARTS,
            M.SHADOW_AGREEMENT: M.SHADOW_COUNT}
_ADDED = {M.INSTANCES_ACTIVE, M.CONCURRENCY_MAX}  # the two parts are different instances


def stamped(parsed: ParsedLine, window: TimeWindow) -> list[tuple[int, Item]]:
    """The items of a parsed line, each with the epoch ms it is attributed to, once screened (dated inside
    ``window``, plain names); [] for a line with nothing usable. Raises :class:`TelemetryLineError`."""
    if isinstance(parsed, Invocations):
        for rec in parsed.records[:1]:  # every record of one line shares its time and names
            screen(rec, window)
        return [(rec.timestamp_ms, rec) for rec in parsed.records]
    if isinstance(parsed, WindowLine):
        screen_fields(parsed.last_ms, parsed.deployment, parsed.model_version, window, time_field="last_ms")
        return [(parsed.last_ms, parsed)]
    if isinstance(parsed, ColdStartOnly):
        screen_fields(parsed.timestamp_ms, parsed.deployment, "", window)
        return [(parsed.timestamp_ms, parsed)]
    return []


@dataclass(slots=True)
class OtherLines:
    """Window lines, lone cold starts and unusable EMF lines of one run (or one file, merged in at its end)."""

    windows: list[WindowLine] = field(default_factory=list)
    cold_starts: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    services: dict[str, str] = field(default_factory=dict)  # deployment -> the service its lines name
    unusable: dict[tuple[str, str], tuple[int, frozenset[str]]] = field(default_factory=dict)

    def add(self, step: int, item: Item) -> None:
        if isinstance(item, WindowLine):
            self.windows.append(item)
            self.services.setdefault(item.deployment, item.service)
        elif isinstance(item, ColdStartOnly):
            self.cold_starts[(item.deployment, step)] += 1
            self.services.setdefault(item.deployment, item.service)
        elif item.service:
            self.services.setdefault(item.deployment, item.service)

    def note_unusable(self, source: str, line: NothingUsable) -> None:
        count, names = self.unusable.get((source, line.reason), (0, frozenset()))
        self.unusable[(source, line.reason)] = (count + 1, names | set(line.metric_names))

    def merge(self, other: OtherLines) -> None:
        self.windows += other.windows
        for key, n in other.cold_starts.items():
            self.cold_starts[key] += n
        for name, service in other.services.items():
            self.services.setdefault(name, service)
        for (source, reason), (count, names) in other.unusable.items():
            before, seen = self.unusable.get((source, reason), (0, frozenset()))
            self.unusable[(source, reason)] = (before + count, seen | names)

    def steps(self, step_s: int) -> set[tuple[str, int]]:
        """(deployment, step) this run has lines for, besides invocation records."""
        return {(w.deployment, step_of(w, step_s)) for w in self.windows} | set(self.cold_starts)

    def warnings(self) -> list[str]:
        """One line per file and reason for the well-formed EMF lines that carried nothing usable."""
        out = []
        for (source, reason), (count, names) in sorted(self.unusable.items()):
            listed = ", ".join(sorted(names)[:12]) + (", ..." if len(names) > 12 else "")
            what = ("carried no metric Inferwatch reads" if reason == "no_metric" else
                    "named no deployment (no Deployment, function_name, ServiceName or service member)")
            out.append(f"{count} EMF lines from {source} {what} (names: {listed or 'none'})")
        return out

    def batch(self, deployment_of: Callable[[str], Deployment], step_s: int, baselines: BaselineLookup | None,
              probe_bins: ProbeBinsLookup | None, warnings: list[str]
              ) -> tuple[list[MetricPoint], list[MetricPoint], list[HistogramPoint]]:
        """The window lines' metric points, a cold-start count per step of lone cold starts, and the window
        lines' histograms."""
        points, histograms = window_batch(self.windows, deployment_of=lambda w: deployment_of(w.deployment),
                                          step_s=step_s, baselines=baselines, probe_bins=probe_bins,
                                          warnings=warnings)
        colds = [MetricPoint(deployment_of(name).id, M.COLD_STARTS, datetime.fromtimestamp(step, tz=UTC), step_s,
                             float(n)) for (name, step), n in sorted(self.cold_starts.items())]
        return points, colds, histograms


def combine(sources: Sequence[Iterable[MetricPoint]], histograms: Iterable[HistogramPoint]
            ) -> tuple[list[MetricPoint], list[HistogramPoint]]:
    """One point per deployment, metric and step, and one histogram per deployment, signal, step and
    baseline, from ``sources`` that each hold at most one of each: parts of one step are combined as the
    module docstring says."""
    parts: dict[tuple[str, datetime, int], list[dict[str, float]]] = defaultdict(list)
    for source in sources:
        mine: dict[tuple[str, datetime, int], dict[str, float]] = defaultdict(dict)
        for p in source:
            mine[(p.deployment, p.start, p.step_s)][p.metric] = p.value
        for key, values in mine.items():
            parts[key].append(values)
    out = [MetricPoint(dep, metric, start, step_s, value) for (dep, start, step_s), group in parts.items()
           for metric, value in _combined(group).items()]
    merged: dict[tuple[str, str, datetime, str], HistogramPoint] = {}
    for h in histograms:
        hkey = (h.deployment, h.signal, h.start, h.baseline_id)
        merged[hkey] = _merged(merged[hkey], h) if hkey in merged else h
    return out, list(merged.values())


def _rule(metric: str) -> Aggregation:
    try:
        return AGGREGATION.get(M(metric), Aggregation.SUM)
    except ValueError:  # a name outside the schema's metrics: none is written here
        return Aggregation.SUM


def _combined(group: Sequence[dict[str, float]]) -> dict[str, float]:
    if len(group) == 1:
        return group[0]
    out: dict[str, float] = {}
    for metric in {m for part in group for m in part}:
        present = [part for part in group if metric in part]
        values = [part[metric] for part in present]
        rule = _rule(metric)
        if metric in _ADDED or rule is Aggregation.SUM:
            out[metric] = sum(values)
        elif rule is Aggregation.MAX:
            out[metric] = max(values)
        else:
            weights = [part.get(_WEIGHTS.get(metric, M.INVOCATIONS), 0.0) for part in present]
            total = sum(weights)
            out[metric] = sum(v * w for v, w in zip(values, weights, strict=True)) / total if total else max(values)
    return out


def _merged(a: HistogramPoint, b: HistogramPoint) -> HistogramPoint:
    """Counts of one signal over one baseline (same id: same bins), added; both were made this run from
    that baseline, so they always fit (a failure would be a bug, and raises)."""
    counts = merge(WindowCounts.from_dict(a.counts), WindowCounts.from_dict(b.counts)).to_dict()
    return HistogramPoint(a.deployment, a.signal, a.start, a.step_s, a.baseline_id, counts)
