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
from drift.display import Overlay, overlay
from inferwatch.schema import HistogramPoint
from inferwatch.schema import Metric as M
from inferwatch.store import KeptDecision, Store, to_epoch
from readmodels.baselines import read_baseline

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
    results = decide_drift(store, now, window_s=window_s, n_windows=n_windows, policy=policy)
    decisions = []
    for dep, d in results.decided.items():
        flagged = sorted((r for r in d.report.results if r.status in (Status.WARN, Status.DRIFT)),
                         key=lambda r: (r.status is not Status.DRIFT, -(r.effect or 0.0) / (r.threshold or 1.0)))
        decisions.append(KeptDecision(
            dep, now, window_s, n_windows, d.baseline_id, d.report.status.value,
            tuple({k: v for k, v in r.to_dict().items() if k in SIGNAL_FIELDS} for r in flagged)))
    store.save_drift_decisions(decisions)
    return results


def load_recorded_drift(store: Store, now: datetime) -> dict[str, RecordedDrift]:
    """Recorded decisions that still describe ``now``: made within their own lookback (window x
    windows) of it. An older one says nothing about the present and is left out (no_data)."""
    return {d.deployment: RecordedDrift(d.deployment, d.status, d.evaluated_at, d.window_s, d.n_windows,
                                        d.baseline_id, d.signals)
            for d in store.load_drift_decisions()
            if to_epoch(d.evaluated_at) >= to_epoch(now, "now") - d.window_s * d.n_windows}


def window_index(ts: datetime, end: datetime, window_s: int) -> int:
    """0 for the newest window [end - window_s, end), 1 for the one before, ..."""
    return int((end - ts).total_seconds() - 1) // window_s


def decide_drift(
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


@dataclass(frozen=True, slots=True)
class DriftView:
    """Everything the Drift page shows for one deployment: the decision with its history, when each
    window ends, and the last window against the baseline (and the served version against its shadow)
    on shared display bins."""
    deployment: str
    baseline_id: str
    report: DriftReport
    window_ends: tuple[datetime, ...]
    overlays: Mapping[str, Overlay]  # signal -> baseline vs the last window
    shadow_overlays: Mapping[str, Overlay]  # served signal -> served vs shadow in the last window
    shadow: tuple[VersionComparison, ...]


def drift_view(store: Store, now: datetime, deployment: str, *, window_s: int, n_windows: int,
               policy: DriftPolicy | None = None) -> DriftView | UnreadableBaselineError | None:
    """One deployment's :class:`DriftView`; the error naming its baseline when that cannot be read; None
    when it has no histograms in the lookback (or its baseline is gone)."""
    results = decide_drift(store, now, window_s=window_s, n_windows=n_windows, deployments=[deployment], policy=policy)
    if deployment in results.unreadable:
        return results.unreadable[deployment]
    d = results.decided.get(deployment)
    baseline = read_baseline(store, d.baseline_id) if d is not None else None
    if d is None or baseline is None:
        return None
    points = [p for p in store.load_histograms(deployments=[deployment], start=now - timedelta(seconds=window_s),
                                               end=now) if p.baseline_id == d.baseline_id]
    last = split_windows(points, now, window_s, 1)[0]
    return DriftView(
        deployment, d.baseline_id, d.report,
        tuple(now - timedelta(seconds=window_s * (n_windows - 1 - i)) for i in range(n_windows)),
        {s: overlay(baseline.column(s), w) for s, w in last.items() if s in baseline.columns},
        {served: overlay(baseline.column(served), last[shadow], reference=last[served])
         for shadow, served in SHADOW_OF.items() if shadow in last and served in last},
        d.shadow)
