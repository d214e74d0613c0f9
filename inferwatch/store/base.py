"""What every part of the store shares: the engine, read and write transactions, and upserts.

The Store (``inferwatch.store.store``) is assembled from one class per concern (metrics, baselines,
kept numbers, alert records, quarantine, facts about the store), each a subclass of :class:`StoreBase`,
so every SQL statement of Inferwatch lives in this package and each file holds one concern.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Boolean, Engine, Float, Integer, Select, String, Table, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from inferwatch.store import tables as t
from inferwatch.store.engine import WRITE_OPTION, redact
from inferwatch.store.errors import StoreSchemaError, StoreUnavailableError

_UPSERT_CHUNK_ROWS = 5000


class StoreBase:
    """The engine and the transactions every concern of the store uses."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Pooled PostgreSQL connections are closed when the Store is dropped, not left to the GC.
        self._finalizer = weakref.finalize(self, engine.dispose)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.dispose()

    @property
    def url(self) -> str:
        return redact(self.engine.url.render_as_string(hide_password=False))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def database_path(self) -> str | None:
        """The SQLite database file, None for other backends and in-memory databases."""
        database = self.engine.url.database
        return database if self.dialect == "sqlite" and database and database != ":memory:" else None

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE). Commits on exit, rolls back on error."""
        try:
            with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
                yield conn
        except (OperationalError, PoolTimeoutError) as exc:
            raise StoreUnavailableError(f"store {self.url} unavailable: {_reason(exc)}") from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction: a consistent snapshot on SQLite; never blocks or is blocked by writers."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except (OperationalError, ProgrammingError, PoolTimeoutError) as exc:
            if _missing_table(exc):
                raise StoreSchemaError(f"store {self.url}: {_reason(exc)} (made by an earlier version; opening "
                                       "it with any other command upgrades it)") from exc
            if isinstance(exc, ProgrammingError):
                raise
            raise StoreUnavailableError(f"store {self.url} unavailable: {_reason(exc)}") from exc

    @contextmanager
    def session_lock(self, key: int) -> Iterator[bool]:
        """PostgreSQL: try a session advisory lock on its own connection, held for the block (yields
        whether it was taken; the server releases it if the process dies). Other backends: yields True
        (one machine: the caller serialises with a file lock)."""
        if self.dialect != "postgresql":
            yield True
            return
        try:
            with self.engine.connect() as conn:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one())
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
        except (OperationalError, PoolTimeoutError) as exc:
            raise StoreUnavailableError(f"store {self.url} unavailable: {_reason(exc)}") from exc

    def upsert(self, conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace rows by primary key (the idempotency guarantee)."""
        if not rows:
            return
        keys = [c.name for c in table.primary_key.columns]
        # One row per key (the last wins: PostgreSQL refuses to update a row twice in one statement),
        # in key order, which is lock order: two PostgreSQL writers cannot deadlock on shared rows.
        key_of = itemgetter(*keys)
        by_key = {key_of(row): row for row in rows}
        rows = [by_key[k] for k in sorted(by_key)]
        source = _unnest_source(table) if conn.dialect.name == "postgresql" else None
        if source is not None:  # one statement per chunk: arrays of each column, unnested by the server
            stmt = postgresql.insert(table).from_select([c.name for c in table.columns], source)
        else:
            stmt = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)
        updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=updates) if updates else (
            stmt.on_conflict_do_nothing(index_elements=keys)
        )
        for i in range(0, len(rows), _UPSERT_CHUNK_ROWS):  # chunks bound memory
            chunk = rows[i : i + _UPSERT_CHUNK_ROWS]
            if source is not None:
                conn.execute(stmt, {f"u_{c.name}": [row.get(c.name) for row in chunk] for c in table.columns})
            else:  # SQLite: executemany, in C
                conn.execute(stmt, chunk)

    def insert_new(self, conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows whose key is not there yet; rows already there are kept as they are."""
        if rows:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(dialect.insert(table).on_conflict_do_nothing(), list(rows))

    def ping(self) -> None:
        """Reach the database once (``config check``); :class:`StoreUnavailableError` when it does not answer."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def count(self, table: str) -> int:
        with self.read() as conn:
            return int(conn.execute(select(func.count()).select_from(t.metadata.tables[table])).scalar_one())


def _missing_table(exc: Exception) -> bool:
    """SQLite's "no such table", PostgreSQL's undefined_table (SQLSTATE 42P01)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "42P01" or "no such table" in str(orig or "")


# Column types PostgreSQL takes as arrays of bound values (JSON columns are written row by row).
_ARRAY_TYPES = (String, Integer, Float, Boolean)


def _unnest_source(table: Table) -> Select[Any] | None:
    """``SELECT * FROM unnest(:col1, :col2, ...)``: the rows of a chunk as one array per column, so a
    PostgreSQL upsert of 5,000 rows is one statement, not 5,000 pipelined ones (psycopg 3's
    executemany; SQLAlchemy batches multi-row VALUES only with RETURNING). None when a column type
    does not go in an array."""
    if not all(isinstance(c.type, _ARRAY_TYPES) for c in table.columns):
        return None
    arrays = [bindparam(f"u_{c.name}", type_=postgresql.ARRAY(c.type)) for c in table.columns]
    rows = func.unnest(*arrays).table_valued(*[c.name for c in table.columns]).render_derived()
    return select(*[rows.c[c.name] for c in table.columns])


def _reason(exc: OperationalError | ProgrammingError | PoolTimeoutError) -> str:
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())  # one line: libpq puts hints on their own
