"""Prediction and input histograms of one step, as integer counts over the baseline's bins."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from collectors.local_telemetry import TelemetryRecord
from inferwatch.schema import HistogramPoint

BaselineLookup = Callable[[str], tuple[str, Mapping[str, Any]] | None]


def build_histograms(
    deployment: str,
    start: datetime,
    step_s: int,
    records: Sequence[TelemetryRecord],
    baselines: BaselineLookup | None,
) -> list[HistogramPoint]:
    """Counts per signal; empty until the drift engine's baselines exist."""
    return []
