"""Store errors.

    StoreError
    ├── StoreConfigError      bad URL or unsupported backend
    └── StoreUnavailableError the database cannot be reached or stayed locked
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store error."""


class StoreConfigError(StoreError):
    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class StoreUnavailableError(StoreError):
    pass
