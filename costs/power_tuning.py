"""Import the result of an AWS Lambda Power Tuning run (alexcasalboni/aws-lambda-power-tuning).

The state machine's output is ``{"power", "cost", "duration", "stateMachine", "stats"}`` (``stats``:
one ``{"value": memory_mb, "averagePrice", "averageDuration"}`` per power value, present when the run
asked for it); the Step Functions execution output may wrap it in ``{"results": ...}``. Its prices are
the tool's own approximations, so only the measured durations are used here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from costs.errors import PowerTuningImportError


@dataclass(frozen=True, slots=True)
class PowerTuningPoint:
    memory_mb: float
    avg_duration_ms: float
    avg_price_usd: float | None


@dataclass(frozen=True, slots=True)
class PowerTuningResult:
    best_memory_mb: float
    points: tuple[PowerTuningPoint, ...]

    def memory_options(self) -> list[tuple[float, float, str]]:
        """``(memory_mb, avg_duration_ms, source)`` for :func:`costs.advice.advise`."""
        return [(p.memory_mb, p.avg_duration_ms, f"power tuning at {p.memory_mb:g} MB") for p in self.points]


def _number(raw: Mapping[str, Any], key: str, field: str, *, positive: bool = True) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PowerTuningImportError(f"{field}: expected a number, got {value!r}", field=field)
    if positive and value <= 0:
        raise PowerTuningImportError(f"{field}: must be > 0, got {value!r}", field=field)
    return float(value)


def parse_power_tuning(text: str) -> PowerTuningResult:
    """Parse a Power Tuning result JSON.

    Parameters
    ----------
    text
        The JSON text of the state machine's output (or an execution output wrapping it in ``results``).

    Returns
    -------
    PowerTuningResult
        Durations per memory size, ordered by memory size.

    Raises
    ------
    PowerTuningImportError
        When the JSON is invalid or a field is missing or not a positive number; ``field`` names it.
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PowerTuningImportError(f"not valid JSON: {exc}", field="<document>") from exc
    if isinstance(raw, Mapping) and isinstance(raw.get("results"), Mapping):
        raw = raw["results"]
    if not isinstance(raw, Mapping):
        raise PowerTuningImportError("expected a JSON object", field="<document>")
    best = _number(raw, "power", "power")
    points = []
    stats = raw.get("stats")
    if stats is not None:
        if not isinstance(stats, list):
            raise PowerTuningImportError("stats: expected a list", field="stats")
        for i, item in enumerate(stats):
            if not isinstance(item, Mapping):
                raise PowerTuningImportError(f"stats[{i}]: expected an object", field=f"stats[{i}]")
            price = item.get("averagePrice")
            points.append(PowerTuningPoint(
                _number(item, "value", f"stats[{i}].value"),
                _number(item, "averageDuration", f"stats[{i}].averageDuration"),
                _number(item, "averagePrice", f"stats[{i}].averagePrice", positive=False) if price is not None
                else None))
    if not points:
        points.append(PowerTuningPoint(best, _number(raw, "duration", "duration"),
                                       _number(raw, "cost", "cost", positive=False) if "cost" in raw else None))
    return PowerTuningResult(best, tuple(sorted(points, key=lambda p: p.memory_mb)))
