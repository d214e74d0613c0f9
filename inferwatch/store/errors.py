"""Store errors.

    StoreError
    ├── StoreConfigError      bad URL or unsupported backend
    ├── StoreUnavailableError the database cannot be reached, or stayed locked past the busy timeout
    │   └── StoreSchemaError  a table this version reads is not there (a store made by an earlier
    │                         version that nothing has opened to upgrade yet)
    ├── StoreInputError       a record or query the store refuses (also a ValueError): a naive
    │                         datetime, a non-finite value, a step or resolution that does not fit
    └── StoreDataError        a stored row that cannot be read back (corrupted): ``table`` and ``key`` name it
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


class StoreSchemaError(StoreUnavailableError):
    """The database answered, but without a table this version reads: the rest of it can still be read."""


class StoreInputError(StoreError, ValueError):
    """``field`` names what was wrong (``start``, ``value``, ``resolution_s``...)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class StoreDataError(StoreError):
    """A stored row that cannot be read back: ``table`` and ``key`` name it, ``problem`` says why."""

    def __init__(self, table: str, key: str, problem: str) -> None:
        super().__init__(f"{table} row {key}: {problem}")
        self.table = table
        self.key = key
        self.problem = problem
