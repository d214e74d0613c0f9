"""Engine construction: SQLite in WAL mode by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
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
    except ArgumentError:
        return "<unparseable store url>"


def load_json(text: str | bytes) -> Any:
    """JSON columns are read with orjson (histogram counts dominate what pages read: several times
    faster than the standard library); anything orjson refuses, such as the NaN tokens Python's json
    writes, falls back to the standard parser, so every stored document still reads."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def build_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreConfigError(f"store URL is not a SQLAlchemy URL: {redact(url)}", url=redact(url)) from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10, json_deserializer=load_json)
    raise StoreConfigError(
        f"store backend {parsed.get_backend_name()!r} is not supported (use sqlite or postgresql)",
        url=redact(url),
    )


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
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
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
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
