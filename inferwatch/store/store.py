"""The Store: idempotent writes (upserts on natural keys), one transaction per collection run,
and readers that never block writers (SQLite WAL, PostgreSQL MVCC)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, and_, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from inferwatch.schema import (
    AGGREGATION,
    Aggregation,
    CollectionBatch,
    CollectionRun,
    CostRecord,
    Deployment,
    HistogramPoint,
    Metric,
    MetricPoint,
)
from inferwatch.store import tables as t
from inferwatch.store.engine import WRITE_OPTION, build_engine, redact
from inferwatch.store.errors import StoreUnavailableError

_DEPLOYMENT_CONFIG_FIELDS = tuple(
    f.name for f in dataclasses.fields(Deployment) if f.name not in ("id", "provider", "region", "name", "service")
)


def to_epoch(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()} (times must be tz-aware UTC)")
    return int(ts.timestamp())


def from_epoch(value: int) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


class Store:
    """All persistence of Inferwatch. Build with :meth:`open`; call :meth:`create_schema` once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Store:
        store = cls(build_engine(url))
        if create:
            store.create_schema()
        return store

    @property
    def url(self) -> str:
        return redact(self.engine.url.render_as_string(hide_password=False))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create_schema(self) -> None:
        try:
            with self.write() as conn:
                t.metadata.create_all(conn)
        except OperationalError as exc:
            raise StoreUnavailableError(f"cannot reach the store at {self.url}: {exc.orig}") from exc

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE)."""
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # -- writes ---------------------------------------------------------------------------------

    def upsert(self, conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace rows by primary key (the idempotency guarantee)."""
        if not rows:
            return
        keys = [c.name for c in table.primary_key.columns]
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table)
        updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=updates) if updates else (
            stmt.on_conflict_do_nothing(index_elements=keys)
        )
        chunk = 2000 // max(1, len(table.columns))  # stay under bound-parameter limits
        for i in range(0, len(rows), max(chunk, 1)):
            conn.execute(stmt, list(rows[i : i + chunk]))

    def upsert_deployments(self, conn: Connection, items: Sequence[Deployment], now: datetime) -> None:
        rows = []
        for d in items:
            config = {name: getattr(d, name) for name in _DEPLOYMENT_CONFIG_FIELDS}
            config["labels"] = dict(d.labels)
            rows.append({"id": d.id, "provider": d.provider, "region": d.region, "name": d.name,
                         "service": d.service, "config": config, "updated_at": to_epoch(now)})
        self.upsert(conn, t.deployments, rows)

    def write_batch(self, batch: CollectionBatch, run: CollectionRun) -> None:
        """Write a collector's whole result, its cursor and its run record in one transaction."""
        with self.write() as conn:
            self.upsert_deployments(conn, batch.deployments, run.finished_at)
            self.upsert(conn, t.metric_points, [
                {"deployment_id": p.deployment, "metric": p.metric, "step_s": p.step_s,
                 "ts": to_epoch(p.start), "value": float(p.value)} for p in batch.points])
            self.upsert(conn, t.histograms, [
                {"deployment_id": h.deployment, "signal": h.signal, "step_s": h.step_s,
                 "ts": to_epoch(h.start), "baseline_id": h.baseline_id, "counts": dict(h.counts)}
                for h in batch.histograms])
            self.upsert(conn, t.costs, [_cost_row(c) for c in batch.costs])
            if batch.cursor is not None:
                self.upsert(conn, t.cursors, [{"collector": batch.collector, "state": dict(batch.cursor),
                                               "updated_at": to_epoch(run.finished_at)}])
            self._insert_run(conn, run)

    def record_run(self, run: CollectionRun) -> None:
        """Record a run that wrote no data (a failure, or nothing new)."""
        with self.write() as conn:
            self._insert_run(conn, run)

    def _insert_run(self, conn: Connection, run: CollectionRun) -> None:
        self.upsert(conn, t.collection_runs, [{
            "id": run.id, "collector": run.collector, "started_at": to_epoch(run.started_at),
            "finished_at": to_epoch(run.finished_at), "status": run.status,
            "window_start": to_epoch(run.window_start) if run.window_start else None,
            "window_end": to_epoch(run.window_end) if run.window_end else None,
            "points_written": run.points_written, "error": run.error, "warnings": list(run.warnings)}])

    def save_baseline(self, baseline_id: str, *, model_version: str, model_sha256: str, source: str,
                      payload: Mapping[str, Any], created_at: datetime) -> None:
        with self.write() as conn:
            self.upsert(conn, t.baselines, [{
                "id": baseline_id, "model_version": model_version, "model_sha256": model_sha256,
                "created_at": to_epoch(created_at), "source": source, "payload": dict(payload)}])

    # -- reads ----------------------------------------------------------------------------------

    def load_deployments(self) -> list[Deployment]:
        with self.read() as conn:
            rows = conn.execute(select(t.deployments).order_by(t.deployments.c.id)).mappings().all()
        return [_deployment(r) for r in rows]

    def load_metrics(
        self,
        *,
        deployments: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        step_s: int = 60,
        resolution_s: int | None = None,
    ) -> list[MetricPoint]:
        """Points of ``step_s`` in [start, end); with ``resolution_s`` > step_s they are rolled up
        in the database (sums, maxima, means per :data:`AGGREGATION`) so long ranges stay small."""
        mp = t.metric_points
        where = [mp.c.step_s == step_s]
        if deployments is not None:
            where.append(mp.c.deployment_id.in_(list(deployments)))
        if metrics is not None:
            where.append(mp.c.metric.in_(list(metrics)))
        if start is not None:
            where.append(mp.c.ts >= to_epoch(start))
        if end is not None:
            where.append(mp.c.ts < to_epoch(end))
        if resolution_s is None or resolution_s <= step_s:
            stmt = select(mp.c.deployment_id, mp.c.metric, mp.c.ts, mp.c.value).where(and_(*where))
            out_step = step_s
        else:
            bucket = (mp.c.ts - mp.c.ts % resolution_s).label("bucket")
            sum_metrics = [m.value for m, a in AGGREGATION.items() if a is Aggregation.SUM]
            max_metrics = [m.value for m, a in AGGREGATION.items() if a is Aggregation.MAX]
            value = case(
                (mp.c.metric.in_(sum_metrics), func.sum(mp.c.value)),
                (mp.c.metric.in_(max_metrics), func.max(mp.c.value)),
                else_=func.avg(mp.c.value),
            )
            stmt = (select(mp.c.deployment_id, mp.c.metric, bucket, value.label("value"))
                    .where(and_(*where)).group_by(mp.c.deployment_id, mp.c.metric, bucket))
            out_step = resolution_s
        with self.read() as conn:
            rows = conn.execute(stmt).all()
        return [MetricPoint(r[0], r[1], from_epoch(r[2]), out_step, float(r[3])) for r in rows]

    def load_histograms(
        self,
        *,
        deployments: Sequence[str] | None = None,
        signals: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[HistogramPoint]:
        h = t.histograms
        where = []
        if deployments is not None:
            where.append(h.c.deployment_id.in_(list(deployments)))
        if signals is not None:
            where.append(h.c.signal.in_(list(signals)))
        if start is not None:
            where.append(h.c.ts >= to_epoch(start))
        if end is not None:
            where.append(h.c.ts < to_epoch(end))
        with self.read() as conn:
            rows = conn.execute(select(h).where(and_(*where)).order_by(h.c.ts)).mappings().all()
        return [HistogramPoint(r["deployment_id"], r["signal"], from_epoch(r["ts"]), r["step_s"],
                               r["baseline_id"], r["counts"]) for r in rows]

    def load_baseline(self, baseline_id: str) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(select(t.baselines.c.payload).where(t.baselines.c.id == baseline_id)).first()
        return dict(row[0]) if row else None

    def load_latest_baseline(self, model_version: str) -> tuple[str, dict[str, Any]] | None:
        b = t.baselines
        stmt = (select(b.c.id, b.c.payload).where(b.c.model_version == model_version)
                .order_by(b.c.created_at.desc(), b.c.id.desc()).limit(1))
        with self.read() as conn:
            row = conn.execute(stmt).first()
        return (row[0], dict(row[1])) if row else None

    def list_baselines(self) -> list[dict[str, Any]]:
        b = t.baselines
        with self.read() as conn:
            rows = conn.execute(select(b.c.id, b.c.model_version, b.c.model_sha256, b.c.created_at, b.c.source)
                                .order_by(b.c.created_at.desc())).mappings().all()
        return [dict(r) | {"created_at": from_epoch(r["created_at"])} for r in rows]

    def load_cursor(self, collector: str) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(select(t.cursors.c.state).where(t.cursors.c.collector == collector)).first()
        return dict(row[0]) if row else None

    def load_runs(self, *, collector: str | None = None, limit: int = 100) -> list[CollectionRun]:
        r = t.collection_runs
        stmt = select(r).order_by(r.c.started_at.desc(), r.c.id).limit(limit)
        if collector is not None:
            stmt = stmt.where(r.c.collector == collector)
        with self.read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [CollectionRun(
            id=x["id"], collector=x["collector"], started_at=from_epoch(x["started_at"]),
            finished_at=from_epoch(x["finished_at"]), status=x["status"],
            window_start=from_epoch(x["window_start"]) if x["window_start"] is not None else None,
            window_end=from_epoch(x["window_end"]) if x["window_end"] is not None else None,
            points_written=x["points_written"], error=x["error"], warnings=tuple(x["warnings"] or ()),
        ) for x in rows]

    def load_costs(self, *, start: datetime | None = None, end: datetime | None = None) -> list[CostRecord]:
        c = t.costs
        where = []
        if start is not None:
            where.append(c.c.day >= to_epoch(start))
        if end is not None:
            where.append(c.c.day < to_epoch(end))
        with self.read() as conn:
            rows = conn.execute(select(c).where(and_(*where)).order_by(c.c.day)).mappings().all()
        return [CostRecord(r["scope"], from_epoch(r["day"]), r["usage_type"], r["cost_usd"],
                           r["usage_quantity"], r["usage_unit"], r["estimated"], r["source"]) for r in rows]

    def count(self, table: str) -> int:
        with self.read() as conn:
            return int(conn.execute(select(func.count()).select_from(t.metadata.tables[table])).scalar_one())


def _cost_row(c: CostRecord) -> dict[str, Any]:
    return {"scope": c.scope, "day": to_epoch(c.day), "usage_type": c.usage_type, "source": c.source,
            "cost_usd": c.cost_usd, "usage_quantity": c.usage_quantity, "usage_unit": c.usage_unit,
            "estimated": c.estimated}


def _deployment(row: Mapping[str, Any]) -> Deployment:
    config = dict(row["config"])
    known = {k: v for k, v in config.items() if k in _DEPLOYMENT_CONFIG_FIELDS}
    return Deployment(id=row["id"], provider=row["provider"], region=row["region"], name=row["name"],
                      service=row["service"], **known)


__all__ = ["Store", "Metric", "from_epoch", "to_epoch"]
