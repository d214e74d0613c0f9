"""The ``[drift]`` section of inferwatch.toml, validated here (the package that owns it).

```toml
[drift]
numeric_statistic = "wasserstein_sigma"   # psi | jensen_shannon | hellinger | total_variation | ks
categorical_statistic = "jensen_shannon"
alpha = 0.01                              # Benjamini-Hochberg false discovery rate per evaluation
min_rows = 500
persistence = [2, 3]                      # drift when 2 of the last 3 windows breach
rate_threshold = 0.005                    # NaN / inf / null / out-of-range share increase
min_reference_rows = 100                  # smaller baseline columns answer insufficient_data
window_s = 900                            # window length the CLI and dashboard evaluate
windows = 3                               # windows looked at (persistence history)
[drift.thresholds]
psi = [0.1, 0.25]                         # [warn, drift]: classic fixed levels, reported as context
[drift.floors]
wasserstein_sigma = 0.05                  # smallest effect that can alert (calibrated levels on top)
```
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drift.decision import DriftPolicy
from drift.errors import InvalidInputError
from drift.registry import STATISTICS

SECTION_KEYS = {"numeric_statistic", "categorical_statistic", "alpha", "min_rows", "persistence", "rate_threshold",
                "window_s", "windows", "thresholds", "floors", "min_reference_rows"}
# Bounds that keep every window the CLI, the dashboard and the alert job look back over inside a
# calendar (window_s x windows <= 100 months) and every history short enough to evaluate.
MAX_WINDOW_S = 30 * 86_400
MAX_WINDOWS = 100
# DriftPolicy names its fields, not the keys of the section that set them.
_POLICY_KEYS = {"persistence_m": "persistence", "persistence_n": "persistence"}


@dataclass(frozen=True, slots=True)
class DriftSettings:
    policy: DriftPolicy = field(default_factory=DriftPolicy)
    window_s: int = 900
    windows: int = 3


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = data[key]
    if not _is_number(value) or (kind is int and not isinstance(value, int)):
        raise InvalidInputError(f"drift.{key}", f"expected a finite {kind.__name__}, got {value!r:.80}")
    return kind(value)


def _thresholds(raw: object) -> dict[str, tuple[float, float]]:
    if not isinstance(raw, Mapping):
        raise InvalidInputError("drift.thresholds", "expected a table of statistic = [warn, drift]")
    out: dict[str, tuple[float, float]] = {}
    for name, pair in raw.items():
        if name not in STATISTICS:
            raise InvalidInputError(f"drift.thresholds.{name}", f"unknown statistic (known: {', '.join(STATISTICS)})")
        if not isinstance(pair, list | tuple) or len(pair) != 2 or not all(_is_number(v) for v in pair):
            raise InvalidInputError(f"drift.thresholds.{name}", "expected [warn, drift] finite numbers")
        out[name] = (float(pair[0]), float(pair[1]))
    return out


def _floors(raw: object) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise InvalidInputError("drift.floors", "expected a table of statistic = floor")
    out: dict[str, float] = {}
    for name, value in raw.items():
        if name not in STATISTICS:
            raise InvalidInputError(f"drift.floors.{name}", f"unknown statistic (known: {', '.join(STATISTICS)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise InvalidInputError(f"drift.floors.{name}", "expected a number >= 0")
        out[name] = float(value)
    return out


def settings_from_mapping(data: Mapping[str, Any]) -> DriftSettings:
    """Validate the ``[drift]`` section; errors name the bad field (``drift.<key>``)."""
    unknown = set(data) - SECTION_KEYS
    if unknown:
        raise InvalidInputError(f"drift.{min(unknown)}", f"unknown key (known: {', '.join(sorted(SECTION_KEYS))})")
    kwargs: dict[str, Any] = {}
    for key in ("numeric_statistic", "categorical_statistic"):
        if key in data:
            if not isinstance(data[key], str):
                raise InvalidInputError(f"drift.{key}", "expected a statistic name")
            kwargs[key] = data[key]
    for key, kind in (("alpha", float), ("rate_threshold", float), ("min_rows", int), ("min_reference_rows", int)):
        if key in data:
            kwargs[key] = _number(data, key, kind)
    if "persistence" in data:
        pair = data["persistence"]
        if (not isinstance(pair, list | tuple) or len(pair) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_WINDOWS for v in pair)):
            raise InvalidInputError("drift.persistence", f"expected [m, n] with 1 <= m <= n <= {MAX_WINDOWS}: "
                                    "drift when m of the last n windows breach")
        kwargs["persistence_m"], kwargs["persistence_n"] = int(pair[0]), int(pair[1])
    if "thresholds" in data:
        kwargs["thresholds"] = {**DriftPolicy().thresholds, **_thresholds(data["thresholds"])}
    if "floors" in data:
        kwargs["floors"] = {**DriftPolicy().floors, **_floors(data["floors"])}
    try:
        policy = DriftPolicy(**kwargs)
    except InvalidInputError as exc:
        raise InvalidInputError(f"drift.{_POLICY_KEYS.get(exc.field, exc.field)}", exc.problem) from exc
    window_s = _number(data, "window_s", int) if "window_s" in data else 900
    windows = _number(data, "windows", int) if "windows" in data else max(3, policy.persistence_n)
    if not 60 <= window_s <= MAX_WINDOW_S:
        raise InvalidInputError("drift.window_s", f"need 60 <= window_s <= {MAX_WINDOW_S}, got {window_s}")
    if not 1 <= windows <= MAX_WINDOWS:
        raise InvalidInputError("drift.windows", f"need 1 <= windows <= {MAX_WINDOWS}, got {windows}")
    return DriftSettings(policy=policy, window_s=window_s, windows=windows)
