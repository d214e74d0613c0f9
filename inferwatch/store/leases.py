"""``collector_leases``: which collector process collects which unit (an AWS account-region, a Cloud
Run service, the local home), so several processes sharing one store, on several hosts of one
PostgreSQL, split the units between them and never collect one unit twice at the same time.

A lease is a row per unit: its holder (one process's collection round), the host, and when it expires.
Every time is the database's clock, never a host's, so hosts whose clocks disagree still agree on who
holds what. Taking a lease is one upsert that succeeds only when the row is free (expired, or released)
and the unit has not been collected by anyone since the taker's round began; so two processes started
together collect each unit once between them, while a later ``inferwatch collect`` collects again. A
holder renews its leases while it works (:meth:`LeaseStore.renew_leases`), and the collection's write
checks in its own transaction that the lease is still its own (:func:`hold`): a holder that stalled past
the expiry and lost its unit to another process writes nothing. A holder that dies stops renewing, and
its units are taken over once the lease expires. On SQLite (one machine) the same table does the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ColumnElement, Integer, String, Table, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import literal_column

from inferwatch.store.base import StoreBase
from inferwatch.store.errors import StoreError, StoreInputError
from inferwatch.store.tables import metadata

collector_leases = Table(
    "collector_leases",
    metadata,
    Column("unit", String(255), primary_key=True),  # the collector's name
    Column("holder", String(255), nullable=False),  # one process's round: host, pid and a random part
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at_ms", BigInteger, nullable=False),
    Column("expires_at_ms", BigInteger, nullable=False),  # released: set to the release time
    Column("finished_at_ms", BigInteger),  # when the holder's last run of the unit ended
)


class LeaseLostError(StoreError):
    """A write for ``unit`` by ``holder``, after another process took the unit over (the lease had
    expired: the holder stalled or lost the database for longer than the lease)."""

    def __init__(self, unit: str, holder: str) -> None:
        super().__init__(f"{unit}: another collector took this unit over after its lease expired; nothing written")
        self.unit = unit
        self.holder = holder


@dataclass(frozen=True, slots=True)
class Lease:
    """One unit's lease as stored."""

    unit: str
    holder: str
    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime
    finished_at: datetime | None

    def held_at(self, now: datetime) -> bool:
        """Whether a process holds it at ``now``: taken, not expired, and not given back since."""
        returned = self.finished_at is not None and self.finished_at >= self.acquired_at
        return not returned and self.expires_at > now


@dataclass(frozen=True, slots=True)
class LeaseToken:
    """What a holder proves a write with: the unit and its own holder id."""

    unit: str
    holder: str
    lease_s: float


@dataclass(frozen=True, slots=True)
class LeaseRefusal:
    """A unit not taken: held by another process, or collected since this round began."""

    lease: Lease
    collected_this_round: bool

    def describe(self) -> str:
        who = f"{self.lease.host} (pid {self.lease.pid})"
        if self.collected_this_round and self.lease.finished_at is not None:
            return f"collected by {who} at {self.lease.finished_at:%H:%M:%S} during this round"
        return f"held by {who} until {self.lease.expires_at:%H:%M:%S}"


def now_ms(conn: Connection) -> ColumnElement[int]:
    """The database's clock in epoch milliseconds, as an SQL expression."""
    if conn.dialect.name == "postgresql":
        return literal_column("CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)")
    return literal_column("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)")


