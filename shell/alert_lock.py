"""Single-flight for the alert job: two overlapping runs must never both send.

SQLite stores (one machine): a non-blocking ``flock`` on a file beside the database. PostgreSQL
stores (several machines may run the job): a session advisory lock held on its own connection.
Both are released by the operating system or the server when the process dies, so a killed run
never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alerts.errors import LockHeldError
from inferwatch.store import Store

ADVISORY_LOCK_KEY = 0x1F_A1E7  # constant: every inferwatch alert job on this database shares it


def lock_path(store: Store, home: Path) -> Path:
    database = store.database_path
    if database is not None:
        return Path(database).with_name(Path(database).name + ".alerts.lock")
    return home / "shell.alert_lock"


@contextmanager
def job_lock(store: Store, home: Path) -> Iterator[None]:
    """Hold the job lock for the block, or raise :class:`LockHeldError` at once."""
    if store.dialect == "postgresql":
        with _advisory_lock(store):
            yield
        return
    path = lock_path(store, home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LockHeldError(f"another alert run holds {path}", lock=str(path)) from exc
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def _advisory_lock(store: Store) -> Iterator[None]:
    with store.session_lock(ADVISORY_LOCK_KEY) as got:
        if not got:
            raise LockHeldError("another alert run holds the PostgreSQL advisory lock", lock="postgresql")
        yield
