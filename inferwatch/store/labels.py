"""Labels and the predictions they label: what realised quality is computed from.

``predictions`` keeps what each request was answered (one row per deployment and request id: its
rows' scores and classes) for :data:`PREDICTION_RETENTION_S`, written with the collection batch that
read it and pruned in the same transaction, so labels that arrive later by request id find their
prediction. ``label_rows`` keeps every labelled prediction ``inferwatch labels ingest`` resolved, keyed
by deployment and the prediction's identity (:class:`~inferwatch.schema.LabelRecord`): ingesting the
same file twice replaces rows, never adds them. ``label_steps`` keeps each step's aggregate per
baseline, recomputed from all of that step's label rows in the transaction that changed them, so the
aggregates always equal the rows and a window reads one row per step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    select,
    true,
)
from sqlalchemy.engine import Connection, RowMapping

from inferwatch.schema import LabelRecord, LabelStep, PredictionRecord
from inferwatch.store.base import StoreBase
from inferwatch.store.errors import StoreInputError
from inferwatch.store.tables import from_epoch, metadata, to_epoch

# Labels usually arrive within hours or days of the prediction; a local deployment answering ten
# requests a second keeps ~2.6M requests over three days, which is what SQLite holds without strain.
PREDICTION_RETENTION_S = 3 * 86_400
MAX_ROWS_PER_REQUEST = 100  # what an invocation line carries (EMF's array limit)
_CHUNK = 500  # request ids per IN (...) lookup

predictions = Table(
    "predictions",
    metadata,
    Column("deployment_id", String(300), primary_key=True),
    Column("request_id", String(256), primary_key=True),
    Column("ts", BigInteger, nullable=False),
    Column("model_version", String(128), nullable=False),
    Column("scores", JSON, nullable=False),
    Column("classes", JSON, nullable=False),
    Column("prediction_values", JSON, nullable=False),  # a regression's predicted values
)
Index("ix_predictions_ts", predictions.c.ts)

label_rows = Table(
    "label_rows",
    metadata,
    Column("deployment_id", String(300), primary_key=True),
    Column("key", String(64), primary_key=True),  # sha256 of the prediction's identity (LabelRecord.key)
    Column("ts", BigInteger, nullable=False),
    Column("model_version", String(128), nullable=False),
    Column("predicted", Text, nullable=False),
    Column("score", Float, nullable=True),
    Column("label", Text, nullable=False),
    Column("source", Text, nullable=False),
)
Index("ix_label_rows_deployment_ts", label_rows.c.deployment_id, label_rows.c.ts)

label_steps = Table(
    "label_steps",
    metadata,
    Column("deployment_id", String(300), primary_key=True),
    Column("step_s", Integer, primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    Column("baseline_id", String(300), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("row_count", Integer, nullable=False),
)

# Builds the aggregates of one deployment's step from every label row in it (quality's work, passed in
# by the read model: the store computes nothing).
Aggregator = Callable[[str, datetime, Sequence[LabelRecord]], Sequence[LabelStep]]


def _prediction_row(p: PredictionRecord) -> dict[str, object]:
    if max(len(p.scores), len(p.classes), len(p.values)) > MAX_ROWS_PER_REQUEST:
        raise StoreInputError(f"prediction {p.request_id!r}: more than {MAX_ROWS_PER_REQUEST} rows",
                              field="predictions")
    return {"deployment_id": p.deployment, "request_id": p.request_id[:256], "ts": to_epoch(p.at, "at"),
            "model_version": p.model_version, "scores": list(p.scores), "classes": list(p.classes),
            "prediction_values": list(p.values)}


def _floats(values: Sequence[float | None]) -> tuple[float | None, ...]:
    return tuple(None if v is None else float(v) for v in values)


def save_predictions(store: StoreBase, conn: Connection, items: Sequence[PredictionRecord], now_s: int) -> None:
    """Keep a batch's predictions (inside its transaction) and drop those past their retention."""
    store.upsert(conn, predictions, [_prediction_row(p) for p in items if p.request_id])
    if items:
        conn.execute(delete(predictions).where(predictions.c.ts < now_s - PREDICTION_RETENTION_S))


def _label_row(r: LabelRecord) -> dict[str, object]:
    if len(r.key) > 64:
        raise StoreInputError(f"label key {r.key[:80]!r}: longer than 64 characters (a sha256)", field="key")
    return {"deployment_id": r.deployment, "key": r.key, "ts": to_epoch(r.at, "at"), "model_version": r.model_version,
            "predicted": r.predicted, "score": r.score, "label": r.label, "source": r.source}


