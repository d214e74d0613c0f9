"""Errors raised by the drift engine.

```
DriftError                      base: catch this at the edges (CLI, dashboard, alert job)
 +-- InvalidInputError          bad input; ``field`` names it, ``problem`` says what is wrong
 +-- InsufficientDataError      too few rows for a statistic (``statistic``, ``n``, ``minimum``)
 +-- BaselineError              a baseline dict that cannot be read or is too large (``field``)
 |    +-- UnreadableBaselineError  a stored baseline that cannot be read (``baseline_id``, ``remedy``)
 +-- IncompatibleBinsError      window counts not made over this baseline's bins (``signal``)
```

An empty window is not an error: :func:`drift.compare.compare` reports it as ``no_data``.
"""

from __future__ import annotations


class DriftError(Exception):
    """Base of every error raised by ``drift``."""


class InvalidInputError(DriftError, ValueError):
    """Input the engine cannot use; ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class InsufficientDataError(DriftError):
    """A statistic needs at least ``minimum`` observations and got ``n``."""

    def __init__(self, statistic: str, n: int, minimum: int) -> None:
        super().__init__(f"{statistic} needs at least {minimum} observations, got {n}")
        self.statistic = statistic
        self.n = n
        self.minimum = minimum


class BaselineError(DriftError):
    """A baseline (or its dict form) is malformed or exceeds its size budget."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"baseline {field}: {problem}")
        self.field = field
        self.problem = problem


class UnreadableBaselineError(BaselineError):
    """A stored baseline that cannot be read: ``baseline_id`` names it, ``problem`` says why and
    ``remedy`` is the command that recreates it. Drift is unknown for the models it serves."""

    def __init__(self, baseline_id: str, problem: str, remedy: str) -> None:
        DriftError.__init__(self, f"baseline {baseline_id} is unreadable ({problem}): recreate it with `{remedy}`")
        self.field = "baseline"
        self.problem = problem
        self.baseline_id = baseline_id
        self.remedy = remedy


class IncompatibleBinsError(DriftError):
    """Counts that were not made over the baseline column they are compared with."""

    def __init__(self, signal: str, problem: str) -> None:
        super().__init__(f"{signal}: {problem}")
        self.signal = signal
        self.problem = problem
