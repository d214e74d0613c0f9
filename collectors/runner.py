"""Run collectors: in parallel across accounts and regions, each run one transaction, a failing or
denied provider recorded and shown while the others still land.

Each collector is one unit of work, named by ``collector.name`` (an AWS account-region, a Cloud Run
service, the local home). A round leases each unit in the store before collecting it
(``inferwatch.store.leases``), so collector processes sharing one store, on one host or several, split
the units between them: a unit another process holds, or has collected since this round began, is
skipped and reported, never collected twice. The leases are renewed while the round works on them and
released when each unit's run ends; a process that dies leaves its leases to expire, and the next
round anywhere takes its units over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collectors.base import Collector
from collectors.errors import CollectorError
from inferwatch.schema import CollectionRun, RunStatus
from inferwatch.store import LeaseLostError, LeaseRefusal, LeaseToken, Store, StoreError, StoreInputError

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DEFAULT_LEASE_S = 60.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def run_one(store: Store, collector: Collector, *, clock: Clock = _utcnow,
            lease: LeaseToken | None = None) -> CollectionRun:
    """Collect once and write the batch, its cursor and the run record atomically.

    A collector error is recorded as a failed run (never raised): the caller shows it. With ``lease``,
    the write happens only while the lease is still this round's.
    """
    started = clock()
    run_id = uuid.uuid4().hex
    try:
        cursor = store.load_cursor(collector.name)
        batch = collector.collect(started, cursor)
    except CollectorError as exc:
        return _failed(store, CollectionRun(run_id, collector.name, started, clock(), RunStatus.FAILED,
                                            error=f"{type(exc).__name__}: {exc}"))
    except Exception as exc:  # a bug in one collector must not stop the others; it is recorded
        log.exception("collector %s crashed", collector.name)
        return _failed(store, CollectionRun(run_id, collector.name, started, clock(), RunStatus.FAILED,
                                            error=f"internal error {type(exc).__name__}: {exc}"))
    written = len(batch.points) + len(batch.histograms) + len(batch.costs)
    starts = [p.start for p in batch.points]
    run = CollectionRun(
        run_id, collector.name, started, clock(), RunStatus.PARTIAL if batch.warnings else RunStatus.OK,
        window_start=min(starts) if starts else None, window_end=max(starts) if starts else None,
        points_written=written, warnings=tuple(batch.warnings[:50]),
    )
    try:
        store.write_batch(batch, run, lease=lease)
    except StoreInputError as exc:  # a record the store refuses: the run is recorded as failed, not raised
        log.error("collector %s returned a record the store refuses: %s", collector.name, exc)
        return _failed(store, CollectionRun(run_id, collector.name, started, clock(), RunStatus.FAILED,
                                            error=f"refused by the store: {exc}"))
    except LeaseLostError as exc:  # this round stalled past its lease and another took the unit over
        log.warning("%s", exc)
        return _failed(store, CollectionRun(run_id, collector.name, started, clock(), RunStatus.FAILED,
                                            error=str(exc)))
    return run


def _failed(store: Store, run: CollectionRun) -> CollectionRun:
    store.record_run(run)
    return run


@dataclass(frozen=True, slots=True)
class Round:
    """What one round did: the runs of the units it collected, and the units it left to others."""

    runs: list[CollectionRun] = field(default_factory=list)
    skipped: list[LeaseRefusal] = field(default_factory=list)


class _Renewer:
    """Renews the round's leases every third of their length while their units are collected."""

    def __init__(self, store: Store, holder: str, lease_s: float) -> None:
        self._store, self._holder, self._lease_s = store, holder, lease_s
        self._units: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-renewer", daemon=True)

    def __enter__(self) -> _Renewer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def add(self, unit: str) -> None:
        with self._lock:
            self._units.add(unit)

    def discard(self, unit: str) -> None:
        with self._lock:
            self._units.discard(unit)

    def _loop(self) -> None:
        while not self._stop.wait(self._lease_s / 3):
            with self._lock:
                units = sorted(self._units)
            try:
                lost = set(units) - self._store.renew_leases(self._holder, units, self._lease_s)
            except StoreError as exc:  # the write checks the lease anyway; try again next time
                log.warning("collector leases not renewed: %s", exc)
                continue
            for unit in sorted(lost):
                log.warning("%s: lease lost to another collector; this round's write will be refused", unit)


@dataclass(frozen=True, slots=True)
class _Holder:
    """One round of one process, as the lease table names it."""

    id: str
    host: str
    pid: int
    lease_s: float
    started: datetime

    @classmethod
    def new(cls, store: Store, lease_s: float, round_s: float | None) -> _Holder:
        host, pid = socket.gethostname(), os.getpid()
        started = store.lease_clock()
        if round_s is not None:  # the start of the interval we are in, the same for every host
            started = datetime.fromtimestamp(started.timestamp() // round_s * round_s, tz=UTC)
        return cls(f"{host}:{pid}:{uuid.uuid4().hex[:12]}", host, pid, lease_s, started)


def _run_unit(store: Store, collector: Collector, holder: _Holder, renewer: _Renewer,
              clock: Clock) -> CollectionRun | LeaseRefusal:
    got = store.try_lease(collector.name, holder=holder.id, host=holder.host, pid=holder.pid,
                          lease_s=holder.lease_s, round_started=holder.started)
    if isinstance(got, LeaseRefusal):
        return got
    renewer.add(got.unit)
    try:
        return run_one(store, collector, clock=clock, lease=got)
    finally:
        renewer.discard(got.unit)
        try:
            store.release_lease(got)
        except StoreError as exc:  # it expires by itself; meanwhile no one else collects the unit
            log.warning("%s: lease not released: %s", got.unit, exc)


def run_round(
    store: Store,
    collectors: Sequence[Collector],
    *,
    workers: int = 4,
    clock: Clock = _utcnow,
    lease_s: float = DEFAULT_LEASE_S,
    round_s: float | None = None,
    on_done: Callable[[CollectionRun], None] | None = None,
    on_skip: Callable[[LeaseRefusal], None] | None = None,
) -> Round:
    """Run every collector whose unit this round can lease, ``workers`` at a time (runs in completion
    order); the others are skipped: another process holds them, or collected them during this round.

    The round began when this call did, or with ``round_s``, at the start of the ``round_s``-long
    interval of the store's clock it is in: processes started by a schedule of that period agree on
    it, however far apart their clocks or start-ups are, and collect each unit once per interval."""
    holder = _Holder.new(store, lease_s, round_s)
    result = Round()
    with _Renewer(store, holder.id, lease_s) as renewer, \
            ThreadPoolExecutor(max_workers=max(1, min(workers, len(collectors) or 1))) as pool:
        futures = [pool.submit(_run_unit, store, c, holder, renewer, clock) for c in collectors]
        for future in as_completed(futures):
            outcome = future.result()
            if isinstance(outcome, LeaseRefusal):
                result.skipped.append(outcome)
                if on_skip is not None:
                    on_skip(outcome)
                continue
            result.runs.append(outcome)
            if on_done is not None:
                on_done(outcome)
    return result


def run_all(
    store: Store,
    collectors: Sequence[Collector],
    *,
    workers: int = 4,
    clock: Clock = _utcnow,
    on_done: Callable[[CollectionRun], None] | None = None,
) -> list[CollectionRun]:
    """:func:`run_round`'s runs (the units another process held are left out)."""
    return run_round(store, collectors, workers=workers, clock=clock, on_done=on_done).runs
