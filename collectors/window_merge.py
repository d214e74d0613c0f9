"""How a cloud collector puts the probe's window-line numbers beside the cloud's own, per step: the
cloud's exact metrics win, window lines stand in for them only at the steps the cloud has not been read
for yet (``cloud_until`` on: ``[collect] cloud_metrics_interval_s``), and give everything the cloud lacks.

Timeouts are the larger of the two counts: the probe also counts a handler that answered within its
deadline margin, the platform also counts a kill the probe did not see.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from collectors.base import BaselineLookup, ProbeBinsLookup
from collectors.window_lines import WindowLine, step_of, window_batch
from inferwatch.schema import Deployment, HistogramPoint, MetricPoint
from inferwatch.schema import Metric as M


def combine(platform: Iterable[MetricPoint], window: Iterable[MetricPoint], *, cloud_metrics: Collection[str],
            platform_only: Collection[str] = (), cloud_until: datetime | None) -> list[MetricPoint]:
    """``platform`` (the cloud's points) with ``window``'s: a window point of ``platform_only`` never, of
    ``cloud_metrics`` only from ``cloud_until`` on, of any other metric where the platform has none."""
    out = {(p.deployment, p.metric, p.start): p for p in platform}
    for p in window:
        if p.metric in platform_only or (p.metric in cloud_metrics and cloud_until is not None
                                         and p.start < cloud_until):
            continue
        key = (p.deployment, p.metric, p.start)
        known = out.get(key)
        if known is None:
            out[key] = p
        elif p.metric == M.TIMEOUTS and p.value > known.value:
            out[key] = replace(known, value=p.value)
    return list(out.values())


def window_records(lines: Sequence[WindowLine], targets: Callable[[WindowLine], Sequence[Deployment]], *,
                   start: datetime, end: datetime, step_s: int, baselines: BaselineLookup | None,
                   probe_bins: ProbeBinsLookup | None, source: str,
                   warnings: list[str]) -> tuple[list[MetricPoint], list[HistogramPoint]]:
    """Points and histograms of window lines read by their log time in ``[start, end)``, for every deployment
    ``targets`` names per line (the whole function or service, and its alias or revision).

    Only the steps of ``[start, end)`` are produced: a line of an older step (written more than the lateness
    after its last invocation) would replace that step's points with its own alone, so it is counted in a
    warning instead. Each step's points come from every line of that step read so far, so re-reading a
    step gives a superset, which the store's upsert keeps."""
    first = int(start.timestamp())
    late = sum(1 for line in lines if step_of(line, step_s) < first)
    if late:
        warnings.append(f"{source}: {late} window line(s) written after their step was final (more than "
                        "[collect] lateness_s after their last invocation) not counted")
    kept = [line for line in lines if step_of(line, step_s) >= first]
    named = [(line, targets(line)) for line in kept]
    points: list[MetricPoint] = []
    histograms: list[HistogramPoint] = []
    said: set[str] = set(warnings)
    for k in range(max((len(t) for _, t in named), default=0)):  # window_batch takes one deployment per line
        rank = {id(line): t[k] for line, t in named if len(t) > k}
        notes: list[str] = []
        pts, hists = window_batch([line for line, t in named if len(t) > k], deployment_of=lambda ln: rank[id(ln)],
                                  step_s=step_s, baselines=baselines, probe_bins=probe_bins, warnings=notes)
        points += [p for p in pts if start <= p.start < end]
        histograms += [h for h in hists if start <= h.start < end]
        warnings += [n for n in notes if n not in said]
        said.update(notes)
    return points, histograms


def cloud_due(last: datetime | None, window_end: datetime, interval_s: int) -> bool:
    """Whether the cloud's metrics are to be read in a run whose window ends at ``window_end``."""
    return last is None or (window_end - last).total_seconds() >= interval_s


def cursor_time(cursor: Mapping[str, Any] | None, key: str) -> datetime | None:
    """``cursor[key]`` (an epoch second) as a UTC time, None when absent."""
    raw = (cursor or {}).get(key)
    return datetime.fromtimestamp(int(raw), tz=UTC) if raw is not None else None
