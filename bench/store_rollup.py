"""Benchmark: the dashboard's 30-day view (50 deployments of 1-minute data at 1-hour resolution).

Three ways, measured in the same run on the same store:
  baseline      load the raw minute points and aggregate them in pandas
  sql_rollup    GROUP BY over the raw points in the database (use_rollups=False)
  rollup_table  whole hours from the hourly rollup table kept by write_batch, edges from the points
plus the overview's "last 15 minutes, every deployment" read with and without the covering (step_s, ts, ...) index,
and the cost of one collection run (one step of every deployment) on the loaded store.

Runs on SQLite, and on PostgreSQL when INFERWATCH_BENCH_PG_URL (or the local test URL) answers.
INFERWATCH_BENCH_DAYS / INFERWATCH_BENCH_DEPLOYMENTS shrink it for a quick look.
Writes bench/results/store_rollup.json.
"""

from __future__ import annotations

import getpass
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from inferwatch.schema import AGGREGATION, Aggregation, CollectionBatch, CollectionRun, Metric, MetricPoint
from inferwatch.store import Store

RESULTS = Path(__file__).parent / "results" / "store_rollup.json"
METRICS = (Metric.INVOCATIONS.value, Metric.LATENCY_P95.value, Metric.LATENCY_P50.value)  # sum, max, mean
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time in seconds over ``repeats`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def run_record() -> CollectionRun:
    now = datetime.now(UTC)
    return CollectionRun(uuid.uuid4().hex, "bench", now, now, "ok")


def load(store: Store, days: int, deployments: int, seed: int = 1) -> tuple[int, float]:
    """One write_batch per day of data (as a backfill would); returns (points, seconds)."""
    rng = np.random.default_rng(seed)
    deps = [f"aws:eu-west-1:model-{i:02d}" for i in range(deployments)]
    total, started = 0, time.perf_counter()
    for day in range(days):
        values = np.round(rng.gamma(2.0, 40.0, size=(deployments, len(METRICS), 1440)), 2)
        points = tuple(MetricPoint(dep, metric, T0 + timedelta(days=day, minutes=minute), 60,
                                   float(values[d, m, minute]))
                       for d, dep in enumerate(deps) for m, metric in enumerate(METRICS) for minute in range(1440))
        store.write_batch(CollectionBatch("bench", points=points), run_record())
        total += len(points)
    return total, time.perf_counter() - started


def pandas_hourly(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    points = store.load_metrics(metrics=list(METRICS), start=start, end=end)
    frame = pd.DataFrame({"deployment": [p.deployment for p in points], "metric": [p.metric for p in points],
                          "ts": [int(p.start.timestamp()) for p in points], "value": [p.value for p in points]})
    frame["bucket"] = frame.ts - frame.ts % 3600
    parts = []
    for metric, group in frame.groupby("metric"):
        how = {Aggregation.SUM: "sum", Aggregation.MAX: "max"}.get(AGGREGATION[Metric(str(metric))], "mean")
        parts.append(group.groupby(["deployment", "metric", "bucket"], as_index=False).agg(value=("value", how)))
    return pd.concat(parts, ignore_index=True)


def bench_backend(url: str, days: int, deployments: int) -> dict[str, Any]:
    store = Store.open(url)
    points, load_s = load(store, days, deployments)
    # The dashboard asks for "now - 30 days" to "now + 1 minute": not aligned to hours.
    end = T0 + timedelta(days=days, minutes=1)
    start = end - timedelta(days=days)
    def hourly(use_rollups: bool) -> list[MetricPoint]:
        return store.load_metrics(metrics=list(METRICS), start=start, end=end, resolution_s=3600,
                                  use_rollups=use_rollups)

    baseline_s, frame = timed(lambda: pandas_hourly(store, start, end), 3)
    sql_s, sql_points = timed(lambda: hourly(False), 5)
    table_s, table_points = timed(lambda: hourly(True), 5)
    if not len(frame) == len(sql_points) == len(table_points):
        raise SystemExit(f"row counts differ: pandas {len(frame)}, sql {len(sql_points)}, table {len(table_points)}")
    for got in (sql_points, table_points):
        if not np.isclose(sum(p.value for p in got), float(frame["value"].sum()), rtol=1e-9):
            raise SystemExit("rollup values differ from the pandas aggregation")

    def recent() -> list[MetricPoint]:
        return store.load_metrics(start=end - timedelta(minutes=15), end=end)

    indexed_s, recent_points = timed(recent, 7)
    one_step = tuple(MetricPoint(p.deployment, p.metric, p.start, 60, p.value + 1.0) for p in recent_points
                     if p.start == end - timedelta(minutes=2))
    write_s, _ = timed(lambda: store.write_batch(CollectionBatch("bench", points=one_step), run_record()), 9)
    with store.write() as conn:
        conn.execute(text("DROP INDEX ix_metric_points_window"))
    unindexed_s, _ = timed(recent, 3)
    store.dispose()
    return {
        "points": points, "load_s": round(load_s, 2), "load_points_per_s": round(points / load_s),
        "result_rows": len(table_points),
        "baseline_raw_plus_pandas_s": round(baseline_s, 4),
        "sql_rollup_over_points_s": round(sql_s, 4),
        "rollup_table_s": round(table_s, 4),
        "speedup_sql_rollup_vs_baseline": round(baseline_s / sql_s, 1),
        "speedup_rollup_table_vs_baseline": round(baseline_s / table_s, 1),
        "speedup_rollup_table_vs_sql_rollup": round(sql_s / table_s, 1),
        "last_15_min_all_deployments_with_index_s": round(indexed_s, 4),
        "last_15_min_all_deployments_without_index_s": round(unindexed_s, 4),
        "speedup_index": round(unindexed_s / indexed_s, 1),
        "collection_run_write_s": round(write_s, 4),
        "collection_run_points": len(one_step),
    }


def postgres_url() -> str | None:
    url = os.environ.get("INFERWATCH_BENCH_PG_URL") or os.environ.get("INFERWATCH_TEST_PG_URL") or (
        f"postgresql+psycopg://{getpass.getuser()}@/inferwatch_test?host=/var/run/postgresql")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect():
            return url
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def bench_postgres(base: str, days: int, deployments: int) -> dict[str, Any]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base)
    url = url.set(query=dict(url.query) | {"options": f"-csearch_path={schema}"})
    try:
        return bench_backend(url.render_as_string(hide_password=False), days, deployments)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    days = int(os.environ.get("INFERWATCH_BENCH_DAYS", "30"))
    deployments = int(os.environ.get("INFERWATCH_BENCH_DEPLOYMENTS", "50"))
    out: dict[str, Any] = {"days": days, "deployments": deployments, "metrics": list(METRICS), "step_s": 60,
                           "resolution_s": 3600, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                           "backends": {}}
    with tempfile.TemporaryDirectory() as home:
        out["backends"]["sqlite"] = bench_backend(f"sqlite:///{Path(home) / 'bench.db'}", days, deployments)
        print("sqlite", json.dumps(out["backends"]["sqlite"], indent=1), flush=True)
    pg = postgres_url()
    if pg is None:
        out["backends"]["postgresql"] = "not measured: no PostgreSQL reachable (run .ci/postgres.sh)"
    else:
        out["backends"]["postgresql"] = bench_postgres(pg, days, deployments)
        print("postgresql", json.dumps(out["backends"]["postgresql"], indent=1), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
