from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from drift.decision import DriftPolicy, Status, benjamini_hochberg, gated_status, persistent
from drift.errors import InvalidInputError


@given(st.lists(st.floats(0, 1), min_size=1, max_size=50))
def test_benjamini_hochberg_matches_scipy(p_values: list[float]) -> None:
    expected = scipy.stats.false_discovery_control(np.asarray(p_values), method="bh")
    np.testing.assert_allclose(benjamini_hochberg(p_values), expected, rtol=1e-12, atol=1e-15)


def test_benjamini_hochberg_edges() -> None:
    assert benjamini_hochberg([]) == []
    with pytest.raises(InvalidInputError, match="p_values"):
        benjamini_hochberg([0.5, float("nan")])


@pytest.mark.parametrize(("history", "expected"), [
    ([True], True), ([False], False), ([True, False], False), ([False, True], False),
    ([False, False, True], False), ([True, False, True], True), ([True, True, False, False, True], False),
])
def test_persistence_two_of_three(history: list[bool], expected: bool) -> None:
    assert persistent(history, 2, 3) is expected


def test_gated_status() -> None:
    policy = DriftPolicy()
    assert gated_status([False, False, True], True, policy) is Status.WARN
    assert gated_status([False, True, True], True, policy) is Status.DRIFT
    assert gated_status([True, True, False], True, policy) is Status.WARN
    assert gated_status([True, True, False], False, policy) is Status.OK


def test_policy_validation_names_fields() -> None:
    with pytest.raises(InvalidInputError, match="alpha"):
        DriftPolicy(alpha=0)
    with pytest.raises(InvalidInputError, match="min_rows"):
        DriftPolicy(min_rows=0)
    with pytest.raises(InvalidInputError, match="thresholds.psi"):
        DriftPolicy(thresholds={"psi": (0.3, 0.2)})
    with pytest.raises(InvalidInputError, match="categorical_statistic"):
        DriftPolicy(categorical_statistic="ks")
    assert DriftPolicy().threshold("psi") == (0.1, 0.25)
    assert DriftPolicy(thresholds={"psi": (0.2, 0.3)}).threshold("psi") == (0.2, 0.3)
