"""Errors of the probe.

::

    ProbeError                 base of the probe's own errors
    ├── ProbeConfigError       a bad argument or environment variable (``field``, ``value``): raised when the
    │                          Probe is built, never during an invocation
    └── BinsFileError          the bins file cannot be used (``path``, ``reason``): reported once on stderr and
                               counted; the probe then counts without bins
    ClientError                raised by YOUR handler: the caller sent something wrong (``status_code``, 4xx).
                               Not a ProbeError: it is the handler's answer, not a failure of the probe.
"""

from __future__ import annotations


class ProbeError(Exception):
    """Base of the probe's own errors."""


class ProbeConfigError(ProbeError):
    def __init__(self, message: str, *, field: str, value: object = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.value = value


class BinsFileError(ProbeError):
    def __init__(self, reason: str, *, path: str) -> None:
        super().__init__(f"bins file {path}: {reason}")
        self.path = path
        self.reason = reason


class ClientError(Exception):
    """Raise it in a handler for a request that is the caller's fault: the invocation counts as
    ``client_error`` and the HTTP adapters answer ``status_code`` with ``{"error": message}``."""

    def __init__(self, message: str = "bad request", *, status_code: int = 400) -> None:
        if not 400 <= status_code <= 499:
            raise ValueError(f"ClientError status_code must be 4xx, got {status_code}")
        super().__init__(message)
        self.status_code = status_code
