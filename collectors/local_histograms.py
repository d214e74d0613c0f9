"""Prediction and input histograms of one step, as integer counts over the baseline's bins.

Signals: ``score`` and ``class`` (integer or string labels) of the served answers, ``value`` of a
regression, ``feature:<name>`` from the bounded input summaries (numbers, with the probe's NaN and
infinities counted apart and nulls as missing) and categories, and ``shadow_score``/``shadow_class``
(the shadow version's predictions on the same requests, counted over the served version's bins so the
two compare directly). Degraded answers are fallbacks, not the model's output, so only ``ok`` answers
count. The same answers are also kept per request (:func:`prediction_records`), so labels that arrive
later by request id find their prediction.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from collectors.base import BaselineLookup
from collectors.local_telemetry import TelemetryRecord
from drift import WindowCounts
from drift.errors import DriftError
from inferwatch.schema import Deployment, HistogramPoint, ModelKey, PredictionRecord

SHADOW_SIGNALS = {"shadow_score": "score", "shadow_class": "class"}
KEPT_ROWS = 100  # rows of a request kept for labels (the store's MAX_ROWS_PER_REQUEST)


def signal_values(records: Iterable[TelemetryRecord]) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = defaultdict(list)
    for r in records:
        if r.status != "ok":
            continue
        values["score"].extend(r.prediction_score)
        values["class"].extend(r.predicted_class)
        values["class"].extend(r.predicted_label)
        values["value"].extend(r.prediction_value)
        for name, xs in r.input_summary.items():
            values[f"feature:{name}"].extend(xs)
        for name, labels in r.input_categories.items():
            values[f"feature:{name}"].extend(labels)
        if r.shadow_status == "ok":
            values["shadow_score"].extend(r.shadow_score)
            values["shadow_class"].extend(r.shadow_class)
    return values


def model_key(record: TelemetryRecord, deployment: Deployment) -> ModelKey | None:
    """The model a record's predictions came from: the service and sha256 its line names (else the
    deployment's service), and its model version (else the deployment's configured one; None without)."""
    version = record.model_version or deployment.model_version
    return ModelKey(record.service or deployment.service, version, record.model_sha256) if version else None


def build_histograms(
    deployment: Deployment,
    start: datetime,
    step_s: int,
    records: Sequence[TelemetryRecord],
    baselines: BaselineLookup | None,
) -> list[HistogramPoint]:
    if baselines is None:
        return []
    by_model: dict[ModelKey, list[TelemetryRecord]] = defaultdict(list)
    for r in records:
        key = model_key(r, deployment)
        if key is not None:
            by_model[key].append(r)
    out = []
    for key, items in by_model.items():
        found = baselines(key)
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
                continue  # values the column cannot hold (e.g. strings for a numeric feature)
            out.append(HistogramPoint(deployment.id, signal, start, step_s, bid, counts.to_dict()))
    return out


def _kept(values: Sequence[float]) -> tuple[float | None, ...]:
    return tuple(v if math.isfinite(v) else None for v in values[:KEPT_ROWS])  # NaN is not JSON


def prediction_records(deployment: str, records: Iterable[TelemetryRecord]) -> list[PredictionRecord]:
    """What each ``ok`` request with a request id was answered: its first rows' scores and classes
    (integer or string labels), or values for a regression (a line carries at most 100, EMF's array
    limit; a longer one is cut there, not refused)."""
    out = []
    for r in records:
        classes = tuple(str(c) for c in r.predicted_class[:KEPT_ROWS]) or r.predicted_label[:KEPT_ROWS]
        if r.status != "ok" or not r.request_id or not (r.prediction_score or classes or r.prediction_value):
            continue
        out.append(PredictionRecord(deployment, r.request_id, datetime.fromtimestamp(r.timestamp_ms / 1000, tz=UTC),
                                    r.model_version, _kept(r.prediction_score), classes, _kept(r.prediction_value)))
    return out
