"""Errors of the shell (configuration and commands).

    InferwatchError
    └── ConfigError          inferwatch.toml is unreadable or invalid; ``field`` names the bad one
        └── InvalidNameError a deployment, service or version name that could not be a file name,
                             an id or a metric dimension (``inferwatch.names``); ``field`` and ``value``
"""

from __future__ import annotations


class InferwatchError(Exception):
    """Base of the shell's errors."""


class ConfigError(InferwatchError):
    def __init__(self, message: str, *, field: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.path = path


class InvalidNameError(ConfigError):
    def __init__(self, message: str, *, field: str, value: str) -> None:
        super().__init__(message, field=field)
        self.value = value
