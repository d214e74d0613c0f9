"""Histograms of the probe's window lines: each line's signals counted over its model's baseline, and the
lines of one deployment, step and baseline merged by adding counts (exact, in any order).

A line whose counts are over a bins file (``bins_sha256``) is mapped back through that file, which the
store keeps under its sha256 (``ProbeBinsLookup``): it must be a file exported from the very baseline the
model's lookup answers, or its bins are not the baseline's and its ``bins`` signals are skipped with a
warning. Signals without a bins file are rebinned (see :mod:`collectors.window_signals`). Each lookup is
asked once per key and batch; each problem is one warning per batch, never an exception.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from collectors.base import BaselineLookup, ProbeBinsLookup
from collectors.window_signals import SignalCounts, window_counts
from drift import Baseline, WindowCounts
from drift.baseline import NumericColumn
from drift.errors import DriftError
from drift.probe_bins import ProbeBins, read_probe_bins
from drift.window import merge_all
from inferwatch.schema import HistogramPoint, ModelKey

_Key = tuple[str, datetime, str, str]  # deployment id, step start, signal, baseline id


class HistogramCounter:
    """Accumulates the signals of window lines for one batch; :meth:`points` merges them per step."""

    def __init__(self, baselines: BaselineLookup | None, probe_bins: ProbeBinsLookup | None,
                 warnings: list[str]) -> None:
        self._baselines = baselines
        self._probe_bins = probe_bins
        self._warnings = warnings
        self._warned: set[str] = set()
        self._found: dict[ModelKey, tuple[str, Baseline] | None] = {}
        self._files: dict[tuple[str, str], ProbeBins | None] = {}
        self._windows: dict[_Key, list[WindowCounts]] = defaultdict(list)

    def add(self, deployment_id: str, start: datetime, key: ModelKey, bins_sha256: str | None,
            signals: Mapping[str, SignalCounts]) -> None:
        """Count one line's ``signals`` (of the model ``key``) into the step starting at ``start``."""
        found = self._baseline(key)
        if found is None or not signals:
            return
        bid, baseline = found
        bins = self._bins_file(bins_sha256, bid, baseline, key) if bins_sha256 is not None else None
        for name, signal in signals.items():
            column = baseline.columns.get(name)
            if column is None:
                continue  # a signal the baseline does not hold (as for invocation lines)
            if signal.type == "bins" and bins is None:
                continue  # warned about once, by _bins_file
            if (signal.kind == "numeric") != isinstance(column, NumericColumn):
                self._warn(f"signal {name} of {key.service} model {key.model_version} is {signal.kind} but its "
                           f"baseline {bid} holds it as the other kind: not counted")
                continue
            layout = bins.layouts.get(name) if bins is not None and signal.type == "bins" else None
            if signal.type == "bins" and signal.kind == "numeric" and layout is None:
                self._warn(f"signal {name}: bins file {bins_sha256} has no layout for it: not counted")
                continue
            try:
                counts = window_counts(signal, column, layout)
            except DriftError as exc:
                self._warn(f"signal {name} of {key.service} model {key.model_version} does not fit baseline "
                           f"{bid}: {exc}")
                continue
            self._windows[(deployment_id, start, name, bid)].append(counts)

    def points(self, step_s: int) -> list[HistogramPoint]:
        out = []
        for (deployment_id, start, signal, bid), windows in self._windows.items():
            try:
                merged = merge_all(windows)
            except DriftError as exc:  # counts of one signal over two versions of a baseline's bins
                self._warn(f"{deployment_id} signal {signal} at {start:%Y-%m-%d %H:%M}: not merged: {exc}")
                continue
            out.append(HistogramPoint(deployment_id, signal, start, step_s, bid, merged.to_dict()))
        return out

    def _baseline(self, key: ModelKey) -> tuple[str, Baseline] | None:
        if self._baselines is None:
            return None
        if key not in self._found:
            try:
                self._found[key] = self._baselines(key)
            except DriftError as exc:
                self._found[key] = None
                self._warn(f"{key.service} model {key.model_version}: no prediction histograms this run: {exc}")
        return self._found[key]

    def _bins_file(self, sha256: str, bid: str, baseline: Baseline, key: ModelKey) -> ProbeBins | None:
        """The bins file ``sha256`` read against the model's baseline; None (warned once) when the store
        does not know it, or it was exported from another baseline, or it does not fit this one."""
        if (sha256, bid) in self._files:
            return self._files[(sha256, bid)]
        found: Mapping[str, Any] | None = self._probe_bins(sha256) if self._probe_bins is not None else None
        bins: ProbeBins | None = None
        what = f"{key.service} model {key.model_version}: window lines counted over bins file {sha256[:12]}"
        if found is None:
            self._warn(f"{what}, which the store does not hold (export it with `inferwatch baseline create`): "
                       "their binned signals are skipped")
        elif str(found.get("baseline_id")) != bid:
            self._warn(f"{what}, exported from baseline {found.get('baseline_id')}, but the model's baseline is "
                       f"{bid}: their binned signals are skipped (ship the bins file of the current baseline)")
        else:
            try:
                bins = read_probe_bins(bytes(found["content"]), baseline)
            except DriftError as exc:
                self._warn(f"{what}, which does not fit baseline {bid}: {exc}: their binned signals are skipped")
        self._files[(sha256, bid)] = bins
        return bins

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self._warnings.append(message)
