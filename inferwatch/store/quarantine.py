"""Inputs the collectors set aside: a telemetry line that is not JSON, one dated ten years ago or a
year ahead, one whose numbers cannot be real. The operator sees how many and a sample of where and why.

``quarantine`` keeps a bounded sample, the newest :data:`KEEP_PER_COLLECTOR` rows per collector; each
input is one row (its id hashes collector, source and position, and a row already there keeps its
first sighting). ``quarantine_counts`` keeps each collector's running total. Both are written in the
transaction of the batch that set the inputs aside, so a failed run leaves neither behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import BigInteger, Column, Index, String, Table, Text, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from inferwatch.schema import QuarantinedRecord
from inferwatch.store.base import StoreBase
from inferwatch.store.tables import from_epoch, metadata

KEEP_PER_COLLECTOR = 1000
MAX_SOURCE_CHARS = 1000
MAX_REASON_CHARS = 500

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of collector, source and position
    Column("collector", String(255), nullable=False),
    Column("source", Text, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("first_seen", BigInteger, nullable=False),
)
Index("ix_quarantine_collector_seen", quarantine.c.collector, quarantine.c.first_seen)

quarantine_counts = Table(
    "quarantine_counts",
    metadata,
    Column("collector", String(255), primary_key=True),
    Column("record_count", BigInteger, nullable=False),  # every input set aside, each counted once
    Column("last_at", BigInteger, nullable=False),
)


class QuarantineEntry(NamedTuple):
    collector: str
    source: str
    position: int
    reason: str
    first_seen: datetime


def storable(text: str, limit: int) -> str:
    """Text any backend stores: file names may hold undecodable bytes (surrogates) and lines NULs,
    which PostgreSQL refuses; both become visible escapes. Long text keeps its start and its end."""
    clean = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return clean if len(clean) <= limit else clean[: limit // 2 - 2] + " .. " + clean[-(limit // 2 - 2):]


def save(conn: Connection, collector: str, sample: Sequence[QuarantinedRecord], count: int, at_s: int) -> None:
    """Add a run's quarantined inputs: ``count`` of them, ``sample`` the ones to keep in detail."""
    rows = {}
    for r in sample:
        source = storable(r.source, MAX_SOURCE_CHARS)
        key = hashlib.sha256(f"{collector}\x1f{source}\x1f{r.position}".encode()).hexdigest()[:32]
        rows[key] = {"id": key, "collector": collector, "source": source, "position": int(r.position),
                     "reason": storable(r.reason, MAX_REASON_CHARS), "first_seen": at_s}
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    if rows:
        insert = dialect.insert(quarantine).on_conflict_do_nothing(index_elements=["id"])
        conn.execute(insert, [rows[k] for k in sorted(rows)])
        newest = (select(quarantine.c.id).where(quarantine.c.collector == collector)
                  .order_by(quarantine.c.first_seen.desc(), quarantine.c.id.desc()).limit(KEEP_PER_COLLECTOR))
        conn.execute(delete(quarantine).where(quarantine.c.collector == collector,
                                              quarantine.c.id.not_in(newest.scalar_subquery())))
    total = dialect.insert(quarantine_counts).values(collector=collector, record_count=count, last_at=at_s)
    conn.execute(total.on_conflict_do_update(index_elements=["collector"], set_={
        "record_count": quarantine_counts.c.record_count + total.excluded.record_count,
        "last_at": total.excluded.last_at}))


def load_entries(conn: Connection, collector: str | None, limit: int) -> list[QuarantineEntry]:
    q = quarantine
    stmt = select(q.c.collector, q.c.source, q.c.position, q.c.reason, q.c.first_seen)
    if collector is not None:
        stmt = stmt.where(q.c.collector == collector)
    rows = conn.execute(stmt.order_by(q.c.first_seen.desc(), q.c.source, q.c.position).limit(limit)).all()
    return [QuarantineEntry(c, s, int(p), r, from_epoch(t)) for c, s, p, r, t in rows]


def load_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(quarantine_counts.c.collector, quarantine_counts.c.record_count)).all()
    return {collector: int(n) for collector, n in rows}


class QuarantineStore(StoreBase):
    """Reading what collectors set aside (:func:`save` writes it inside a batch's transaction)."""

    def load_quarantine(self, *, collector: str | None = None, limit: int = 100) -> list[QuarantineEntry]:
        """The newest inputs collectors set aside (a bounded sample), newest first."""
        with self.read() as conn:
            return load_entries(conn, collector, limit)

    def quarantine_counts(self) -> dict[str, int]:
        """Per collector, every input it ever set aside (each counted once)."""
        with self.read() as conn:
            return load_counts(conn)
