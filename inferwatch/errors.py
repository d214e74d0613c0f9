"""Errors of the shell (configuration and commands).

    InferwatchError
    ├── ConfigError          inferwatch.toml is unreadable or invalid; ``field`` names the bad one
    │   └── InvalidNameError a deployment, service or version name that could not be a file name,
    │                        an id or a metric dimension (``inferwatch.names``); ``field`` and ``value``
    └── PathError            a folder given by the user (``what``: --home, INFERWATCH_HOME, --out) that
                             cannot be used: not a folder, not reachable, not writable
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


class PathError(InferwatchError):
    def __init__(self, what: str, path: object, problem: str) -> None:
        super().__init__(f"{what} {path}: {problem}")
        self.what = what
        self.path = str(path)
        self.problem = problem
