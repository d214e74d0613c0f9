"""Prediction and input histograms of one step, as integer counts over the baseline's bins.

Signals: ``score`` and ``class`` of the served answers, ``feature:<name>`` from the bounded input
summaries, and ``shadow_score``/``shadow_class`` (the shadow version's predictions on the same
requests, counted over the served version's bins so the two compare directly). Degraded answers are
fallbacks, not the model's output, so only ``ok`` answers count. The same answers are also kept per
request (:func:`prediction_records`), so labels that arrive later by request id find their prediction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from collectors.base import BaselineLookup
from collectors.local_telemetry import TelemetryRecord
from drift import WindowCounts
from drift.errors import DriftError
from inferwatch.schema import Deployment, HistogramPoint, ModelKey, PredictionRecord

SHADOW_SIGNALS = {"shadow_score": "score", "shadow_class": "class"}
KEPT_ROWS = 100  # rows of a request kept for labels (the store's MAX_ROWS_PER_REQUEST)


def signal_values(records: Iterable[TelemetryRecord]) -> dict[str, list[float]]:
    values: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r.status != "ok":
            continue
        values["score"].extend(r.prediction_score)
        values["class"].extend(r.predicted_class)
        for name, xs in r.input_summary.items():
            values[f"feature:{name}"].extend(xs)
        if r.shadow_status == "ok":
            values["shadow_score"].extend(r.shadow_score)
            values["shadow_class"].extend(r.shadow_class)
    return values


def build_histograms(
    deployment: Deployment,
    start: datetime,
    step_s: int,
    records: Sequence[TelemetryRecord],
    baselines: BaselineLookup | None,
) -> list[HistogramPoint]:
    if baselines is None:
        return []
    by_version: dict[str, list[TelemetryRecord]] = defaultdict(list)
    for r in records:
        by_version[r.model_version].append(r)
    out = []
    for version, items in by_version.items():
        found = baselines(ModelKey(deployment.service, version))
        if found is None:
            continue
        bid, baseline = found
        for signal, values in signal_values(items).items():
            column_name = SHADOW_SIGNALS.get(signal, signal)
            if not values or column_name not in baseline.columns:
                continue
            try:
                counts = WindowCounts.from_values(baseline.column(column_name), values)
            except DriftError:
                continue  # values the column cannot hold (e.g. a class it never saw): counted as "other" upstream
            out.append(HistogramPoint(deployment.id, signal, start, step_s, bid, counts.to_dict()))
    return out


def prediction_records(deployment: str, records: Iterable[TelemetryRecord]) -> list[PredictionRecord]:
    """What each ``ok`` request with a request id was answered: its first rows' scores and classes
    (a line carries at most 100, EMF's array limit; a longer one is cut there, not refused)."""
    return [PredictionRecord(deployment, r.request_id, datetime.fromtimestamp(r.timestamp_ms / 1000, tz=UTC),
                             r.model_version, r.prediction_score[:KEPT_ROWS],
                             tuple(str(c) for c in r.predicted_class[:KEPT_ROWS]))
            for r in records if r.status == "ok" and r.request_id and (r.prediction_score or r.predicted_class)]
