"""The local collector keeps what each ok request was answered, so labels arriving later by request id
find their prediction: once per request however often its lines are re-read, at most 100 rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collectors.local import LocalCollector
from collectors.runner import run_one
from inferwatch.schema import Deployment
from inferwatch.store import Store

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DEP = Deployment(id="local:local:scorer-v1", provider="local", region="local", name="scorer-v1",
                 service="scorer", model_version="v1")


def _line(at: datetime, request_id: str, status: str, rows: int) -> str:
    return json.dumps({"_aws": {"Timestamp": int(at.timestamp() * 1000), "CloudWatchMetrics": []},
                       "Deployment": "scorer-v1", "ModelVersion": "v1", "RequestId": request_id, "Status": status,
                       "LatencyMs": 2.0, "Rows": rows, "PredictionScore": [0.75] * rows,
                       "PredictedClass": [1] * rows}) + "\n"


def test_ok_answers_are_kept_per_request_once(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    f = tmp_path / "telemetry" / "scorer-v1" / "i1.jsonl"
    f.parent.mkdir(parents=True)
    f.write_text(_line(T0, "a", "ok", 2) + _line(T0 + timedelta(seconds=5), "b", "degraded", 1)
                 + _line(T0 + timedelta(seconds=6), "c", "error", 0)
                 + _line(T0 + timedelta(seconds=70), "d", "ok", 150), encoding="utf-8")
    collector = LocalCollector(tmp_path, [DEP], step_s=60, grace_s=30)
    for _ in range(2):  # the open step is read again on the next run
        run_one(store, collector, clock=lambda: T0 + timedelta(seconds=100))
    kept = {p.request_id: p for p in store.load_predictions(["a", "b", "c", "d"])}
    assert sorted(kept) == ["a", "d"]  # a degraded answer is a fallback, not the model's prediction
    assert kept["a"].scores == (0.75, 0.75) and kept["a"].classes == ("1", "1") and kept["a"].at == T0
    assert kept["a"].deployment == DEP.id and kept["a"].model_version == "v1"
    assert len(kept["d"].scores) == len(kept["d"].classes) == 100  # the first 100 rows, as EMF keeps them


def test_string_labels_regression_values_and_nan_scores_are_kept(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    base = {"_aws": {"Timestamp": int(T0.timestamp() * 1000), "CloudWatchMetrics": []}, "Deployment": "scorer-v1",
            "ModelVersion": "v1", "Status": "ok", "LatencyMs": 2.0, "Rows": 2}
    lines = [base | {"RequestId": "s", "PredictionScore": [0.9, "NaN"], "PredictedLabel": ["cat", "dog"]},
             base | {"RequestId": "v", "PredictionValue": [3.5, 7.25]}]
    f = tmp_path / "telemetry" / "scorer-v1" / "i1.jsonl"
    f.parent.mkdir(parents=True)
    f.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    run_one(store, LocalCollector(tmp_path, [DEP], step_s=60, grace_s=30), clock=lambda: T0 + timedelta(seconds=100))
    kept = {p.request_id: p for p in store.load_predictions(["s", "v"])}
    assert kept["s"].classes == ("cat", "dog") and kept["s"].scores == (0.9, None)
    assert kept["v"].values == (3.5, 7.25) and kept["v"].classes == ()