def _record(r: RowMapping) -> LabelRecord:
    return LabelRecord(r["deployment_id"], r["key"], from_epoch(r["ts"]), r["model_version"], r["predicted"],
                       None if r["score"] is None else float(r["score"]), r["label"], r["source"])


class LabelStore(StoreBase):
    """``predictions``, ``label_rows`` and ``label_steps``."""

    def load_predictions(self, request_ids: Sequence[str], *, deployment: str | None = None
                         ) -> list[PredictionRecord]:
        """The kept predictions of these request ids (of ``deployment``, or of any deployment)."""
        p = predictions
        out: list[PredictionRecord] = []
        wanted = sorted(set(request_ids))
        with self.read() as conn:
            for i in range(0, len(wanted), _CHUNK):
                stmt = select(p).where(p.c.request_id.in_(wanted[i:i + _CHUNK]))
                if deployment is not None:
                    stmt = stmt.where(p.c.deployment_id == deployment)
                out += [PredictionRecord(r["deployment_id"], r["request_id"], from_epoch(r["ts"]), r["model_version"],
                                         _floats(r["scores"]), tuple(str(c) for c in r["classes"]),
                                         _floats(r["prediction_values"]))
                        for r in conn.execute(stmt).mappings().all()]
        return out

    def save_labels(self, records: Sequence[LabelRecord], step_s: int, aggregate: Aggregator) -> int:
        """Upsert label rows and recompute the aggregates of every step they fall in, in one
        transaction; returns how many of the rows were new (the others replaced earlier ones)."""
        if step_s <= 0:
            raise StoreInputError(f"step_s: {step_s} is not a positive step", field="step_s")
        rows = [_label_row(r) for r in records]
        steps = sorted({(str(r["deployment_id"]), int(str(r["ts"])) // step_s * step_s) for r in rows})
        lr = label_rows
        with self.write() as conn:
            known = self._existing_keys(conn, rows)
            self.upsert(conn, lr, rows)
            for deployment, start in steps:
                in_step = select(lr).where(lr.c.deployment_id == deployment, lr.c.ts >= start, lr.c.ts < start + step_s)
                found = conn.execute(in_step.order_by(lr.c.ts, lr.c.key)).mappings().all()
                made = aggregate(deployment, from_epoch(start), [_record(f) for f in found])
                conn.execute(delete(label_steps).where(label_steps.c.deployment_id == deployment,
                                                       label_steps.c.step_s == step_s, label_steps.c.ts == start))
                self.upsert(conn, label_steps, [
                    {"deployment_id": s.deployment, "step_s": step_s, "ts": to_epoch(s.start, "start"),
                     "baseline_id": s.baseline_id, "kind": s.kind, "payload": dict(s.payload),
                     "row_count": s.row_count} for s in made])
        return len(rows) - known

    def _existing_keys(self, conn: Connection, rows: Sequence[dict[str, object]]) -> int:
        by_deployment: dict[str, set[str]] = defaultdict(set)
        for r in rows:
            by_deployment[str(r["deployment_id"])].add(str(r["key"]))
        found = 0
        for deployment, keys in by_deployment.items():
            ordered = sorted(keys)
            for i in range(0, len(ordered), _CHUNK):
                found += len(conn.execute(select(label_rows.c.key).where(
                    label_rows.c.deployment_id == deployment, label_rows.c.key.in_(ordered[i:i + _CHUNK]))).all())
        return found

    def load_label_steps(self, *, deployments: Sequence[str] | None = None, start: datetime | None = None,
                         end: datetime | None = None) -> list[LabelStep]:
        """Label aggregates per step in [start, end), oldest first."""
        s = label_steps
        where: list[ColumnElement[bool]] = []
        if deployments is not None:
            where.append(s.c.deployment_id.in_(list(deployments)))
        if start is not None:
            where.append(s.c.ts >= to_epoch(start, "start"))
        if end is not None:
            where.append(s.c.ts < to_epoch(end, "end"))
        with self.read() as conn:
            rows = conn.execute(select(s).where(and_(true(), *where)).order_by(s.c.ts)).mappings().all()
        return [LabelStep(r["deployment_id"], from_epoch(r["ts"]), int(r["step_s"]), r["baseline_id"], r["kind"],
                          dict(r["payload"]), int(r["row_count"])) for r in rows]

    def label_row_count(self, deployment: str | None = None) -> int:
        """Label rows kept (for one deployment, or all)."""
        stmt = select(func.count()).select_from(label_rows)
        if deployment is not None:
            stmt = stmt.where(label_rows.c.deployment_id == deployment)
        with self.read() as conn:
            return int(conn.execute(stmt).scalar_one())
