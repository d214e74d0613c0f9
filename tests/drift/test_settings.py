from __future__ import annotations

import pytest

from drift.errors import InvalidInputError
from drift.settings import settings_from_mapping


def test_defaults_and_overrides() -> None:
    default = settings_from_mapping({})
    assert default.window_s == 900 and default.windows == 3 and default.policy.persistence_m == 2
    custom = settings_from_mapping({"numeric_statistic": "psi", "persistence": [3, 5], "alpha": 0.05,
                                    "thresholds": {"psi": [0.2, 0.3]}, "window_s": 300})
    assert custom.policy.numeric_statistic == "psi" and custom.policy.threshold("psi") == (0.2, 0.3)
    assert custom.policy.threshold("jensen_shannon") == (0.1, 0.1) and custom.windows == 5


@pytest.mark.parametrize(("data", "field"), [
    ({"alpha": "x"}, "drift.alpha"), ({"bogus": 1}, "drift.bogus"), ({"persistence": [2]}, "drift.persistence"),
    ({"thresholds": {"nope": [1, 2]}}, "drift.thresholds.nope"), ({"thresholds": {"psi": [1]}}, "drift.thresholds.psi"),
    ({"min_rows": True}, "drift.min_rows"), ({"numeric_statistic": "g_test"}, "drift.numeric_statistic"),
    ({"window_s": 5}, "drift.window_s"), ({"window": "-5m"}, "drift.window"),
    # the policy's own checks name the section's keys, not DriftPolicy's fields
    ({"alpha": 1.5}, "drift.alpha"), ({"persistence": [3, 2]}, "drift.persistence"),
    ({"thresholds": {"psi": [0.3, 0.1]}}, "drift.thresholds.psi"),
    # non-finite, boolean and unbounded numbers: a window of 1e20 s overflowed every date computed from it
    ({"alpha": float("nan")}, "drift.alpha"), ({"rate_threshold": float("inf")}, "drift.rate_threshold"),
    ({"thresholds": {"psi": [0.1, float("inf")]}}, "drift.thresholds.psi"),
    ({"persistence": [True, 3]}, "drift.persistence"), ({"persistence": [1, 10**9]}, "drift.persistence"),
    ({"window_s": 10**20}, "drift.window_s"), ({"windows": 0}, "drift.windows"), ({"windows": 10**6}, "drift.windows"),
    ({"window_s": 900.0}, "drift.window_s"),
])
def test_errors_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        settings_from_mapping(data)
    assert info.value.field == field
