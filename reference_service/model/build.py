"""Build the reference models: ``python reference_service/model/build.py``.

Trains two small classifiers on scikit-learn's bundled breast-cancer dataset (30 float features, two
classes; nothing is downloaded), exports them to ONNX with skl2onnx and writes, per version:

- ``<version>.onnx``: input ``input`` float32 [n, 30]; outputs ``label`` int64 [n] and
  ``probabilities`` float32 [n, 2] (no ZipMap, so the service reads plain tensors);
- ``<version>.card.json``: feature names, dtype, valid ranges, classes and priors, sha256 of the ONNX file;
- ``heldout_<version>.npz``: held-out inputs and that version's predictions, the default drift baseline.

v1 is a standardised logistic regression, v2 a shallow random forest: different enough that version
comparisons (canary, shadow) have something to find. Valid ranges come from the training data, widened
by three observed spans on each side (and floored at 0 for features that are never negative), so shifted
but plausible inputs are still served (drift is for the monitor to see, not for the validator to refuse)
while absurd values get a 400. Only this script needs scikit-learn and skl2onnx.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

MODEL_DIR = Path(__file__).resolve().parent
SEED = 20261124
HELDOUT_SHARE = 0.3
OPSET = 15
SPAN_MARGIN = 3.0  # valid range = training range widened by this many spans each side


def _estimators() -> dict[str, Pipeline]:
    return {
        "v1": make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=5000, random_state=SEED)),
        "v2": make_pipeline(
            StandardScaler(), RandomForestClassifier(n_estimators=40, max_depth=5, random_state=SEED)
        ),
    }


def _valid_ranges(x_train: NDArray[np.float64]) -> tuple[list[float], list[float], list[float], list[float]]:
    lo, hi = x_train.min(axis=0), x_train.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    valid_lo = np.where(lo >= 0, 0.0, lo - SPAN_MARGIN * span)
    valid_hi = hi + SPAN_MARGIN * span
    return lo.tolist(), hi.tolist(), valid_lo.tolist(), valid_hi.tolist()


def _card(version: str, sha256: str, names: list[str], x_train: NDArray[np.float64],
          y_train: NDArray[np.int64], accuracy: float, n_heldout: int, estimator: str) -> dict[str, Any]:
    obs_lo, obs_hi, valid_lo, valid_hi = _valid_ranges(x_train)
    priors = np.bincount(y_train, minlength=2) / y_train.size
    return {
        "name": "breast-cancer-classifier",
        "version": version,
        "estimator": estimator,
        "onnx_file": f"{version}.onnx",
        "sha256": sha256,
        "input_name": "input",
        "output_names": ["label", "probabilities"],
        "dtype": "float32",
        "n_features": len(names),
        "feature_names": names,
        "valid_min": valid_lo,
        "valid_max": valid_hi,
        "observed_min": obs_lo,
        "observed_max": obs_hi,
        "classes": ["malignant", "benign"],
        "class_priors": [round(float(p), 6) for p in priors],
        "training": {
            "dataset": "sklearn.datasets.load_breast_cancer",
            "seed": SEED,
            "n_train": int(y_train.size),
            "n_heldout": n_heldout,
            "heldout_accuracy": round(accuracy, 6),
        },
        "heldout_file": f"heldout_{version}.npz",
    }


def build(out_dir: Path = MODEL_DIR) -> dict[str, dict[str, Any]]:
    data = load_breast_cancer()
    names = [str(n) for n in data.feature_names]
    x = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    x_train, x_held, y_train, y_held = train_test_split(
        x, y, test_size=HELDOUT_SHARE, random_state=SEED, stratify=y
    )
    cards: dict[str, dict[str, Any]] = {}
    for version, pipeline in _estimators().items():
        pipeline.fit(x_train.astype(np.float32), y_train)
        onx = to_onnx(
            pipeline, x_train[:1].astype(np.float32), target_opset=OPSET,
            options={id(pipeline.steps[-1][1]): {"zipmap": False}},
            final_types=None,
        )
        _rename_io(onx)
        raw = onx.SerializeToString()
        (out_dir / f"{version}.onnx").write_bytes(raw)
        proba = pipeline.predict_proba(x_held.astype(np.float32)).astype(np.float32)
        labels = proba.argmax(axis=1).astype(np.int64)
        accuracy = float((labels == y_held).mean())
        card = _card(version, hashlib.sha256(raw).hexdigest(), names, x_train, y_train, accuracy,
                     int(y_held.size), type(pipeline.steps[-1][1]).__name__)
        (out_dir / f"{version}.card.json").write_text(json.dumps(card, indent=2) + "\n")
        np.savez_compressed(
            out_dir / f"heldout_{version}.npz", inputs=x_held.astype(np.float32), labels=labels,
            scores=proba.max(axis=1), probabilities=proba, truth=y_held, feature_names=np.array(names),
        )
        cards[version] = card
    return cards


def _rename_io(onx: Any) -> None:
    """Stable tensor names (skl2onnx derives them from the pipeline), so the service can rely on them."""
    mapping = {onx.graph.input[0].name: "input"}
    label, proba = onx.graph.output[0].name, onx.graph.output[1].name
    mapping.update({label: "label", proba: "probabilities"})
    for node in onx.graph.node:
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
    onx.graph.input[0].name = "input"
    onx.graph.output[0].name = "label"
    onx.graph.output[1].name = "probabilities"


if __name__ == "__main__":
    for v, c in build().items():
        size = (MODEL_DIR / c["onnx_file"]).stat().st_size
        print(f"{v}: {c['estimator']} heldout accuracy {c['training']['heldout_accuracy']:.3f}, {size} bytes")
