"""Adapters from the drift engine and the cost model to what the alert rules read.

Each returns ``(values, error)``: ``values`` None means the source is not available (the rules see
no data), ``error`` set means it failed (the rules go to their Error state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from alerts.series import DriftDecision
from alerts.settings import AlertSettings
from inferwatch.runtime import Runtime
from inferwatch.schema import Deployment
from inferwatch.store import Store


def load_drift(
    store: Store, deployments: Sequence[Deployment], now: datetime, settings: AlertSettings
) -> tuple[Mapping[str, DriftDecision] | None, str | None]:
    return None, None


def load_cost_per_prediction(
    store: Store, deployments: Sequence[Deployment], now: datetime, settings: AlertSettings, rt: Runtime
) -> tuple[Mapping[str, float] | None, str | None]:
    return None, None
