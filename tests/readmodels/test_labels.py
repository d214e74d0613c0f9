"""Labels ingested by request id or by timestamp: stored once however often a file is ingested, a
corrected label replacing the old one, and every bad row refused alone with one message while the
others are stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from drift import build_baseline
from inferwatch.schema import CollectionBatch, CollectionRun, Deployment, PredictionRecord
from inferwatch.store import Store
from readmodels.labels import LabelInput, ingest_labels
from readmodels.quality import latest_quality
from tests.readmodels.quality_data import DEP, Served, collect, serve

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def served() -> list[Served]:
    return serve(NOW, minutes=20, per_minute=20, shift_after_min=None)


@pytest.fixture()
def store(tmp_path: Path, served: list[Served]) -> Store:
    store = Store.open(f"sqlite:///{tmp_path / 'inferwatch.db'}")
    collect(store, tmp_path, served, NOW)
    return store


def _by_request(served: list[Served], *, flip: bool = False) -> list[LabelInput]:
    out = []
    for i, s in enumerate(served):
        for row, truth in enumerate(s.truth):
            label = ("1" if truth == "0" else "0") if flip else truth
            out.append(LabelInput(line=i + 2, label=label, request_id=s.request_id, row=row))
    return out


def _realised(store: Store) -> tuple[int, float]:
    q = latest_quality(store, NOW, window_s=3600).deployments[DEP.id]
    assert q.latest is not None and q.latest.realised is not None
    return q.latest.realised.n, q.latest.realised.metric("accuracy").value


def test_the_same_labels_twice_count_once_and_a_correction_replaces(store: Store, served: list[Served]) -> None:
    items = _by_request(served)
    first = ingest_labels(store, items, now=NOW, source="a.csv", step_s=60)
    n, acc = _realised(store)
    again = ingest_labels(store, items, now=NOW, source="a-copy.csv", step_s=60)
    assert first.new_count == len(items) and again.new_count == 0 and again.stored_count == len(items)
    assert _realised(store) == (n, acc) and n == len(items) and store.label_row_count(DEP.id) == len(items)
    ingest_labels(store, _by_request(served, flip=True), now=NOW, source="corrected.csv", step_s=60)
    assert _realised(store) == (n, pytest.approx(1 - acc))


def test_identical_timestamp_rows_in_one_file_are_two_predictions(store: Store) -> None:
    at = NOW - timedelta(minutes=5)
    twice = [LabelInput(line=i, label="1", deployment=DEP.id, at=at, predicted="1", score=0.9) for i in (2, 3)]
    assert ingest_labels(store, twice, now=NOW, source="t.csv", step_s=60).new_count == 2
    assert ingest_labels(store, twice, now=NOW, source="t.csv", step_s=60).new_count == 0
    assert store.label_row_count(DEP.id) == 2


def test_unknown_request_ids_are_counted_and_the_rest_stored(store: Store, served: list[Served]) -> None:
    items = _by_request(served[:50]) + [LabelInput(line=900 + i, label="1", request_id=f"gone-{i}") for i in range(7)]
    report = ingest_labels(store, items, now=NOW, source="a.csv", step_s=60)
    assert report.unmatched_count == 7 and report.error_count == 0 and report.stored_count == len(items) - 7


def test_each_bad_row_is_refused_alone_with_one_message(store: Store, served: list[Served]) -> None:
    reg = Deployment(id="aws:eu-west-1:price", provider="aws", region="eu-west-1", name="price", service="price",
                     model_version="price-3")
    other = Deployment(id="local:local:twin", provider="local", region="local", name="twin", service="twin")
    store.write_batch(CollectionBatch("aws", (reg, other)), CollectionRun("r", "aws", NOW, NOW, "ok"))
    at = NOW - timedelta(minutes=3)
    s = served[0]
    bad = [
        LabelInput(line=2, label="cat", request_id=s.request_id),  # not a class of v1
        LabelInput(line=3, label="1", request_id=s.request_id, row=5),  # the request predicted one row
        LabelInput(line=4, label="cat", deployment="price", at=at, predicted="101.5"),  # a regressor's label
        LabelInput(line=5, label="12.5", deployment="price", at=at, predicted="dog"),  # a regressor's prediction
        LabelInput(line=6, label="1", deployment="nowhere", at=at, predicted="1"),  # unknown deployment
        LabelInput(line=7, label="1", deployment=DEP.id, at=NOW + timedelta(hours=2), predicted="1"),  # future
        LabelInput(line=8, label="1", deployment=DEP.id, at=at, predicted="1", score=1.5),  # not a probability
        LabelInput(line=9, label="1", at=at, predicted="1"),  # no deployment and no request id
        LabelInput(line=10, label="1", deployment="twin", at=at, predicted="1"),  # no model version
    ]
    good = _by_request(served[1:40])
    report = ingest_labels(store, bad + good, now=NOW, source="mixed.csv", step_s=60)
    messages = {e.line: e.message for e in report.errors}
    assert report.error_count == len(bad) == len(messages) and report.stored_count == len(good)
    assert "label 'cat' is not a class of model 'v1' (classes: 1, 0)" in messages[2]
    assert "predicted 1 row(s): there is no row 5" in messages[3]
    assert "label 'cat' is not a number" in messages[4] and "regressor" in messages[4]
    assert "prediction 'dog' is not a number" in messages[5]
    assert "deployment 'nowhere' is not in the store" in messages[6]
    assert "in the future" in messages[7]
    assert "score 1.5 is not a probability" in messages[8]
    assert "no deployment" in messages[9]
    assert "no model version" in messages[10]
    assert _realised(store)[0] == len(good)


def test_a_baseline_with_scores_but_no_classes_cannot_take_labels(store: Store) -> None:
    odd = Deployment(id="local:local:odd", provider="local", region="local", name="odd", service="odd",
                     model_version="odd-1")
    store.write_batch(CollectionBatch("local", (odd,)), CollectionRun("r3", "local", NOW, NOW, "ok"))
    baseline = build_baseline({"score": np.linspace(0.5, 1.0, 300)}, categorical=(), model_sha256="1" * 64,
                              version="odd-1")
    store.save_baseline("odd-b", service="odd", model_version="odd-1", model_sha256="1" * 64, source="test",
                        payload=baseline.to_dict(), created_at=NOW)
    report = ingest_labels(store, [LabelInput(line=2, label="1", deployment="odd", at=NOW, predicted="1")], now=NOW,
                           source="a.csv", step_s=60)
    assert report.error_count == 1 and "has a score or a class signal but not both" in report.errors[0].message


def test_a_request_id_two_deployments_answered_needs_the_deployment(store: Store, served: list[Served],
                                                                     tmp_path: Path) -> None:
    s = served[0]
    twin = Deployment(id="local:local:scorer-v1b", provider="local", region="local", name="scorer-v1b",
                      service="scorer", model_version="v1")
    kept = PredictionRecord(twin.id, s.request_id, s.at, "v1", s.scores, s.classes)
    store.write_batch(CollectionBatch("local", (twin,), predictions=(kept,)),
                      CollectionRun("r2", "local", NOW, NOW, "ok"))
    report = ingest_labels(store, [LabelInput(line=2, label="1", request_id=s.request_id)], now=NOW, source="a.csv",
                           step_s=60)
    assert report.error_count == 1 and "was answered by local:local:scorer-v1, local:local:scorer-v1b" in \
        report.errors[0].message
    named = ingest_labels(store, [LabelInput(line=2, label="1", request_id=s.request_id)], now=NOW, source="a.csv",
                          step_s=60, deployment="scorer-v1b")
    assert named.stored_count == 1 and named.per_deployment == {twin.id: 1}
