from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from readmodels.canary import VersionStats, canary_verdict, error_rate_z


def test_clearly_worse_canary_is_rolled_back() -> None:
    v = canary_verdict(VersionStats("s", 5000, 10, 80.0), VersionStats("c", 500, 25, 85.0), slo_p99_ms=250)
    assert v.decision == "rollback" and "error rate" in v.reasons[0]


def test_slow_canary_beyond_slo_is_rolled_back() -> None:
    v = canary_verdict(VersionStats("s", 5000, 5, 90.0), VersionStats("c", 500, 0, 400.0), slo_p99_ms=250)
    assert v.decision == "rollback" and "SLO" in v.reasons[0]


def test_too_little_traffic_holds() -> None:
    v = canary_verdict(VersionStats("s", 5000, 5, 90.0), VersionStats("c", 50, 0, 95.0), slo_p99_ms=250)
    assert v.decision == "hold"


def test_healthy_canary_with_traffic_is_promoted() -> None:
    v = canary_verdict(VersionStats("s", 5000, 5, 90.0), VersionStats("c", 600, 1, 92.0), slo_p99_ms=250,
                       agreement=0.97)
    assert v.decision == "promote"


def test_low_agreement_holds_for_review() -> None:
    v = canary_verdict(VersionStats("s", 5000, 5, 90.0), VersionStats("c", 600, 1, 92.0), slo_p99_ms=250,
                       agreement=0.7)
    assert v.decision == "hold"


def test_same_error_rate_is_rarely_called_worse() -> None:
    rng = np.random.default_rng(3)
    rollbacks = 0
    for _ in range(400):
        s = VersionStats("s", 5000, int(rng.binomial(5000, 0.01)), 90.0)
        c = VersionStats("c", 500, int(rng.binomial(500, 0.01)), 90.0)
        rollbacks += canary_verdict(s, c, slo_p99_ms=250).decision == "rollback"
    assert rollbacks / 400 <= 0.03


@given(st.integers(1, 10_000), st.integers(1, 10_000), st.data())
def test_z_is_antisymmetric(n1: int, n2: int, data: st.DataObject) -> None:
    b1 = data.draw(st.integers(0, n1))
    b2 = data.draw(st.integers(0, n2))
    a, b = VersionStats("a", n1, b1, None), VersionStats("b", n2, b2, None)
    assert abs(error_rate_z(a, b) + error_rate_z(b, a)) < 1e-9
