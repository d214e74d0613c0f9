"""Errors raised by the quality package (performance estimated without labels, realised with them).

```
QualityError                    base: catch this at the edges (CLI, dashboard, alert job)
 +-- InvalidLabelsError         labels of the wrong type or shape; ``field`` names it, ``problem`` says what
 +-- MissingLabelsError         no label column / no labels where they are needed (``source``)
 +-- MetricKindError            a metric asked of the wrong kind of model (``metric``, ``model_kind``)
 +-- InsufficientLabelsError    too few labelled rows for a calibration or a metric (``n``, ``minimum``)
 +-- IncompatibleScoresError    score counts not made over the calibration's bins (``signal``)
```

Rows whose label is unusable (not a known class, not a finite number) are not errors: the
aggregates count them apart (``invalid_label_count``) and everything else is still used.
"""

from __future__ import annotations


class QualityError(Exception):
    """Base of every error raised by ``quality``."""


class InvalidLabelsError(QualityError, ValueError):
    """Labels or predictions the package cannot use; ``field`` names them."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class MissingLabelsError(QualityError):
    """Labels are needed and there are none (``source`` says where they were expected)."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class MetricKindError(QualityError, ValueError):
    """A metric of one kind of model asked of another (accuracy of a regressor, RMSE of a classifier)."""

    def __init__(self, metric: str, model_kind: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"{metric!r} is not a {model_kind} metric (use one of: {', '.join(allowed)})")
        self.metric = metric
        self.model_kind = model_kind
        self.allowed = allowed


class InsufficientLabelsError(QualityError):
    """``what`` needs at least ``minimum`` labelled rows and got ``n``."""

    def __init__(self, what: str, n: int, minimum: int) -> None:
        super().__init__(f"{what} needs at least {minimum} labelled rows, got {n}")
        self.what = what
        self.n = n
        self.minimum = minimum


class IncompatibleScoresError(QualityError):
    """Score counts that were not made over the calibration's score bins."""

    def __init__(self, signal: str, problem: str) -> None:
        super().__init__(f"{signal}: {problem}")
        self.signal = signal
        self.problem = problem
