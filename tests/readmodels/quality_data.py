"""A store filled the way the demo fills it, with labels known: the reference model v1 (real ONNX
inference) answers requests sampled from its held-out set, whose inputs shift after a while; its
invocation lines are read by the real local collector. Each request's true labels come from the
held-out set, for label files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from collectors.local import LocalCollector
from collectors.runner import run_one
from inferwatch.schema import Deployment, ModelKey
from inferwatch.store import Store
from readmodels.baselines import baseline_for
from reference_service.model import ModelCard, OnnxModel
from shell.reference_baselines import MODEL_DIR, ensure_model_baselines

DEP = Deployment(id="local:local:scorer-v1", provider="local", region="local", name="scorer-v1", service="scorer",
                 model_version="v1")
SHIFTED = ("mean radius", "mean texture", "worst area")  # the demo's drifted features


@dataclass(frozen=True, slots=True)
class Served:
    """One answered request: its id, time, and per row the score, predicted class and true label."""

    request_id: str
    at: datetime
    scores: tuple[float, ...]
    classes: tuple[str, ...]
    truth: tuple[str, ...]
    inputs: dict[str, tuple[float, ...]]  # feature -> the rows' values (the invocation line's input summary)


def _line(s: Served) -> str:
    doc = {"_aws": {"Timestamp": int(s.at.timestamp() * 1000), "CloudWatchMetrics": []},
           "Deployment": DEP.name, "ModelVersion": "v1", "Role": "stable", "RequestId": s.request_id,
           "Status": "ok", "LatencyMs": 3.0, "ColdStart": 0, "InitMs": 0.0, "MemoryMb": 512,
           "MaxMemoryUsedMb": 120.0, "Rows": len(s.scores), "PredictionScore": list(s.scores),
           "PredictedClass": [int(c) for c in s.classes], "InputSummary": s.inputs}
    return json.dumps(doc)


def serve(now: datetime, *, minutes: int = 60, per_minute: int = 40, shift_after_min: int | None = 30,
          shift_sd: float = 3.0, seed: int = 0) -> list[Served]:
    """Requests over the ``minutes`` before ``now`` (1 row each, every 8th has 3); from
    ``shift_after_min`` on, three inputs are shifted by ``shift_sd`` held-out standard deviations."""
    card = ModelCard.load("v1")
    model = OnnxModel(card, MODEL_DIR)
    with np.load(MODEL_DIR / "heldout_v1.npz") as data:
        inputs, truth = data["inputs"], data["truth"]
    sd = inputs.std(axis=0)
    shift = np.zeros(inputs.shape[1], dtype=np.float32)
    shift[[list(card.feature_names).index(f) for f in SHIFTED]] = shift_sd * sd[[list(card.feature_names).index(f)
                                                                                  for f in SHIFTED]]
    rng = np.random.default_rng(seed)
    start = now - timedelta(minutes=minutes)
    out = []
    for minute in range(minutes):
        for i in range(per_minute):
            rows = 3 if i % 8 == 7 else 1
            idx = rng.integers(0, len(truth), rows)
            x = inputs[idx] * (1 + rng.normal(0, 0.01, (rows, inputs.shape[1]))).astype(np.float32)
            if shift_after_min is not None and minute >= shift_after_min:
                x = x + shift
            x = np.clip(x, 0, None).astype(np.float32)
            answer = model.predict(x)
            at = start + timedelta(minutes=minute, seconds=(i + 0.5) * 60 / per_minute)
            positive = answer.probabilities[:, 1]  # the reference service's score: the positive class's, as the probe's
            out.append(Served(f"req-{minute}-{i}", at, tuple(float(v) for v in positive),
                              tuple(str(int(c)) for c in answer.labels), tuple(str(int(t)) for t in truth[idx]),
                              {name: tuple(float(v) for v in x[:, j]) for j, name in enumerate(card.feature_names)}))
    return out


def collect(store: Store, home: Path, served: list[Served], now: datetime) -> None:
    """Write the invocation lines and run the real local collector over them, as collection does."""
    ensure_model_baselines(store, [ModelKey(DEP.service, "v1")])
    path = home / "telemetry" / DEP.name / "instance-1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(_line(s) + "\n" for s in served), encoding="utf-8")
    collector = LocalCollector(home, [DEP], step_s=60, grace_s=30, lookback_s=3 * 3600,
                               baselines=lambda key: baseline_for(store, key))
    run = run_one(store, collector, clock=lambda: now)
    assert run.status == "ok", run


def label_csv(served: list[Served], path: Path, *, every: int = 1) -> Path:
    """A request-id label file for every ``every``-th request (all rows of it)."""
    lines = ["request_id,row,label"]
    for s in served[::every]:
        lines += [f"{s.request_id},{row},{label}" for row, label in enumerate(s.truth)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def accuracy(served: list[Served], start: datetime, end: datetime) -> float:
    pairs = [(c, t) for s in served if start <= s.at < end for c, t in zip(s.classes, s.truth, strict=True)]
    return float(np.mean([c == t for c, t in pairs]))


def utc_minute(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(second=0, microsecond=0)
