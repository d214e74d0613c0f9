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
    ({"min_rows": True}, "drift.min_rows"), ({"numeric_statistic": "g_test"}, "numeric_statistic"),
    ({"window_s": 5}, "drift.window_s"),
])
def test_errors_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        settings_from_mapping(data)
    assert info.value.field == field
