"""Alert errors.

    AlertError
    ├── AlertConfigError   a rule, notifier or rule-test file is invalid; ``field`` names the bad one
    ├── DeliveryError      a notifier could not deliver a message; ``receiver``, ``retry_after_s``
    └── LockHeldError      another alert run holds the job lock
"""

from __future__ import annotations


class AlertError(Exception):
    """Base of every alert error."""


class AlertConfigError(AlertError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DeliveryError(AlertError):
    def __init__(self, message: str, *, receiver: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.receiver = receiver
        self.retry_after_s = retry_after_s


class LockHeldError(AlertError):
    def __init__(self, message: str, *, lock: str) -> None:
        super().__init__(message)
        self.lock = lock
