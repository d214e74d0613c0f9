"""Errors of the reference service. What each one becomes at the edge:

    ServiceError
    ├── InvalidInputError        400, names every bad field (the caller's fault: never retried)
    ├── PayloadTooLargeError     413, refused before the body is read in full
    ├── ModelLoadError           200 degraded (fallback answer); the load is retried later
    ├── InferenceTimeoutError    200 degraded (fallback answer) within the deadline
    ├── InferenceError           a real failure: 500 on HTTP, raised on Lambda (retry, then the DLQ)
    │   └── InjectedFaultError   the same, caused on purpose by INFERWATCH_FAULT_ERROR_RATE
    ├── ServiceConfigError       a bad INFERWATCH_* variable, named; the process does not start
    └── DeadLetterError          the dead-letter queue could not store or read a record
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One bad field of a request: ``field`` is a path such as ``instances[2][7]`` or ``inputs.mean radius``."""

    field: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem}


class ServiceError(Exception):
    """Base of every error the reference service raises on purpose."""


class InvalidInputError(ServiceError):
    def __init__(self, fields: list[FieldProblem] | tuple[FieldProblem, ...]) -> None:
        if not fields:
            raise ValueError("InvalidInputError needs at least one FieldProblem")
        self.fields: tuple[FieldProblem, ...] = tuple(fields)
        first = self.fields[0]
        more = f" (and {len(self.fields) - 1} more)" if len(self.fields) > 1 else ""
        super().__init__(f"invalid request: {first.field}: {first.problem}{more}")


class PayloadTooLargeError(ServiceError):
    def __init__(self, size_bytes: int, limit_bytes: int) -> None:
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes
        super().__init__(f"request body of {size_bytes} bytes exceeds the limit of {limit_bytes} bytes")


class ModelLoadError(ServiceError):
    def __init__(self, version: str, path: str, reason: str) -> None:
        self.version = version
        self.path = path
        self.reason = reason
        super().__init__(f"model {version} could not be loaded from {path}: {reason}")


class InferenceTimeoutError(ServiceError):
    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        super().__init__(f"inference did not finish within its budget of {budget_s * 1000:.0f} ms")


class InferenceError(ServiceError):
    def __init__(self, version: str, reason: str) -> None:
        self.version = version
        self.reason = reason
        super().__init__(f"model {version} failed: {reason}")


class InjectedFaultError(InferenceError):
    """Raised by the fault-injecting wrapper; a real failure as far as the adapters are concerned."""


class ServiceConfigError(ServiceError):
    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


class DeadLetterError(ServiceError):
    def __init__(self, queue: str, reason: str) -> None:
        self.queue = queue
        self.reason = reason
        super().__init__(f"dead-letter queue {queue}: {reason}")
