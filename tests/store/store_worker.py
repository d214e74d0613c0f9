"""Child processes for the store tests: run with ``python -m tests.store.store_worker MODE URL ...``.

Modes:
  midway URL MARKER            write one large batch; after a few statements of it, touch MARKER and
                               hang inside the transaction until killed
  collector URL SECONDS OUT    a collector: write_batch of a new step every ~250 ms (every fifth run
                               re-writes an older step too), stats to OUT as JSON
  alerts URL SECONDS OUT       an alert job: read recent metrics, upsert its own state rows and append
                               one evaluation row per run, in its own tables
  reader URL SECONDS OUT N     a dashboard: N threads loading rollups, raw ranges, histograms and runs
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, Float, Integer, MetaData, String, Table, event, func, select

from inferwatch.schema import CollectionBatch, CollectionRun, Deployment, HistogramPoint, Metric, MetricPoint
from inferwatch.store import Store

T0 = datetime(2026, 1, 5, tzinfo=UTC)
DEPLOYMENTS = tuple(f"local:test:model-{i}" for i in range(4))
METRICS = (Metric.INVOCATIONS, Metric.LATENCY_P50, Metric.LATENCY_P95, Metric.COLD_STARTS, Metric.MEMORY_MAX_USED)
ALERT_STATE_ROWS = 20

alert_metadata = MetaData()
alert_states = Table("test_alert_states", alert_metadata, Column("fingerprint", String(32), primary_key=True),
                     Column("value", Float, nullable=False), Column("evaluated_at", BigInteger, nullable=False))
alert_evaluations = Table("test_alert_evaluations", alert_metadata, Column("id", String(32), primary_key=True),
                          Column("seq", Integer, nullable=False))


def value_of(deployment: str, metric: str, step: int) -> float:
    """Deterministic: a re-written step carries the same values, so totals are predictable."""
    return float((step * 7 + len(metric) * 3 + DEPLOYMENTS.index(deployment) * 11) % 97 + 1)


def step_batch(step: int, *, collector: str = "collector-under-test",
               value: Callable[[str, str, int], float] = value_of) -> CollectionBatch:
    start = T0 + timedelta(minutes=step)
    points = tuple(MetricPoint(d, m.value, start, 60, value(d, m.value, step)) for d in DEPLOYMENTS for m in METRICS)
    histograms = tuple(HistogramPoint(d, "score", start, 60, "b1", {"counts": [step % 5, 1, 2]})
                       for d in DEPLOYMENTS)
    deployments = tuple(Deployment(d, "local", "test", d.rsplit(":", 1)[1], "model") for d in DEPLOYMENTS)
    return CollectionBatch(collector, deployments, points, histograms, cursor={"step": step})


def run_record(collector: str = "collector-under-test") -> CollectionRun:
    now = datetime.now(UTC)
    return CollectionRun(uuid.uuid4().hex, collector, now, now, "ok")


def _errors_of(fn: Callable[[], None], errors: list[str]) -> bool:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - every failure is counted: the test asserts there are none
        errors.append(f"{type(exc).__name__}: {exc}"[:300])
        return False
    return True


def midway(url: str, marker: str) -> None:
    store = Store.open(url)
    statements = 0

    @event.listens_for(store.engine, "after_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal statements
        if "metric_points" in statement and statement.lstrip().upper().startswith("INSERT"):
            statements += 1
            if statements == 3:  # inside write_batch's transaction, with rows already sent
                Path(marker).write_text("inside")
                time.sleep(120)

    start = T0 + timedelta(hours=1)
    points = tuple(MetricPoint(f"local:test:bulk-{i % 50}", Metric.INVOCATIONS.value,
                               start + timedelta(minutes=i // 50), 60, 1.0) for i in range(5000))
    rewrite = tuple(MetricPoint(d, m.value, T0, 60, 999.0) for d in DEPLOYMENTS for m in METRICS)
    store.write_batch(CollectionBatch("collector-under-test", (), rewrite + points, cursor={"step": 999}),
                      run_record())


def collector(url: str, seconds: float, out: str) -> None:
    store = Store.open(url)
    deadline = time.monotonic() + seconds
    committed, calls, errors = 0, 0, list[str]()
    while time.monotonic() < deadline:
        if _errors_of(partial(store.write_batch, step_batch(committed), run_record()), errors):
            committed += 1
            calls += 1
        if committed % 5 == 0 and committed >= 3:
            # A late re-collection of an older step; the cursor stays at the newest step.
            late = dataclasses.replace(step_batch(committed - 3), cursor={"step": committed - 1})
            calls += _errors_of(partial(store.write_batch, late, run_record()), errors)
        time.sleep(0.25)
    Path(out).write_text(json.dumps({"committed": committed, "calls": calls, "errors": errors}))


def alerts(url: str, seconds: float, out: str) -> None:
    store = Store.open(url)
    with store.write() as conn:
        alert_metadata.create_all(conn)
    deadline = time.monotonic() + seconds
    evaluations, errors = 0, list[str]()

    def evaluate() -> None:
        points = store.load_metrics(metrics=[Metric.INVOCATIONS.value], start=T0, end=T0 + timedelta(days=1))
        total = sum(p.value for p in points)
        with store.write() as conn:
            store.upsert(conn, alert_states, [{"fingerprint": f"fp{i}", "value": total + i,
                                               "evaluated_at": evaluations} for i in range(ALERT_STATE_ROWS)])
            store.upsert(conn, alert_evaluations, [{"id": f"eval-{evaluations}", "seq": evaluations}])

    while time.monotonic() < deadline:
        evaluations += _errors_of(evaluate, errors)
        time.sleep(0.3)
    Path(out).write_text(json.dumps({"evaluations": evaluations, "errors": errors}))


def reader(url: str, seconds: float, out: str, threads: int) -> None:
    store = Store.open(url)
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    stats: dict[str, Any] = {"queries": 0, "errors": [], "shrank": 0}

    def loop() -> None:
        last_total = 0.0
        while time.monotonic() < deadline:
            totals: list[float] = []

            def read_all(totals: list[float] = totals) -> None:
                hourly = store.load_metrics(metrics=[Metric.INVOCATIONS.value, Metric.LATENCY_P95.value],
                                            start=T0, end=T0 + timedelta(days=2), resolution_s=3600)
                totals.append(sum(p.value for p in hourly if p.metric == Metric.INVOCATIONS.value))
                store.load_metrics(start=T0, end=T0 + timedelta(days=1))
                store.load_histograms(signals=["score"])
                store.load_runs(limit=5)
                store.load_cursor("collector-under-test")

            ok = _errors_of(read_all, stats["errors"])
            with lock:
                stats["queries"] += 5 if ok else 0
                # Committed rows never disappear: the invocation total only grows.
                stats["shrank"] += 1 if ok and totals[0] < last_total else 0
            last_total = totals[0] if ok else last_total
            time.sleep(0.05)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    Path(out).write_text(json.dumps(stats))


def count_rows(store: Store, table: Table) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def main(argv: list[str]) -> None:
    mode, url, *rest = argv
    if mode == "midway":
        midway(url, rest[0])
    elif mode == "collector":
        collector(url, float(rest[0]), rest[1])
    elif mode == "alerts":
        alerts(url, float(rest[0]), rest[1])
    elif mode == "reader":
        reader(url, float(rest[0]), rest[1], int(rest[2]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
