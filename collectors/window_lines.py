"""TEMPORARY local stand-in for i16-intake's ``collectors/window_lines.py`` (the window-line parser).

Only the two functions the cloud transports call, with the signatures agreed for issue 16/17; deleted
when the real module lands on main. Lines are attributed to the step of their ``end_ms`` (the moment
the probe wrote them, never later than the log event's timestamp).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from collectors.base import BaselineLookup, ProbeBinsLookup
from drift import WindowCounts
from drift.baseline import NumericColumn
from drift.errors import DriftError
from drift.probe_bins import read_probe_bins
from inferwatch.schema import HistogramPoint, MetricPoint, ModelKey
from inferwatch.schema import Metric as M

SCHEMA = "inferwatch.window/1"
_STATUSES = ("ok", "client_error", "timeout", "degraded", "error")


class WindowLineError(ValueError):
    """A window line off the contract."""


@dataclass(frozen=True, slots=True)
class WindowLine:
    deployment: str
    service: str
    model_version: str
    model_sha256: str | None
    instance_id: str
    end_ms: int
    function: str | None
    qualifiers: Mapping[str, int]
    revision: str | None
    invocations: Mapping[str, int]
    rows: int
    cold_starts: int
    bins_sha256: str | None
    signals: Mapping[str, Any]
    doc: Mapping[str, Any]


def parse_window_line(doc: Mapping[str, Any]) -> WindowLine:
    if doc.get("schema") != SCHEMA or doc.get("kind") != "window":
        raise WindowLineError(f"not an {SCHEMA} line")
    try:
        inv = {s: int(doc["invocations"][s]) for s in _STATUSES}
        return WindowLine(str(doc["deployment"]), str(doc["service"]), str(doc["model_version"]),
                          doc.get("model_sha256"), str(doc["instance_id"]), int(doc["end_ms"]), doc.get("function"),
                          dict(doc.get("qualifiers") or {}), doc.get("revision"), inv, int(doc["rows"]),
                          int(doc["cold_starts"]), doc.get("bins_sha256"), dict(doc["signals"]), doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise WindowLineError(f"window line off the contract: {exc}") from exc


def window_batch(lines: Sequence[WindowLine], *, deployment_of: Callable[[WindowLine], Sequence[str]], step_s: int,
                 baselines: BaselineLookup | None, probe_bins: ProbeBinsLookup | None,
                 warnings: list[str]) -> tuple[list[MetricPoint], list[HistogramPoint]]:
    sums: dict[tuple[str, int, M], float] = defaultdict(float)
    hists: dict[tuple[str, int, str], tuple[str, WindowCounts]] = {}
    for line in lines:
        step = line.end_ms // 1000 // step_s * step_s
        counted = _histograms(line, baselines, probe_bins, warnings)
        for dep in deployment_of(line):
            for metric, value in ((M.INVOCATIONS, sum(line.invocations.values())),
                                  (M.CLIENT_ERRORS, line.invocations["client_error"]),
                                  (M.TIMEOUTS, line.invocations["timeout"]),
                                  (M.DEGRADED, line.invocations["degraded"]),
                                  (M.SERVER_ERRORS, line.invocations["error"]),
                                  (M.ROWS, line.rows), (M.COLD_STARTS, line.cold_starts)):
                sums[(dep, step, metric)] += value
            for signal, (baseline_id, counts) in counted.items():
                key = (dep, step, signal)
                if key in hists:
                    counts = WindowCounts(counts.kind, counts.column_digest, hists[key][1].counts + counts.counts,
                                          counts.layout)
                hists[key] = (baseline_id, counts)
    points = [MetricPoint(d, m, datetime.fromtimestamp(s, UTC), step_s, v) for (d, s, m), v in sums.items()]
    return points, [HistogramPoint(d, sig, datetime.fromtimestamp(s, UTC), step_s, bid, c.to_dict())
                    for (d, s, sig), (bid, c) in hists.items()]


def _histograms(line: WindowLine, baselines: BaselineLookup | None, probe_bins: ProbeBinsLookup | None,
                warnings: list[str]) -> dict[str, tuple[str, WindowCounts]]:
    if baselines is None or probe_bins is None or line.bins_sha256 is None:
        return {}
    found_bins = probe_bins(line.bins_sha256)
    found = baselines(ModelKey(line.service, line.model_version, line.model_sha256))
    if found_bins is None or found is None:
        warnings.append(f"{line.deployment}: no baseline or bins file for {line.bins_sha256[:12]}")
        return {}
    baseline_id, baseline = found
    try:
        bins = read_probe_bins(found_bins["content"], baseline)
    except DriftError as exc:
        warnings.append(f"{line.deployment}: {exc}")
        return {}
    out: dict[str, tuple[str, WindowCounts]] = {}
    for name, signal in line.signals.items():
        column = baseline.columns.get(name)
        if column is None or signal.get("type") != "bins":
            continue
        if isinstance(column, NumericColumn):
            out[name] = (baseline_id, WindowCounts.from_bucket_counts(column, signal["counts"],
                                                                      layout=bins.layouts[name]))
        else:
            counts = [*signal["counts"], int(signal.get("other", 0))]
            out[name] = (baseline_id, WindowCounts("categorical", column.digest,
                                                   np.asarray(counts, dtype=np.int64), None))
    return out
