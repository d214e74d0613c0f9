from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from reference_service.errors import ModelLoadError
from reference_service.model import PACKAGED_MODEL_DIR, VERSIONS, LazyModel, ModelCard, OnnxModel, onnx_loader


@pytest.mark.parametrize("version", VERSIONS)
def test_committed_model_matches_its_card_and_heldout_predictions(version: str) -> None:
    card = ModelCard.load(version)
    raw = (PACKAGED_MODEL_DIR / card.onnx_file).read_bytes()
    assert len(raw) < 1_000_000 and hashlib.sha256(raw).hexdigest() == card.sha256
    assert card.n_features == 30 and len(card.valid_min) == len(card.valid_max) == 30
    assert card.classes == ("malignant", "benign") and abs(sum(card.class_priors) - 1) < 1e-6
    held = np.load(PACKAGED_MODEL_DIR / f"heldout_{version}.npz")
    pred = OnnxModel(card, PACKAGED_MODEL_DIR).predict(held["inputs"])
    np.testing.assert_allclose(pred.probabilities, held["probabilities"], atol=1e-5)
    assert (pred.labels == held["labels"]).all()
    np.testing.assert_allclose(pred.scores, held["scores"], atol=1e-5)
    assert (held["inputs"] >= np.array(card.valid_min)).all() and (held["inputs"] <= np.array(card.valid_max)).all()


def test_card_json_names_what_the_issue_asks_for() -> None:
    doc = json.loads((PACKAGED_MODEL_DIR / "v2.card.json").read_text())
    for key in ("feature_names", "dtype", "valid_min", "valid_max", "classes", "version", "sha256"):
        assert key in doc


def test_versions_disagree_somewhere() -> None:
    held = np.load(PACKAGED_MODEL_DIR / "heldout_v1.npz")["inputs"]
    a = OnnxModel(ModelCard.load("v1"), PACKAGED_MODEL_DIR).predict(held)
    b = OnnxModel(ModelCard.load("v2"), PACKAGED_MODEL_DIR).predict(held)
    assert 0 < (a.labels != b.labels).sum() < len(held) // 4


def test_unknown_version_and_missing_file_are_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError):
        ModelCard.load("v9")
    with pytest.raises(ModelLoadError) as info:
        OnnxModel(ModelCard.load("v1"), tmp_path)
    assert "v1.onnx" in info.value.path


def test_tampered_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "v1.onnx").write_bytes((PACKAGED_MODEL_DIR / "v1.onnx").read_bytes() + b"\0")
    with pytest.raises(ModelLoadError, match="sha256"):
        OnnxModel(ModelCard.load("v1"), tmp_path)


def test_lazy_model_recovers_once_the_file_appears(tmp_path: Path) -> None:
    now = [0.0]
    lazy = LazyModel("v1", onnx_loader(ModelCard.load("v1"), tmp_path), retry_interval_s=1.0, clock=lambda: now[0])
    x = np.load(PACKAGED_MODEL_DIR / "heldout_v1.npz")["inputs"][:2]
    with pytest.raises(ModelLoadError):
        lazy.predict(x)
    shutil.copy(PACKAGED_MODEL_DIR / "v1.onnx", tmp_path / "v1.onnx")
    now[0] = 0.5
    with pytest.raises(ModelLoadError):  # within the retry interval: not tried again yet
        lazy.predict(x)
    now[0] = 1.5
    assert lazy.predict(x).labels.shape == (2,) and lazy.ready
