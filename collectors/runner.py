"""Run collectors: in parallel across accounts and regions, each run one transaction, a failing or
denied provider recorded and shown while the others still land."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime

from collectors.base import Collector
from collectors.errors import CollectorError
from inferwatch.schema import CollectionRun, RunStatus
from inferwatch.store import Store, StoreInputError

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def run_one(store: Store, collector: Collector, *, clock: Clock = _utcnow) -> CollectionRun:
    """Collect once and write the batch, its cursor and the run record atomically.

    A collector error is recorded as a failed run (never raised): the caller shows it.
    """
    started = clock()
    run_id = uuid.uuid4().hex
    try:
        cursor = store.load_cursor(collector.name)
        batch = collector.collect(started, cursor)
    except CollectorError as exc:
        run = CollectionRun(run_id, collector.name, started, clock(), RunStatus.FAILED,
                            error=f"{type(exc).__name__}: {exc}")
        store.record_run(run)
        return run
    except Exception as exc:  # a bug in one collector must not stop the others; it is recorded
        log.exception("collector %s crashed", collector.name)
        run = CollectionRun(run_id, collector.name, started, clock(), RunStatus.FAILED,
                            error=f"internal error {type(exc).__name__}: {exc}")
        store.record_run(run)
        return run
    written = len(batch.points) + len(batch.histograms) + len(batch.costs)
    starts = [p.start for p in batch.points]
    run = CollectionRun(
        run_id, collector.name, started, clock(), RunStatus.PARTIAL if batch.warnings else RunStatus.OK,
        window_start=min(starts) if starts else None, window_end=max(starts) if starts else None,
        points_written=written, warnings=tuple(batch.warnings[:50]),
    )
    try:
        store.write_batch(batch, run)
    except StoreInputError as exc:  # a record the store refuses: the run is recorded as failed, not raised
        log.error("collector %s returned a record the store refuses: %s", collector.name, exc)
        run = CollectionRun(run_id, collector.name, started, clock(), RunStatus.FAILED,
                            error=f"refused by the store: {exc}")
        store.record_run(run)
    return run


def run_all(
    store: Store,
    collectors: Sequence[Collector],
    *,
    workers: int = 4,
    clock: Clock = _utcnow,
    on_done: Callable[[CollectionRun], None] | None = None,
) -> list[CollectionRun]:
    """Run every collector, ``workers`` at a time; returns the runs in completion order."""
    runs: list[CollectionRun] = []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(collectors) or 1))) as pool:
        futures = [pool.submit(run_one, store, c, clock=clock) for c in collectors]
        for future in as_completed(futures):
            run = future.result()
            runs.append(run)
            if on_done is not None:
                on_done(run)
    return runs
