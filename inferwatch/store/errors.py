"""Store errors.

    StoreError
    ├── StoreConfigError      bad URL or unsupported backend
    ├── StoreUnavailableError the database cannot be reached, or stayed locked past the busy timeout
    └── StoreInputError       a record or query the store refuses (also a ValueError): a naive
                              datetime, a non-finite value, a step or resolution that does not fit
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


class StoreInputError(StoreError, ValueError):
    """``field`` names what was wrong (``start``, ``value``, ``resolution_s``...)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field
