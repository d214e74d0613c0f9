"""Quality without labels: Inferwatch's estimate from score histograms vs NannyML CBPE vs realised.

Data (generated here): six correlated Gaussian features, labels from a fixed logistic (binary) or
softmax (3 classes) concept, so the concept never changes; covariate shift moves the mean of the
first feature by 0, 0, 0.5, 1, 1.5 and 2 in six analysis chunks of 5,000 rows. Models (scikit-learn)
trained on their own 20k rows: a logistic regression (well calibrated) and Gaussian naive Bayes
(badly calibrated: its features are correlated, so it is overconfident). The reference is another
20k labelled rows.

Inferwatch sees only what a serverless function ships: the reference's (top-class score, predicted
class, label) counted over the score baseline's bins (``ClassifierLabels``) and, per chunk, the
score histogram per predicted class (``ScoreHistogram``). NannyML's CBPE (0.13, defaults) gets the
raw reference and analysis rows, in its own environment (.venv-compare, via
bench/compare-env/cbpe.py). Realised values are scikit-learn's metrics on the chunk's labels.
The table also shows the estimate without the baseline's calibration (the raw confidence).
Run: ``.venv/bin/python bench/quality_estimate.py`` (writes bench/results/quality_estimate.json).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score
from sklearn.naive_bayes import GaussianNB

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drift import NumericColumn, build_baseline
from quality import ClassifierLabels, ScoreHistogram, estimate_performance

RESULTS = ROOT / "bench" / "results" / "quality_estimate.json"
COMPARE_PYTHON = ROOT / ".venv-compare" / "bin" / "python"
# no usage logging or telemetry from the comparison tools (also set inside their scripts)
NO_TELEMETRY = {"NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1", "ITERATIVE_DO_NOT_TRACK": "1",
                "EVIDENTLY_DISABLE_TELEMETRY": "1"}
ROWS, REFERENCE_ROWS, TRAIN_ROWS = 5_000, 20_000, 20_000
SHIFTS = (0.0, 0.0, 0.5, 1.0, 1.5, 2.0)
FEATURES = 6
BINARY_METRICS = ["accuracy", "precision", "recall", "roc_auc"]
MULTICLASS_METRICS = ["accuracy"]


def _features(rng: np.random.Generator, rows: int, shift: float) -> np.ndarray:
    cov = 0.6 * np.ones((FEATURES, FEATURES)) + 0.4 * np.eye(FEATURES)
    mean = np.zeros(FEATURES)
    mean[0] = shift
    return rng.multivariate_normal(mean, cov, rows)


def _labels(rng: np.random.Generator, x: np.ndarray, classes: int) -> np.ndarray:
    if classes == 2:
        logit = x @ np.array([1.2, -0.8, 0.6, 0.4, -0.3, 0.2]) - 0.3
        return (rng.random(x.shape[0]) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    weights = np.array([[1.0, -0.5, 0.3, 0.0, 0.2, -0.2], [-0.6, 0.9, -0.2, 0.4, 0.0, 0.1],
                        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    logits = x @ weights.T
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return (rng.random(x.shape[0])[:, None] > np.cumsum(p, axis=1)).sum(axis=1).astype(np.int64)


def _realised(proba: np.ndarray, pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    out = {"accuracy": float(accuracy_score(y, pred))}
    if proba.shape[1] == 2:
        out.update(precision=float(precision_score(y, pred)), recall=float(recall_score(y, pred)),
                   roc_auc=float(roc_auc_score(y, proba[:, 1])))
    return out


def _case(rng: np.random.Generator, model: ClassifierMixin, classes: int) -> dict[str, Any]:
    x_train = _features(rng, TRAIN_ROWS, 0.0)
    model.fit(x_train, _labels(rng, x_train, classes))
    x_ref = _features(rng, REFERENCE_ROWS, 0.0)
    y_ref = _labels(rng, x_ref, classes)
    chunks = [_features(rng, ROWS, s) for s in SHIFTS]
    y_cur = [_labels(rng, x, classes) for x in chunks]
    ref_proba = model.predict_proba(x_ref)
    cur_proba = np.vstack([model.predict_proba(x) for x in chunks])
    return {"ref_proba": ref_proba, "ref_pred": ref_proba.argmax(1), "ref_y": y_ref, "cur_proba": cur_proba,
            "cur_pred": cur_proba.argmax(1), "cur_y": np.concatenate(y_cur)}


def _ours(case: dict[str, Any], calibrated: bool) -> tuple[list[dict[str, Any]], float]:
    classes = tuple(str(k) for k in range(case["ref_proba"].shape[1]))
    start = time.perf_counter()
    ref_scores = case["ref_proba"].max(axis=1)
    baseline = build_baseline({"score": ref_scores, "class": case["ref_pred"]}, categorical=["class"],
                              model_sha256="0" * 64, version="bench")
    column = baseline.column("score")
    assert isinstance(column, NumericColumn)
    calibration = (ClassifierLabels.from_rows(column, classes, ref_scores, case["ref_pred"], case["ref_y"])
                   if calibrated else None)
    out = []
    for i in range(len(SHIFTS)):
        rows = slice(i * ROWS, (i + 1) * ROWS)
        proba = case["cur_proba"][rows]
        histogram = ScoreHistogram.from_rows(column, classes, proba.max(axis=1), case["cur_pred"][rows])
        estimate = estimate_performance(histogram, column, calibration)
        out.append({m.metric: [m.value, m.low, m.high] for m in estimate.metrics})
    return out, time.perf_counter() - start


def _nannyml(cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if not COMPARE_PYTHON.exists():
        raise SystemExit("the comparison environment is missing: run `make bench-compare-env` first")
    with tempfile.TemporaryDirectory() as tmp:
        arrays = {f"{name}:{key}": value for name, case in cases.items() for key, value in case.items()
                  if key != "cur_y"}
        np.savez(Path(tmp) / "data.npz", **arrays)
        metrics = {name: BINARY_METRICS if case["ref_proba"].shape[1] == 2 else MULTICLASS_METRICS
                   for name, case in cases.items()}
        (Path(tmp) / "meta.json").write_text(json.dumps({"cases": list(cases), "rows": ROWS, "metrics": metrics}))
        script = ROOT / "bench" / "compare-env" / "cbpe.py"
        subprocess.run([str(COMPARE_PYTHON), str(script), str(Path(tmp) / "data.npz"), str(Path(tmp) / "meta.json"),
                        str(Path(tmp) / "out.json")], check=True, timeout=1800, env={**os.environ, **NO_TELEMETRY})
        result: dict[str, Any] = json.loads((Path(tmp) / "out.json").read_text())
        return result


def _summary(realised: list[dict[str, float]], ours: list[dict[str, Any]], raw: list[dict[str, Any]],
             nannyml: dict[str, list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in realised[0]:
        truth = np.array([r[metric] for r in realised])
        mine = np.array([o[metric][0] for o in ours])
        covered = [o[metric][1] <= t <= o[metric][2] for o, t in zip(ours, truth,
                                                                     strict=True) if o[metric][1] is not None]
        out[metric] = {
            "realised": truth.tolist(), "inferwatch": mine.tolist(),
            "inferwatch_band": [o[metric][1:] for o in ours], "nannyml_cbpe": nannyml.get(metric),
            "inferwatch_mae": float(np.mean(np.abs(mine - truth))),
            "inferwatch_raw_confidence_mae": float(np.mean(np.abs(np.array([r[metric][0] for r in raw]) - truth))),
            "nannyml_mae": (float(np.mean(np.abs(np.array(nannyml[metric]) - truth))) if metric in nannyml else None),
            "band_coverage": float(np.mean(covered)) if covered else None,
        }
    return out


def main() -> dict[str, Any]:
    rng = np.random.default_rng(4)
    models = {"binary_logistic": (LogisticRegression(), 2), "binary_naive_bayes": (GaussianNB(), 2),
              "multiclass_logistic": (LogisticRegression(), 3), "multiclass_naive_bayes": (GaussianNB(), 3)}
    cases = {name: _case(rng, model, classes) for name, (model, classes) in models.items()}
    cbpe = _nannyml(cases)
    report: dict[str, Any] = {}
    for name, case in cases.items():
        ours, seconds = _ours(case, calibrated=True)
        raw, _ = _ours(case, calibrated=False)
        realised = [_realised(case["cur_proba"][i * ROWS:(i + 1) * ROWS], case["cur_pred"][i * ROWS:(i + 1) * ROWS],
                              case["cur_y"][i * ROWS:(i + 1) * ROWS]) for i in range(len(SHIFTS))]
        report[name] = {"metrics": _summary(realised, ours, raw, cbpe[name]["estimates"]),
                        "inferwatch_seconds": seconds, "nannyml_seconds": cbpe[name]["seconds"]}
    result = {"benchmark": "quality_estimate", "rows_per_chunk": ROWS, "reference_rows": REFERENCE_ROWS,
              "shifts": list(SHIFTS), "cases": report,
              "versions": {**cbpe.get("versions", {}), "numpy": np.__version__, "python": platform.python_version()}}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    out = main()
    print(json.dumps({case: {m: {k: v[k] for k in ("inferwatch_mae", "nannyml_mae", "inferwatch_raw_confidence_mae",
                                                    "band_coverage")}
                             for m, v in data["metrics"].items()} for case, data in out["cases"].items()}, indent=2))
