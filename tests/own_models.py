"""Models that are not the demo's, made here with scikit-learn and skl2onnx as a team would make its own,
with their reference data as CSV files:

- ``wine``: a 3-class classifier of wines with two string (categorical) columns, a ColumnTransformer
  exported with one ONNX input per column and ZipMap output (string class labels);
- ``diabetes``: a regressor over one float 2-D input (10 columns, ``sex`` taking two values only: the
  column that reported false drift when its inputs were rounded);
- ``churn``: a binary classifier over one double 2-D input, probabilities as a plain tensor, labels 0/1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class OwnModel:
    name: str
    task: str
    model: Path
    data: Path  # reference data (the training distribution), with the label column
    label: str
    numeric: tuple[str, ...]  # numeric feature columns, in the order of the data
    strings: tuple[str, ...] = ()


WINE_NUMERIC = ("alcohol", "malic_acid", "ash", "magnesium", "color_intensity", "proline")


def _wine(folder: Path) -> OwnModel:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    raw = load_wine(as_frame=True)
    rng = np.random.default_rng(16)
    base = raw.frame[list(WINE_NUMERIC)]
    idx = rng.integers(0, len(base), 1500)  # 1,500 rows: bootstrap with jitter, so columns stay continuous
    frame = base.iloc[idx].reset_index(drop=True).astype(float)
    frame = frame + rng.normal(0, 0.05, frame.shape) * base.std().to_numpy()
    target = raw.target.iloc[idx].reset_index(drop=True)
    frame["colour"] = np.where(target == 0, "red", np.where(rng.random(len(idx)) < 0.7, "white", "rose"))
    frame["region"] = rng.choice(["north", "south", "east"], size=len(idx), p=[0.5, 0.3, 0.2])
    frame["cultivar"] = [f"class_{t}" for t in target]
    pre = ColumnTransformer([("num", StandardScaler(), list(WINE_NUMERIC)),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour", "region"])])
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(frame.drop(columns="cultivar"), frame["cultivar"])
    types = [(c, FloatTensorType([None, 1])) for c in WINE_NUMERIC]
    types += [(c, StringTensorType([None, 1])) for c in ("colour", "region")]
    onnx = convert_sklearn(pipe, initial_types=types, target_opset=15)
    path = folder / "wine.onnx"
    path.write_bytes(onnx.SerializeToString())
    data = folder / "wine.csv"
    frame.to_csv(data, index=False)
    return OwnModel("wine", "multiclass", path, data, "cultivar", WINE_NUMERIC, ("colour", "region"))


def _diabetes(folder: Path) -> OwnModel:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    raw = load_diabetes(as_frame=True)
    frame = raw.frame.rename(columns={"target": "progression"})
    features = [c for c in frame.columns if c != "progression"]
    model = Ridge(alpha=0.1).fit(frame[features].to_numpy(np.float32), frame["progression"])
    onnx = convert_sklearn(model, initial_types=[("float_input", FloatTensorType([None, len(features)]))],
                           target_opset=15)
    path = folder / "diabetes.onnx"
    path.write_bytes(onnx.SerializeToString())
    data = folder / "diabetes.csv"
    frame.to_csv(data, index=False)
    return OwnModel("diabetes", "regression", path, data, "progression", tuple(features))


def _churn(folder: Path) -> OwnModel:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    x, y = make_classification(n_samples=2000, n_features=5, n_informative=3, random_state=16)
    names = ["tenure", "monthly_spend", "support_calls", "usage_hours", "discount"]
    frame = pd.DataFrame(x, columns=names)
    frame["churned"] = y
    model = RandomForestClassifier(n_estimators=20, max_depth=6, random_state=16).fit(x, y)
    onnx = convert_sklearn(model, initial_types=[("X", DoubleTensorType([None, len(names)]))],
                           options={id(model): {"zipmap": False}}, target_opset=15)
    path = folder / "churn.onnx"
    path.write_bytes(onnx.SerializeToString())
    data = folder / "churn.csv"
    frame.to_csv(data, index=False)
    return OwnModel("churn", "binary", path, data, "churned", tuple(names))


def build_own_models(folder: Path) -> dict[str, OwnModel]:
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # skl2onnx and scikit-learn warn about their own versions
        warnings.simplefilter("ignore")
        return {m.name: m for m in (_wine(folder), _diabetes(folder), _churn(folder))}
