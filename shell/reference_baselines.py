"""The reference models' drift baselines (the demo's v1 and v2), built from their held-out predictions and
inputs shipped in ``reference_service/model/`` and kept in the store, versioned with the model's sha256.
The held-out sets carry their true labels too, so each baseline also carries its label calibration
(``quality.reference_calibration``): the demo's quality estimates use it rather than the raw scores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from drift import Baseline, CategoricalColumn, build_baseline
from inferwatch.store import Store
from quality import reference_calibration
from readmodels.baselines import HELD_OUT_SOURCE

MODEL_DIR = Path(__file__).resolve().parents[1] / "reference_service" / "model"
MODEL_VERSIONS = ("v1", "v2")


def baseline_id(version: str, sha256: str) -> str:
    return f"model-{version}-{sha256[:12]}"


def heldout_signals(version: str, model_dir: Path = MODEL_DIR) -> tuple[dict[str, Any], dict[str, Any]]:
    """(signals, model card) of one model version: score, class and every input feature."""
    card = json.loads((model_dir / f"{version}.card.json").read_text(encoding="utf-8"))
    data = np.load(model_dir / card["heldout_file"])
    signals: dict[str, Any] = {"score": data["scores"], "class": data["labels"]}
    for j, name in enumerate(card["feature_names"]):
        signals[f"feature:{name}"] = data["inputs"][:, j]
    return signals, card


def model_baseline(version: str, model_dir: Path = MODEL_DIR) -> tuple[str, Baseline]:
    """(id, baseline) of one model version, calibrated with the held-out set's true labels."""
    signals, card = heldout_signals(version, model_dir)
    baseline = build_baseline(signals, categorical={"class"}, model_sha256=card["sha256"], version=version)
    classes = baseline.column("class")
    assert isinstance(classes, CategoricalColumn)  # built as categorical just above
    with np.load(model_dir / card["heldout_file"]) as data:
        truth = data["truth"]
    calibrated = reference_calibration(baseline, classes.categories, signals["score"], signals["class"], truth)
    return baseline_id(version, card["sha256"]), calibrated


def ensure_model_baselines(store: Store, now: datetime | None = None) -> dict[str, str]:
    """Create the held-out baseline of each reference model once; returns version -> baseline id."""
    out = {}
    for version in MODEL_VERSIONS:
        bid, baseline = model_baseline(version)
        if not store.has_baseline(bid):  # present, even corrupted: kept for the operator to see and recreate
            store.save_baseline(bid, model_version=version, model_sha256=baseline.model_sha256,
                                source=f"{HELD_OUT_SOURCE}{version}", payload=baseline.to_dict(),
                                created_at=now or datetime.now(UTC))
        out[version] = bid
    return out
