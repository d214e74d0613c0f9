"""Errors of the shell (configuration and commands).

    InferwatchError
    └── ConfigError   inferwatch.toml is unreadable or invalid; ``field`` names the bad one
"""

from __future__ import annotations


class InferwatchError(Exception):
    """Base of the shell's errors."""


class ConfigError(InferwatchError):
    def __init__(self, message: str, *, field: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.path = path