def _ms(lease_s: float) -> int:
    if not lease_s > 0:
        raise StoreInputError(f"lease_s must be positive, got {lease_s}", field="lease_s")
    return round(lease_s * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _lease(row: Row[Any]) -> Lease:
    m = row._mapping
    finished = m["finished_at_ms"]
    return Lease(str(m["unit"]), str(m["holder"]), str(m["host"]), int(m["pid"]), _time(int(m["acquired_at_ms"])),
                 _time(int(m["expires_at_ms"])), None if finished is None else _time(int(finished)))


def hold(conn: Connection, token: LeaseToken) -> None:
    """In a write transaction: extend ``token``'s lease, or raise :class:`LeaseLostError` when another
    holder has it. On PostgreSQL the row stays locked until the write commits, so no one can take the
    unit over between this check and the commit."""
    c = collector_leases.c
    moved = conn.execute(update(collector_leases).where(c.unit == token.unit, c.holder == token.holder)
                         .values(expires_at_ms=now_ms(conn) + _ms(token.lease_s)))
    if moved.rowcount != 1:
        raise LeaseLostError(token.unit, token.holder)


class LeaseStore(StoreBase):
    """``collector_leases``: who collects which unit."""

    def lease_clock(self) -> datetime:
        """The database's time (the clock every lease is measured on)."""
        with self.read() as conn:
            return _time(int(conn.execute(select(now_ms(conn))).scalar_one()))

    def try_lease(self, unit: str, *, holder: str, host: str, pid: int, lease_s: float,
                  round_started: datetime) -> LeaseToken | LeaseRefusal:
        """Take ``unit`` for ``lease_s`` seconds, unless another process holds it or it was collected
        since ``round_started`` (a time of :meth:`lease_clock`)."""
        c = collector_leases.c
        since_ms = round(round_started.timestamp() * 1000)
        with self.write() as conn:
            now = now_ms(conn)
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(collector_leases).values(
                unit=unit, holder=holder, host=host, pid=pid, acquired_at_ms=now, expires_at_ms=now + _ms(lease_s),
                finished_at_ms=None)
            free = and_(or_(c.expires_at_ms <= now, c.holder == holder),
                        or_(c.finished_at_ms.is_(None), c.finished_at_ms < since_ms))
            stmt = stmt.on_conflict_do_update(index_elements=[c.unit], where=free, set_={
                "holder": stmt.excluded.holder, "host": stmt.excluded.host, "pid": stmt.excluded.pid,
                "acquired_at_ms": stmt.excluded.acquired_at_ms, "expires_at_ms": stmt.excluded.expires_at_ms})
            taken = conn.execute(stmt.returning(c.unit)).first() is not None
            if taken:
                return LeaseToken(unit, holder, lease_s)
            row = conn.execute(select(*collector_leases.c).where(c.unit == unit)).one()
        lease = _lease(row)
        done = lease.finished_at is not None and lease.finished_at.timestamp() * 1000 >= since_ms
        return LeaseRefusal(lease, collected_this_round=done)

    def renew_leases(self, holder: str, units: Sequence[str], lease_s: float) -> set[str]:
        """Extend ``holder``'s leases of ``units``; returns the units it still holds. A lease whose row a
        write of this holder has locked is skipped on PostgreSQL (that write extends it itself), so a
        long write never holds up the renewal of the other units."""
        if not units:
            return set()
        c = collector_leases.c
        with self.write() as conn:
            mine = and_(c.holder == holder, c.unit.in_(sorted(units)))
            if conn.dialect.name == "postgresql":
                free = select(c.unit).where(mine).with_for_update(skip_locked=True)
                conn.execute(update(collector_leases).where(c.unit.in_(free))
                             .values(expires_at_ms=now_ms(conn) + _ms(lease_s)))
            else:
                conn.execute(update(collector_leases).where(mine).values(expires_at_ms=now_ms(conn) + _ms(lease_s)))
            return {str(u) for u in conn.execute(select(c.unit).where(mine)).scalars()}

    def release_lease(self, token: LeaseToken) -> None:
        """Give the unit back (expired now), noting that its run ended now: other processes of the same
        round skip it."""
        c = collector_leases.c
        with self.write() as conn:
            now = now_ms(conn)
            conn.execute(update(collector_leases).where(c.unit == token.unit, c.holder == token.holder)
                         .values(expires_at_ms=now, finished_at_ms=now))

    def load_leases(self) -> list[Lease]:
        """Every unit's lease, by unit."""
        with self.read() as conn:
            rows = conn.execute(select(*collector_leases.c).order_by(collector_leases.c.unit)).all()
        return [_lease(r) for r in rows]
