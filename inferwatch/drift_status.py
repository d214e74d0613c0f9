"""Drift of every deployment from the histograms in the store: the one path the CLI, the alert
job and the dashboard share.

The last ``n_windows`` windows of ``window_s`` each are merged exactly (counts add) per signal and
compared with the baseline the counts were made over; a window without counts for a signal is an
explicit empty window (``no_data``), never a silent "no drift". Shadow predictions are compared with
the served ones (version against version) over the same bins. A deployment whose baseline cannot be
read is listed apart (:attr:`DriftLoad.unreadable`, with the baseline and how to recreate it): it
costs that deployment's drift, and every other deployment is still decided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from drift import (
    Baseline,
    DriftPolicy,
    DriftReport,
    UnreadableBaselineError,
    VersionComparison,
    WindowCounts,
    compare,
    compare_versions,
    merge_all,
)
from drift.decision import Status
from inferwatch.baselines import read_baseline
from inferwatch.schema import HistogramPoint
from inferwatch.schema import Metric as M
from inferwatch.store import Store, from_epoch, to_epoch
from inferwatch.store import tables as t

SHADOW_OF = {"shadow_score": "score", "shadow_class": "class"}


@dataclass(frozen=True, slots=True)
class DeploymentDrift:
    deployment: str
    baseline_id: str
    report: DriftReport
    shadow: tuple[VersionComparison, ...]  # served version against its shadow, per signal
    window_s: int
    windows_start: datetime


@dataclass(frozen=True, slots=True)
class DriftLoad:
    """Drift of every deployment with histograms: decided, or not because its baseline is unreadable."""

    decided: dict[str, DeploymentDrift]
    unreadable: dict[str, UnreadableBaselineError]  # deployment -> the error naming its baseline and the remedy

    @property
    def drifted(self) -> bool:
        return any(d.report.drifted for d in self.decided.values())


@dataclass(frozen=True, slots=True)
class RecordedDrift:
    """A drift decision kept by :func:`record_drift`: what the overview and the Drift page's summary show."""

    deployment: str
    status: str
    evaluated_at: datetime
    window_s: int
    n_windows: int
    baseline_id: str
    signals: tuple[Mapping[str, Any], ...]  # the newest window's warn and drift results, worst first


SIGNAL_FIELDS = ("signal", "check", "statistic", "effect", "threshold", "status")


def record_drift(
    store: Store,
    now: datetime,
    *,
    window_s: int = 900,
    n_windows: int = 3,
    policy: DriftPolicy | None = None,
) -> DriftLoad:
    """Decide drift for every deployment with histograms in the lookback and keep each decision.

    Collection calls this once per round, so pages showing every deployment read one row each
    instead of re-deciding from thousands of histograms (seconds at fifty deployments). A deployment
    whose baseline is unreadable gets no new decision (its last one expires with its lookback)."""
    results = load_drift(store, now, window_s=window_s, n_windows=n_windows, policy=policy)
    rows = []
    for dep, d in results.decided.items():
        flagged = sorted((r for r in d.report.results if r.status in (Status.WARN, Status.DRIFT)),
                         key=lambda r: (r.status is not Status.DRIFT, -(r.effect or 0.0) / (r.threshold or 1.0)))
        rows.append({"deployment_id": dep, "evaluated_at": to_epoch(now, "now"), "window_s": window_s,
                     "n_windows": n_windows, "baseline_id": d.baseline_id, "status": d.report.status.value,
                     "signals": [{k: v for k, v in r.to_dict().items() if k in SIGNAL_FIELDS} for r in flagged]})
    with store.write() as conn:
        store.upsert(conn, t.drift_statuses, rows)
    return results


def load_recorded_drift(store: Store, now: datetime) -> dict[str, RecordedDrift]:
    """Recorded decisions that still describe ``now``: made within their own lookback (window x
    windows) of it. An older one says nothing about the present and is left out (no_data)."""
    with store.read() as conn:
        rows = conn.execute(select(t.drift_statuses)).mappings().all()
    out = {}
    for r in rows:
        if r["evaluated_at"] >= to_epoch(now, "now") - r["window_s"] * r["n_windows"]:
            out[r["deployment_id"]] = RecordedDrift(
                r["deployment_id"], r["status"], from_epoch(r["evaluated_at"]), r["window_s"], r["n_windows"],
                r["baseline_id"], tuple(r["signals"]))
    return out


