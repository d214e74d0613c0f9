"""The label tables on SQLite and PostgreSQL: predictions kept with their batch and pruned after their
retention, label rows upserted by key, and each touched step's aggregates rebuilt from all its rows in
the same transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from inferwatch.schema import CollectionBatch, CollectionRun, LabelRecord, LabelStep, PredictionRecord
from inferwatch.store import Store, StoreInputError
from inferwatch.store.labels import PREDICTION_RETENTION_S

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DEP = "local:local:scorer-v1"


def _count_rows(deployment: str, start: datetime, rows: Sequence[LabelRecord]) -> Sequence[LabelStep]:
    right = sum(r.label == r.predicted for r in rows)
    return [LabelStep(deployment, start, 60, "b1", "classifier", {"rows": len(rows), "right": right}, len(rows))]


def _label(i: int, label: str, minute: int = 0) -> LabelRecord:
    return LabelRecord(DEP, hashlib.sha256(f"r{i}".encode()).hexdigest(), NOW + timedelta(minutes=minute, seconds=i),
                       "v1", "1", 0.9, label, "f.csv")


def test_label_rows_upsert_by_key_and_steps_are_rebuilt(store_url: str) -> None:
    store = Store.open(store_url)
    assert store.save_labels([_label(i, "1") for i in range(5)], 60, _count_rows) == 5
    assert store.save_labels([_label(i, "0") for i in range(2)] + [_label(9, "1", minute=1)], 60, _count_rows) == 1
    steps = store.load_label_steps(deployments=[DEP], start=NOW, end=NOW + timedelta(minutes=5))
    assert [(s.start, s.payload) for s in steps] == [(NOW, {"rows": 5, "right": 3}),
                                                     (NOW + timedelta(minutes=1), {"rows": 1, "right": 1})]
    assert store.label_row_count(DEP) == 6 and store.label_row_count("other") == 0
    with pytest.raises(StoreInputError, match="key"):
        store.save_labels([LabelRecord(DEP, "x" * 65, NOW, "v1", "1", None, "1", "f")], 60, _count_rows)


def test_predictions_are_kept_with_their_batch_and_pruned_after_their_retention(store_url: str) -> None:
    store = Store.open(store_url)
    old = PredictionRecord(DEP, "old", NOW - timedelta(seconds=PREDICTION_RETENTION_S + 60), "v1", (0.9,), ("1",))
    new = PredictionRecord(DEP, "new", NOW - timedelta(minutes=1), "v1", (0.8, 0.7), ("1", "0"))
    store.write_batch(CollectionBatch("local", predictions=(old,)),
                      CollectionRun("a", "local", old.at, old.at + timedelta(seconds=1), "ok"))
    assert [p.request_id for p in store.load_predictions(["old"])] == ["old"]
    store.write_batch(CollectionBatch("local", predictions=(new,)), CollectionRun("b", "local", NOW, NOW, "ok"))
    assert store.load_predictions(["old", "new"]) == [new]
    assert store.load_predictions(["new"], deployment="local:local:other") == []
    too_many = PredictionRecord(DEP, "big", NOW, "v1", (0.5,) * 101, ("1",) * 101)
    with pytest.raises(StoreInputError, match="more than 100 rows"):
        store.write_batch(CollectionBatch("local", predictions=(too_many,)),
                          CollectionRun("c", "local", NOW, NOW, "ok"))
