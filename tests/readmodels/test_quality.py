"""Quality per window from the store: the demo's model v1 (real ONNX inference, read by the real local
collector) estimated from its score histograms with its baseline's calibration, realised from labels
ingested by request id or by timestamp, against the baseline's own level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from drift import UnreadableBaselineError
from inferwatch.schema import CollectionBatch, CollectionRun, Deployment
from inferwatch.store import Store
from quality import POSITIVE_CLASS
from readmodels.labels import LabelInput, ingest_labels
from readmodels.quality import deployment_quality, latest_quality, load_quality
from shell.labels_file import read_label_file
from tests.readmodels.quality_data import DEP, Served, accuracy, collect, label_csv, serve

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def served() -> list[Served]:
    return serve(NOW, shift_sd=2.0)


@pytest.fixture()
def store(tmp_path: Path, served: list[Served]) -> Store:
    store = Store.open(f"sqlite:///{tmp_path / 'inferwatch.db'}")
    collect(store, tmp_path, served, NOW)
    return store


def test_estimated_and_realised_quality_per_window_against_the_baseline(tmp_path: Path, store: Store,
                                                                         served: list[Served]) -> None:
    rows, errors = read_label_file(label_csv(served, tmp_path / "labels.csv", every=2))
    report = ingest_labels(store, rows, now=NOW, source="labels.csv", step_s=60)
    assert not errors and report.error_count == 0 and report.stored_count == len(rows)
    loaded = load_quality(store, NOW, window_s=900, n_windows=4)
    q = loaded.deployments[DEP.id]
    assert (q.kind, q.score_meaning, q.model_version) == ("binary", POSITIVE_CLASS, "v1")  # the probe's score
    assert q.reference is not None and q.reference.metric("accuracy").value == pytest.approx(0.97076, abs=1e-4)
    assert q.calibration is not None and q.calibration.calibrated  # v1's held-out scores match its labels
    estimated, realised = [], []
    for w in q.windows:
        assert w.estimate is not None and w.estimate.calibrated and w.realised is not None
        # positive-class scores: the histogram is the joint distribution, so precision and recall follow too
        assert {"accuracy", "precision", "recall", "f1"} <= {m.metric for m in w.estimate.metrics}
        assert w.realised.metric("accuracy").value == pytest.approx(accuracy(served[::2], w.start, w.end))
        estimated.append(w.estimate.metric("accuracy"))
        realised.append(w.realised.metric("accuracy").value)
    for est, value in zip(estimated[:2], realised[:2], strict=True):  # unshifted traffic: the band holds it
        assert est.low is not None and est.high is not None and est.low - 0.01 <= value <= est.high + 0.01
    drop_estimated = np.mean([e.value for e in estimated[:2]]) - np.mean([e.value for e in estimated[2:]])
    drop_realised = np.mean(realised[:2]) - np.mean(realised[2:])
    assert drop_estimated > 0.01 and drop_realised > 0.08  # the shifted inputs cost accuracy, seen both ways


def test_the_latest_window_alone_and_one_deployment(store: Store) -> None:
    latest = latest_quality(store, NOW, window_s=3600).deployments[DEP.id]
    assert len(latest.windows) == 1 and latest.latest is not None and latest.latest.realised is None
    assert latest.latest.estimate is not None and latest.latest.estimate.n > 2_000
    one = deployment_quality(store, NOW, DEP.id, window_s=600, n_windows=2)
    assert not isinstance(one, UnreadableBaselineError) and one is not None and len(one.windows) == 2
    assert deployment_quality(store, NOW, "local:local:nothing", window_s=600, n_windows=2) is None


def test_a_regressor_gets_realised_errors_and_no_estimate(store: Store) -> None:
    reg = Deployment(id="aws:eu-west-1:price", provider="aws", region="eu-west-1", name="price", service="price",
                     model_version="price-3")
    store.write_batch(CollectionBatch("aws", (reg,)), CollectionRun("r", "aws", NOW, NOW, "ok"))
    rng = np.random.default_rng(1)
    predicted, truth = rng.normal(100, 10, 200), rng.normal(100, 10, 200)
    items = [LabelInput(line=i + 2, label=repr(float(t)), deployment="price", predicted=repr(float(p)),
                        at=NOW - timedelta(minutes=50) + timedelta(seconds=10 * i))
             for i, (p, t) in enumerate(zip(predicted, truth, strict=True))]
    report = ingest_labels(store, items, now=NOW, source="prices.csv", step_s=60)
    assert report.error_count == 0 and report.stored_count == 200
    q = latest_quality(store, NOW, window_s=3600).deployments[reg.id]
    assert q.kind == "regressor" and q.score_meaning is None and q.reference is None
    w = q.windows[0]
    assert w.estimate is None and w.realised is not None
    assert w.realised.metric("mae").value == pytest.approx(float(np.mean(np.abs(predicted - truth))))
    assert w.realised.metric("rmse").value == pytest.approx(float(np.sqrt(np.mean((predicted - truth) ** 2))))


def test_an_unreadable_baseline_costs_its_deployments_quality_only(store: Store) -> None:
    bid = load_quality(store, NOW).deployments[DEP.id].baseline_id
    store.save_baseline(bid, service=DEP.service, model_version="v1", model_sha256="0" * 64,
                        source="held-out set of model v1", payload={"format": 1}, created_at=NOW)
    loaded = load_quality(store, NOW)
    assert DEP.id not in loaded.deployments and bid in str(loaded.unreadable[DEP.id])
    assert isinstance(deployment_quality(store, NOW, DEP.id, window_s=900, n_windows=3), UnreadableBaselineError)