def window_index(ts: datetime, end: datetime, window_s: int) -> int:
    """0 for the newest window [end - window_s, end), 1 for the one before, ..."""
    return int((end - ts).total_seconds() - 1) // window_s


def load_drift(
    store: Store,
    now: datetime,
    *,
    window_s: int = 900,
    n_windows: int = 3,
    deployments: Sequence[str] | None = None,
    policy: DriftPolicy | None = None,
) -> DriftLoad:
    start = now - timedelta(seconds=window_s * n_windows)
    points = store.load_histograms(deployments=deployments, start=start, end=now)
    by_deployment: dict[str, list[HistogramPoint]] = defaultdict(list)
    for p in points:
        by_deployment[p.deployment].append(p)
    out = DriftLoad({}, {})
    for deployment, items in sorted(by_deployment.items()):
        bid = max(items, key=lambda p: p.start).baseline_id  # the newest baseline wins after a model change
        try:
            baseline = read_baseline(store, bid)
        except UnreadableBaselineError as exc:
            out.unreadable[deployment] = exc
            continue
        if baseline is None:
            continue
        windows = split_windows([p for p in items if p.baseline_id == bid], now, window_s, n_windows)
        report = compare(baseline, [_with_empties(baseline, w) for w in windows], policy=policy)
        agree, paired = shadow_pairs(store, deployment, now - timedelta(seconds=window_s), now)
        shadow = _shadow_comparisons(baseline, windows[-1], policy, agree, paired)
        out.decided[deployment] = DeploymentDrift(deployment, bid, report, shadow, window_s, start)
    return out


def split_windows(points: Sequence[HistogramPoint], end: datetime, window_s: int,
                  n_windows: int) -> list[dict[str, WindowCounts]]:
    """Oldest first: per window, per signal, the exact merge of its steps' counts."""
    buckets: list[dict[str, list[WindowCounts]]] = [defaultdict(list) for _ in range(n_windows)]
    for p in points:
        i = window_index(p.start, end, window_s)
        if 0 <= i < n_windows:
            buckets[n_windows - 1 - i][p.signal].append(WindowCounts.from_dict(p.counts))
    return [{signal: merge_all(parts) for signal, parts in bucket.items()} for bucket in buckets]


def _with_empties(baseline: Baseline, window: dict[str, WindowCounts]) -> dict[str, WindowCounts]:
    """Every baseline signal present, empty where nothing came (so it reads no_data)."""
    return {signal: window.get(signal) or WindowCounts.empty(baseline.column(signal)) for signal in baseline.columns}


def shadow_pairs(store: Store, deployment: str, start: datetime, end: datetime) -> tuple[int | None, int | None]:
    """(rows on which served and shadow classes agree, rows compared) over [start, end)."""
    points = store.load_metrics(deployments=[deployment], metrics=[M.SHADOW_COUNT, M.SHADOW_AGREEMENT],
                                start=start, end=end)
    steps: dict[datetime, dict[str, float]] = defaultdict(dict)
    for p in points:
        steps[p.start][p.metric] = p.value
    paired = sum(v.get(M.SHADOW_COUNT, 0.0) for v in steps.values())
    if not paired:
        return None, None
    agree = sum(v.get(M.SHADOW_COUNT, 0.0) * v.get(M.SHADOW_AGREEMENT, 0.0) for v in steps.values())
    return round(agree), round(paired)


def _shadow_comparisons(baseline: Baseline, window: dict[str, WindowCounts], policy: DriftPolicy | None,
                        agree: int | None, paired: int | None) -> tuple[VersionComparison, ...]:
    out = []
    for shadow_signal, served_signal in SHADOW_OF.items():
        if shadow_signal in window and served_signal in window:
            out.append(compare_versions(baseline.column(served_signal), window[served_signal], window[shadow_signal],
                                        reference_version=baseline.version, current_version="shadow",
                                        agree_count=agree if served_signal == "class" else None,
                                        paired_count=paired if served_signal == "class" else None,
                                        policy=policy))
    return tuple(out)
