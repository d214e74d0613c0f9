"""Metrics, histograms, costs, deployments and collection runs: what collectors write and every
surface reads. Writes are idempotent upserts in one transaction per collection run; hourly rollups
are kept in the same transaction as the points they summarise."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, literal_column, select, text, true
from sqlalchemy.engine import Connection

from inferwatch.schema import (
    CollectionBatch,
    CollectionRun,
    CostRecord,
    Deployment,
    HistogramPoint,
    MetricPoint,
)
from inferwatch.store import labels, leases, quarantine
from inferwatch.store import queries as q
from inferwatch.store import tables as t
from inferwatch.store.base import StoreBase
from inferwatch.store.errors import StoreInputError
from inferwatch.store.tables import from_epoch, to_epoch

_HOUR = t.ROLLUP_STEP_S
# PostgreSQL advisory locks, two-key form (a key space apart from single-bigint locks others take).
LOCK_CLASS_SCHEMA = 0x1F1_0001
_LOCK_CLASS_DEPLOYMENT = 0x1F1_0002


class MetricStore(StoreBase):
    """Points, rollups, histograms, costs, deployments, cursors and collection runs."""

    # -- writes ---------------------------------------------------------------------------------

    def upsert_deployments(self, conn: Connection, items: Sequence[Deployment], now: datetime) -> None:
        updated_s = to_epoch(now, "now")
        self.upsert(conn, t.deployments, [t.deployment_row(d, updated_s) for d in items])

    def write_batch(self, batch: CollectionBatch, run: CollectionRun, *,
                    lease: leases.LeaseToken | None = None) -> None:
        """Write a collector's whole result, its cursor and its run record in one transaction.

        Re-writing a window replaces its rows; a batch that fails midway leaves nothing behind
        and the cursor where it was. Bad records raise :class:`StoreInputError` before any write.
        With ``lease``, the write happens only while that lease is still its holder's
        (:class:`~inferwatch.store.leases.LeaseLostError` otherwise, and nothing is written).
        """
        points = [t.point_row(p) for p in batch.points]
        histograms = [t.histogram_row(h) for h in batch.histograms]
        costs = [t.cost_row(c) for c in batch.costs]
        finished_s = to_epoch(run.finished_at, "finished_at")
        with self.write() as conn:
            if lease is not None:
                leases.hold(conn, lease)
            self._lock_deployments(conn, {p["deployment_id"] for p in points})
            self.upsert_deployments(conn, batch.deployments, run.finished_at)
            self.upsert(conn, t.metric_points, points)
            self._refresh_rollups(conn, points)
            self.upsert(conn, t.histograms, histograms)
            self.upsert(conn, t.costs, costs)
            if batch.cursor is not None:
                self.upsert(conn, t.cursors, [{"collector": batch.collector, "state": dict(batch.cursor),
                                               "updated_at": finished_s}])
            if batch.quarantined_count:
                quarantine.save(conn, batch.collector, batch.quarantined, batch.quarantined_count, finished_s)
            labels.save_predictions(self, conn, batch.predictions, finished_s)
            self._insert_run(conn, run)

    def rebuild_rollups(self) -> None:
        """Recompute every hourly rollup from the points (after writing points other than by write_batch)."""
        with self.write() as conn:
            self._rebuild_rollups(conn)

    def _lock_deployments(self, conn: Connection, ids: set[str]) -> None:
        # SQLite's BEGIN IMMEDIATE already serialises writers. On PostgreSQL, two runs writing the
        # same deployment must not each recompute its rollups without the other's points. One
        # statement; unnest yields the sorted array in order, so locks are always taken in one order.
        if conn.dialect.name != "postgresql" or not ids:
            return
        conn.execute(text("SELECT count(pg_advisory_xact_lock(:c, hashtext(d))) FROM unnest(CAST(:ds AS text[])) AS d"),
                     {"c": _LOCK_CLASS_DEPLOYMENT, "ds": sorted(ids)})

    def _refresh_rollups(self, conn: Connection, points: Sequence[Mapping[str, Any]]) -> None:
        """Recompute, from the stored points, the hours these points fall in (so replacing is exact).

        One statement per step and run of adjacent hours, over every deployment and metric written:
        recomputing a combination that was not written is harmless, it yields the same rows."""
        touched: dict[int, tuple[set[str], set[str], set[int]]] = {}
        for p in points:
            if _HOUR % p["step_s"] == 0:
                deps, metrics, hours = touched.setdefault(p["step_s"], (set(), set(), set()))
                deps.add(p["deployment_id"])
                metrics.add(p["metric"])
                hours.add(p["ts"] - p["ts"] % _HOUR)
        mp = t.metric_points.c
        for step_s, (deps, metrics, hours) in touched.items():
            for lo, hi in q.contiguous_hours(sorted(hours)):
                conn.execute(q.rollup_insert(conn, [mp.deployment_id.in_(sorted(deps)), mp.step_s == step_s,
                                                   mp.metric.in_(sorted(metrics)), mp.ts >= lo, mp.ts < hi]))

    def _rebuild_rollups(self, conn: Connection) -> None:
        conn.execute(delete(t.metric_rollups))
        conn.execute(q.rollup_insert(conn, [literal_column(str(_HOUR)) % t.metric_points.c.step_s == 0]))

    def record_run(self, run: CollectionRun) -> None:
        """Record a run that wrote no data (a failure, or nothing new)."""
        with self.write() as conn:
            self._insert_run(conn, run)

    def _insert_run(self, conn: Connection, run: CollectionRun) -> None:
        self.upsert(conn, t.collection_runs, [t.run_row(run)])

    # -- reads ----------------------------------------------------------------------------------

    def load_deployments(self) -> list[Deployment]:
        with self.read() as conn:
            rows = conn.execute(select(t.deployments).order_by(t.deployments.c.id)).mappings().all()
        return [t.deployment_from_row(r) for r in rows]

    def load_metrics(
        self,
        *,
        deployments: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        step_s: int = 60,
        resolution_s: int | None = None,
        use_rollups: bool = True,
    ) -> list[MetricPoint]:
        """Points of ``step_s`` in [start, end); with ``resolution_s`` > step_s (a multiple of it) they
        are rolled up in the database (sums, maxima, means per :data:`AGGREGATION`) so long ranges stay
        small. Whole hours come from the hourly rollup table unless ``use_rollups`` is false."""
        step = resolution_s if resolution_s is not None and resolution_s > step_s else step_s
        rows = self.metric_rows(deployments=deployments, metrics=metrics, start=start, end=end, step_s=step_s,
                                resolution_s=resolution_s, use_rollups=use_rollups)
        return [MetricPoint(dep, metric, from_epoch(ts), step, value) for dep, metric, ts, value in rows]

    def metric_rows(
        self,
        *,
        deployments: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        step_s: int = 60,
        resolution_s: int | None = None,
        use_rollups: bool = True,
    ) -> list[tuple[str, str, int, float]]:
        """What :meth:`load_metrics` returns, as plain (deployment, metric, epoch seconds, value) rows:
        for callers that build arrays or frames and have no use for a point object per value. Rolled-up
        rows come sorted by deployment, metric and time."""
        if step_s <= 0:
            raise StoreInputError(f"step_s must be positive, got {step_s}", field="step_s")
        lo = to_epoch(start, "start") if start is not None else None
        hi = to_epoch(end, "end") if end is not None else None
        if lo is not None and hi is not None and hi < lo:
            raise StoreInputError(f"end {end} is before start {start}", field="end")
        mp = t.metric_points.c
        where = q.filters(t.metric_points, deployments, metrics, step_s)
        if resolution_s is None or resolution_s <= step_s:
            stmt = select(mp.deployment_id, mp.metric, mp.ts, mp.value).where(*where, *q.span(mp.ts, lo, hi))
            with self.read() as conn:
                rows = conn.execute(stmt).all()  # one fetch: row-by-row iteration costs more than the query
            return [(dep, metric, int(ts), float(value)) for dep, metric, ts, value in rows]
        if resolution_s % step_s:
            raise StoreInputError(f"resolution_s {resolution_s} is not a multiple of step_s {step_s}",
                                  field="resolution_s")
        queries = self._rollup_queries(deployments, metrics, step_s, resolution_s, lo, hi, use_rollups)
        with self.read() as conn:
            buckets = conn.execute(q.merged(queries)).all()
        finalize = q.finalize
        return [(dep, metric, int(bucket), finalize(metric, float(total), float(peak), int(n)))
                for dep, metric, bucket, total, peak, n in buckets]

    def metric_span(self, *, metrics: Sequence[str], start: datetime, end: datetime,
                    step_s: int = 60) -> tuple[datetime, datetime] | None:
        """The start of the first and the end of the last ``step_s`` step with a point of any of
        ``metrics`` in [start, end), or None: the part of a window that holds data (two index seeks in
        time order, however long the window)."""
        lo, hi = to_epoch(start, "start"), to_epoch(end, "end")
        mp = t.metric_points.c
        where = (*q.filters(t.metric_points, None, metrics, step_s), *q.span(mp.ts, lo, hi))
        with self.read() as conn:
            first = conn.execute(select(mp.ts).where(*where).order_by(mp.ts).limit(1)).scalar()
            last = conn.execute(select(mp.ts).where(*where).order_by(mp.ts.desc()).limit(1)).scalar()
        if first is None or last is None:
            return None
        return from_epoch(int(first)), from_epoch(int(last) + step_s)

    def window_aggregates(
        self,
        *,
        metrics: Sequence[str],
        weight: str,
        start: datetime,
        end: datetime,
        step_s: int = 60,
    ) -> dict[tuple[str, str], q.WindowAggregate]:
        """Per (deployment, metric) over the points of ``step_s`` in [start, end), in one query: the sum,
        the sum weighted by ``weight``'s value in the same step (for invocation-weighted percentiles),
        that weight's sum, and the newest step with a positive value."""
        lo, hi = to_epoch(start, "start"), to_epoch(end, "end")
        if hi < lo:
            raise StoreInputError(f"end {end} is before start {start}", field="end")
        with self.read() as conn:
            rows = conn.execute(q.window_aggregate_query(metrics, weight, step_s, lo, hi)).all()
        out = {}
        for row in rows:
            for i, metric in enumerate(metrics):
                total, weighted, weight_sum, last = row[1 + 4 * i : 5 + 4 * i]
                if total is not None:  # the metric has points in the window
                    out[(row[0], metric)] = q.WindowAggregate(float(total), float(weighted or 0.0),
                                                              float(weight_sum or 0.0),
                                                              None if last is None else from_epoch(last))
        return out

    def _rollup_queries(self, deployments: Sequence[str] | None, metrics: Sequence[str] | None, step_s: int,
                        resolution_s: int, lo: int | None, hi: int | None, use_rollups: bool) -> list[Select[Any]]:
        """Whole hours from ``metric_rollups``; the partial hours at either edge from the points."""
        mp, mr = t.metric_points, t.metric_rollups
        raw_where = q.filters(mp, deployments, metrics, step_s)
        if not (use_rollups and _HOUR % step_s == 0 and resolution_s % _HOUR == 0):
            return [q.bucketed(mp, raw_where + q.span(mp.c.ts, lo, hi), resolution_s)]
        first = None if lo is None else -(-lo // _HOUR) * _HOUR  # first whole hour
        last = None if hi is None else hi - hi % _HOUR  # end of the last whole hour
        if first is not None and last is not None and first >= last:
            return [q.bucketed(mp, raw_where + q.span(mp.c.ts, lo, hi), resolution_s)]
        queries = [q.bucketed(mr, q.filters(mr, deployments, metrics, step_s) + q.span(mr.c.ts, first, last),
                             resolution_s)]
        if lo is not None and first is not None and lo < first:
            queries.append(q.bucketed(mp, raw_where + q.span(mp.c.ts, lo, first), resolution_s))
        if hi is not None and last is not None and last < hi:
            queries.append(q.bucketed(mp, raw_where + q.span(mp.c.ts, last, hi), resolution_s))
        return queries

    def segment_sums(self, *, deployments: Sequence[str], metrics: Sequence[str], step_s: int, now: datetime,
                     ages_s: Sequence[int]) -> list[MetricPoint]:
        """Sums of additive metrics over the segments between consecutive ages (seconds before ``now``,
        oldest first): one synthetic point per (deployment, metric, segment), starting at the segment's
        start and as long as it, computed by the database (one GROUP BY per segment)."""
        mp = t.metric_points
        out: list[MetricPoint] = []
        with self.read() as conn:
            for older, newer in itertools.pairwise(ages_s):
                lo, hi = to_epoch(now, "now") - older, to_epoch(now, "now") - newer
                stmt = (select(mp.c.deployment_id, mp.c.metric, func.sum(mp.c.value))
                        .where(and_(mp.c.deployment_id.in_(list(deployments)),  # the primary key leads
                                    mp.c.metric.in_(list(metrics)), mp.c.step_s == step_s,
                                    mp.c.ts >= lo, mp.c.ts < hi))
                        .group_by(mp.c.deployment_id, mp.c.metric))
                out += [MetricPoint(r[0], r[1], from_epoch(lo), older - newer, float(r[2]))
                        for r in conn.execute(stmt).all()]
        return out

    def load_histograms(
        self,
        *,
        deployments: Sequence[str] | None = None,
        signals: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[HistogramPoint]:
        h = t.histograms
        where: list[ColumnElement[bool]] = []
        if deployments is not None:
            where.append(h.c.deployment_id.in_(list(deployments)))
        if signals is not None:
            where.append(h.c.signal.in_(list(signals)))
        if start is not None:
            where.append(h.c.ts >= to_epoch(start, "start"))
        if end is not None:
            where.append(h.c.ts < to_epoch(end, "end"))
        with self.read() as conn:
            rows = conn.execute(select(h).where(and_(true(), *where)).order_by(h.c.ts)).mappings().all()
        return [t.histogram_from_row(r) for r in rows]

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
        return [t.run_from_row(x) for x in rows]

    def load_costs(self, *, start: datetime | None = None, end: datetime | None = None) -> list[CostRecord]:
        c = t.costs
        where = []
        if start is not None:
            where.append(c.c.day >= to_epoch(start, "start"))
        if end is not None:
            where.append(c.c.day < to_epoch(end, "end"))
        with self.read() as conn:
            rows = conn.execute(select(c).where(and_(true(), *where)).order_by(c.c.day)).mappings().all()
        return [t.cost_from_row(r) for r in rows]
