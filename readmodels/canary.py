"""Canary verdicts: promote, hold or roll back a new version, with the evidence.

Pure: the numbers in, a verdict out. A canary is rolled back when it is clearly worse than the
stable version (error rate significantly higher, or p99 beyond the SLO and well above stable);
held while it has too few requests to tell; promoted when it has enough traffic and is no worse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MIN_REQUESTS = 200  # below this the error-rate comparison has too little power to decide
LATENCY_TOLERANCE = 1.2  # canary p99 may be 20% above stable before it counts against it
Z_CRITICAL = 2.326  # one-sided 99%: a canary is only called worse on strong evidence
AGREEMENT_FLOOR = 0.9  # shadow/canary agreement below this needs a human look


@dataclass(frozen=True, slots=True)
class VersionStats:
    deployment: str
    requests: int
    bad: int  # server errors + timeouts + degraded answers
    p99_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.bad / self.requests if self.requests else None


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: str  # promote | hold | rollback
    reasons: tuple[str, ...]
    evidence: dict[str, float | None] = field(default_factory=dict)


def error_rate_z(stable: VersionStats, canary: VersionStats) -> float:
    """Two-proportion z statistic (canary minus stable), pooled variance."""
    n1, n2 = stable.requests, canary.requests
    pooled = (stable.bad + canary.bad) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0
    return ((canary.bad / n2) - (stable.bad / n1)) / se


def canary_verdict(stable: VersionStats, canary: VersionStats, *, slo_p99_ms: float,
                   agreement: float | None = None, min_requests: int = MIN_REQUESTS) -> Verdict:
    evidence: dict[str, float | None] = {
        "stable_requests": stable.requests, "canary_requests": canary.requests,
        "stable_error_rate": stable.error_rate, "canary_error_rate": canary.error_rate,
        "stable_p99_ms": stable.p99_ms, "canary_p99_ms": canary.p99_ms, "slo_p99_ms": slo_p99_ms,
        "agreement": agreement,
    }
    reasons: list[str] = []
    if stable.requests == 0 or canary.requests == 0:
        return Verdict("hold", ("no traffic on one of the versions yet",), evidence)
    z = error_rate_z(stable, canary)
    evidence["error_rate_z"] = z
    if z > Z_CRITICAL:
        reasons.append(f"canary error rate {canary.error_rate:.2%} is significantly above stable "
                       f"{stable.error_rate:.2%} (z={z:.1f})")
    if canary.p99_ms is not None and canary.p99_ms > slo_p99_ms and (
            stable.p99_ms is None or canary.p99_ms > LATENCY_TOLERANCE * stable.p99_ms):
        reasons.append(f"canary p99 {canary.p99_ms:.0f} ms breaks the {slo_p99_ms:.0f} ms SLO")
    if reasons:
        return Verdict("rollback", tuple(reasons), evidence)
    if canary.requests < min_requests:
        return Verdict("hold", (f"only {canary.requests} canary requests; {min_requests} needed to decide",), evidence)
    if agreement is not None and agreement < AGREEMENT_FLOOR:
        return Verdict("hold", (f"predictions agree on only {agreement:.1%} of requests: review before promoting",),
                       evidence)
    return Verdict("promote", (f"{canary.requests} requests, error rate and p99 no worse than stable",), evidence)
