"""The Store: all persistence of Inferwatch, assembled from one class per concern.

Idempotent writes (upserts on natural keys), one transaction per collection run, readers that never
block writers (SQLite WAL, PostgreSQL MVCC), hourly rollups kept in the same transaction as the points
they summarise. Every SQL statement of the product lives in this package:

    StoreBase         engine, read/write transactions, upserts, session locks      (base.py)
    MetricStore       points, rollups, histograms, costs, deployments, runs        (metrics.py)
    BaselineStore     drift baselines                                               (baseline_records.py)
    KeptStore         drift decisions and window numbers kept for the pages        (kept.py)
    LabelStore        predictions kept for labels, label rows, label aggregates    (labels.py)
    AlertStore        alert states, history, outbox, runs                          (alert_records.py)
    QuarantineStore   inputs collectors set aside                                  (quarantine.py)
    LeaseStore        which collector process collects which unit                  (leases.py)
    MetaStore         facts about the store itself (its random id)                 (meta.py)
"""

from __future__ import annotations

import logging

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from inferwatch.store import tables as t
from inferwatch.store.alert_records import AlertStore
from inferwatch.store.baseline_records import BaselineStore
from inferwatch.store.engine import build_engine
from inferwatch.store.kept import KeptStore
from inferwatch.store.labels import LabelStore
from inferwatch.store.leases import LeaseStore
from inferwatch.store.meta import MetaStore
from inferwatch.store.metrics import LOCK_CLASS_SCHEMA, MetricStore
from inferwatch.store.quarantine import QuarantineStore

log = logging.getLogger(__name__)


def _cluster_rollups(conn: Connection) -> None:
    """SQLite: an earlier store's rollups, kept in insertion order, copied into the clustered table."""
    if conn.dialect.name != "sqlite":
        return
    made = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (t.metric_rollups.name,)).scalar()
    if made is None or "WITHOUT ROWID" in made.upper():
        return
    log.info("storing %s in key order (once, after an upgrade)", t.metric_rollups.name)
    columns = ", ".join(c.name for c in t.metric_rollups.columns)
    for index in t.metric_rollups.indexes:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
    conn.exec_driver_sql("ALTER TABLE metric_rollups RENAME TO metric_rollups_unclustered")
    t.metric_rollups.create(conn)
    conn.exec_driver_sql(f"INSERT INTO metric_rollups ({columns}) SELECT {columns} FROM metric_rollups_unclustered")
    conn.exec_driver_sql("DROP TABLE metric_rollups_unclustered")


def _upgrade_columns(conn: Connection) -> None:
    """Columns a store made by an earlier version lacks (``create_all`` only makes missing tables)."""
    inspector = inspect(conn)
    for table, columns in t.ADDED_COLUMNS.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        for name, ddl in columns:
            if name not in have:
                log.info("adding column %s to %s (once, after an upgrade)", name, table)
                conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")


def _upgrade_indexes(conn: Connection) -> None:
    """Indexes a store made by an earlier version lacks (``create_all`` only makes missing tables'),
    and those it has that newer ones replace. Building one over a large store takes a while, once."""
    inspector = inspect(conn)
    for table in t.metadata.sorted_tables:
        have = {ix["name"] for ix in inspector.get_indexes(table.name)}
        for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
            if index.name not in have:
                log.info("building index %s on %s (once, after an upgrade)", index.name, table.name)
                index.create(conn)
        for name in have.intersection(t.OBSOLETE_INDEXES):
            conn.execute(text(f"DROP INDEX {name}"))


class Store(MetricStore, BaselineStore, KeptStore, LabelStore, AlertStore, QuarantineStore, LeaseStore, MetaStore):
    """All persistence of Inferwatch. Build with :meth:`open`; call :meth:`create_schema` once."""

    @classmethod
    def open(cls, url: str, *, create: bool = True, lock_wait_s: float | None = None) -> Store:
        """``create``: make missing tables (a reader that must not change the store passes False);
        ``lock_wait_s``: how long a statement may wait for another process's lock (engine.build_engine)."""
        store = cls(build_engine(url, lock_wait_s=lock_wait_s))
        if create:
            store.create_schema()
        return store

    def create_schema(self) -> None:
        """Create missing tables; fill the rollups of a store written before they existed."""
        with self.write() as conn:
            if conn.dialect.name == "postgresql":  # two processes starting at once on a fresh database
                conn.execute(text("SELECT pg_advisory_xact_lock(:c, 0)"), {"c": LOCK_CLASS_SCHEMA})
            had_rollups = inspect(conn).has_table(t.metric_rollups.name)
            t.metadata.create_all(conn)
            _cluster_rollups(conn)
            _upgrade_columns(conn)
            _upgrade_indexes(conn)
            if not had_rollups:
                self._rebuild_rollups(conn)
