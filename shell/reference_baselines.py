"""The reference models' drift baselines (the demo's v1 and v2), built from their held-out predictions and
inputs shipped in ``reference_service/model/`` and kept in the store, one per service that serves them
(a baseline is keyed by service and model: :class:`ModelKey`), so they can never stand in for another
service's model that happens to be called ``v1`` too.
The held-out sets carry their true labels too, so each baseline also carries its label calibration
(``quality.reference_calibration``): the demo's quality estimates use it rather than the raw scores."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from drift import Baseline, CategoricalColumn, build_baseline
from inferwatch.config import LocalDeploymentConfig, Settings
from inferwatch.schema import ModelKey
from inferwatch.store import Store
from quality import reference_calibration
from readmodels.baselines import HELD_OUT_SOURCE, new_baseline_id

MODEL_DIR = Path(__file__).resolve().parents[1] / "reference_service" / "model"
MODEL_VERSIONS = ("v1", "v2")


def heldout_signals(version: str, model_dir: Path = MODEL_DIR) -> tuple[dict[str, Any], dict[str, Any]]:
    """(signals, model card) of one model version: score, class and every input feature, as the probe
    reports them (the models are binary: the score is the positive class's probability)."""
    card = json.loads((model_dir / f"{version}.card.json").read_text(encoding="utf-8"))
    data = np.load(model_dir / card["heldout_file"])
    signals: dict[str, Any] = {"score": data["probabilities"][:, 1], "class": data["labels"]}
    for j, name in enumerate(card["feature_names"]):
        signals[f"feature:{name}"] = data["inputs"][:, j]
    return signals, card


def model_baseline(version: str, model_dir: Path = MODEL_DIR) -> Baseline:
    """The baseline of one model version, calibrated with the held-out set's true labels."""
    signals, card = heldout_signals(version, model_dir)
    baseline = build_baseline(signals, categorical={"class"}, model_sha256=card["sha256"], version=version)
    classes = baseline.column("class")
    assert isinstance(classes, CategoricalColumn)  # built as categorical just above
    with np.load(model_dir / card["heldout_file"]) as data:
        truth = data["truth"]
    return reference_calibration(baseline, classes.categories, signals["score"], signals["class"], truth)


def reference_baseline_id(service: str, version: str) -> str:
    """The id of the held-out baseline of reference model ``version`` for ``service``."""
    baseline = model_baseline(version)
    return new_baseline_id(ModelKey(service, version, baseline.model_sha256), baseline)


def reference_keys(settings: Settings) -> list[ModelKey]:
    """The models of the configured local deployments that serve a reference model (no ``model_path``
    of their own), by service."""
    keys: dict[ModelKey, None] = {}
    for d in settings.deployments:
        if isinstance(d, LocalDeploymentConfig) and getattr(d, "model_path", None) is None \
                and d.model_version in MODEL_VERSIONS:
            keys[ModelKey(d.service or d.name, d.model_version)] = None
    return list(keys)


def ensure_model_baselines(store: Store, keys: Iterable[ModelKey], now: datetime | None = None) -> dict[ModelKey, str]:
    """Create the held-out baseline of each reference model once per service; returns key -> baseline id."""
    out = {}
    built: dict[str, Baseline] = {}
    for key in keys:
        if key.model_version not in built:
            built[key.model_version] = model_baseline(key.model_version)
        baseline = built[key.model_version]
        bound = ModelKey(key.service, key.model_version, baseline.model_sha256)
        bid = new_baseline_id(bound, baseline)
        if not store.has_baseline(bid):  # present, even corrupted: kept for the operator to see and recreate
            store.save_baseline(bid, service=key.service, model_version=key.model_version,
                                model_sha256=baseline.model_sha256, source=f"{HELD_OUT_SOURCE}{key.model_version}",
                                payload=baseline.to_dict(), created_at=now or datetime.now(UTC))
        out[key] = bid
    return out
