"""Engine construction: SQLite in WAL mode by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from inferwatch.store.errors import StoreConfigError

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "inferwatch_write"


def default_url(home: Path) -> str:
    return f"sqlite:///{(home / 'inferwatch.db').resolve()}"


def store_url_from_env(home: Path, env: Mapping[str, str] = os.environ) -> str:
    return env.get("INFERWATCH_STORE_URL") or default_url(home)


def redact(url: str) -> str:
    """The URL with its password hidden, for logs and the dashboard."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return "<unparseable store url>"


def load_json(text: str | bytes) -> Any:
    """JSON columns are read with orjson (histogram counts dominate what pages read: several times
    faster than the standard library); anything orjson refuses, such as the NaN tokens Python's json
    writes, falls back to the standard parser, so every stored document still reads."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


# The drivers installed with Inferwatch; any other would fail on import, at the first connection.
SUPPORTED_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")


def parse_store_url(url: str) -> URL:
    """The parsed URL of a store Inferwatch can open; :class:`StoreConfigError` for anything else,
    before anything connects (``Runtime`` checks it when a command starts)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreConfigError(f"store URL is not a SQLAlchemy URL: {redact(url)}", url=redact(url)) from exc
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise StoreConfigError(f"store driver {parsed.drivername!r} is not supported (use sqlite:///PATH or "
                               "postgresql://...)", url=redact(url))
    if "\x00" in url:
        raise StoreConfigError("store URL contains a NUL character", url=redact(url))
    if parsed.get_backend_name() == "sqlite" and (not parsed.database or parsed.database == ":memory:"
                                                  or parsed.query or parsed.host):
        # In memory, every connection would see its own empty database; query options are ignored.
        raise StoreConfigError(f"a SQLite store URL is sqlite:///PATH, got {redact(url)}", url=redact(url))
    return parsed


def build_engine(url: str, *, lock_wait_s: float | None = None) -> Engine:
    """The engine for ``url``. ``lock_wait_s`` bounds how long a statement waits for a lock another
    process holds (SQLite's busy timeout; PostgreSQL's lock and statement timeouts, and the wait for
    a connection): a reader that must answer quickly (the exporter) gets an error instead of hanging
    behind a migration. Default: SQLite waits 30 s, PostgreSQL as the server says."""
    parsed = parse_store_url(url)
    if parsed.get_backend_name() == "sqlite":
        busy_ms = SQLITE_BUSY_TIMEOUT_MS if lock_wait_s is None else max(1, int(lock_wait_s * 1000))
        return _sqlite_engine(url, busy_ms)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if lock_wait_s is None:
        return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10, json_deserializer=load_json)
    engine = create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10, json_deserializer=load_json,
                           pool_timeout=lock_wait_s, connect_args={"connect_timeout": max(1, math.ceil(lock_wait_s))})
    wait_ms = max(1, int(lock_wait_s * 1000))

    @event.listens_for(engine, "connect")
    def _bounded_waits(dbapi_connection: Any, _record: Any) -> None:
        # SET on each new connection (the URL's own ``options``, e.g. a search_path, stay as they are).
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {wait_ms}")
            cursor.execute(f"SET statement_timeout = {2 * wait_ms}")
        dbapi_connection.commit()

    return engine


def _sqlite_engine(url: str, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreConfigError(f"cannot make the folder of the SQLite store {redact(url)}: "
                                   f"{exc.strerror or exc}", url=redact(url)) from exc
    # NullPool: every connection is fresh, so forked processes and threads never share one.
    engine = create_engine(url, poolclass=NullPool, connect_args={"check_same_thread": False},
                           json_deserializer=load_json)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions defeat BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # busy_timeout first: switching a fresh file to WAL takes a lock that another process
        # opening the same file at the same moment may hold.
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that upgrades later can
        # fail with "database is locked" without waiting for busy_timeout.
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine
