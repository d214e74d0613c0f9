"""Real models for the probe's tests (scikit-learn -> skl2onnx -> onnxruntime, trained on scikit-learn's
bundled datasets: nothing is downloaded), a Lambda context object, and a Probe factory that closes what
it made (exit and SIGTERM hooks included)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from inferwatch_probe import Probe
from numpy.typing import NDArray

SEED = 20261124


@dataclass(frozen=True)
class ModelCase:
    """A converted model, the data it was trained on, and how to feed it rows."""

    name: str
    task: str
    onnx: bytes
    feature_names: tuple[str, ...]
    x: Any  # the training inputs: a float32 matrix, or a dict of columns for per-column inputs

    def session(self) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        return ort.InferenceSession(self.onnx, options, providers=["CPUExecutionProvider"])

    def feed(self, rows: slice | list[int]) -> dict[str, NDArray[Any]]:
        if isinstance(self.x, dict):
            return {name: col[rows].reshape(-1, 1) for name, col in self.x.items()}
        return {"X": self.x[rows]}


def _convert(estimator: Any, sample: Any, *, zipmap: bool = True) -> bytes:
    """ONNX bytes; ``zipmap=False`` asks a classifier for a plain probability tensor."""
    from skl2onnx import to_onnx

    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    options = None if zipmap else {id(final): {"zipmap": False}}
    return to_onnx(estimator, sample, options=options, target_opset=15).SerializeToString()


def _build_cases() -> dict[str, ModelCase]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cases: dict[str, ModelCase] = {}
    cancer = load_breast_cancer()
    xb = cancer.data.astype(np.float32)
    names = tuple(str(n) for n in cancer.feature_names)
    binary = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=SEED)).fit(xb,
                                                                                                       cancer.target)
    cases["binary"] = ModelCase("binary", "binary", _convert(binary, xb[:1], zipmap=False), names, xb)
    cases["binary_zipmap"] = ModelCase("binary_zipmap", "binary", _convert(binary, xb[:1], zipmap=True), names, xb)

    iris = load_iris()
    xi = iris.data.astype(np.float32)
    inames = tuple(str(n) for n in iris.feature_names)
    labels = np.asarray(iris.target_names)[iris.target]
    string_model = LogisticRegression(max_iter=2000, random_state=SEED).fit(xi, labels)
    int_model = LogisticRegression(max_iter=2000, random_state=SEED).fit(xi, iris.target)
    cases["multiclass_str"] = ModelCase("multiclass_str", "multiclass", _convert(string_model, xi[:1], zipmap=False),
                                        inames, xi)
    cases["multiclass_str_zipmap"] = ModelCase("multiclass_str_zipmap", "multiclass",
                                               _convert(string_model, xi[:1], zipmap=True), inames, xi)
    cases["multiclass_int"] = ModelCase("multiclass_int", "multiclass", _convert(int_model, xi[:1], zipmap=False),
                                        inames, xi)
    cases["multiclass_int_zipmap"] = ModelCase("multiclass_int_zipmap", "multiclass",
                                               _convert(int_model, xi[:1], zipmap=True), inames, xi)

    diabetes = load_diabetes()
    xd = diabetes.data.astype(np.float32)
    regressor = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=SEED).fit(xd, diabetes.target)
    cases["regression"] = ModelCase("regression", "regression", _convert(regressor, xd[:1]),
                                    tuple(str(n) for n in diabetes.feature_names), xd)
    cases["columns"] = _column_case()
    return cases


def _column_case() -> ModelCase:
    """A ColumnTransformer with a OneHotEncoder: one ONNX input per column, one of them strings."""
    import pandas as pd
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(SEED)
    n = 400
    frame = pd.DataFrame({"alcohol": rng.normal(13, 1, n).astype(np.float32),
                          "acidity": rng.normal(2, 0.5, n).astype(np.float32),
                          "colour": rng.choice(["red", "white", "rosé"], n)})
    target = ((frame["alcohol"] > 13) ^ (frame["colour"] == "white")).astype(int)
    transform = ColumnTransformer([("num", StandardScaler(), ["alcohol", "acidity"]),
                                   ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])])
    model = make_pipeline(transform, LogisticRegression(random_state=SEED)).fit(frame, target)
    types = [("alcohol", FloatTensorType([None, 1])), ("acidity", FloatTensorType([None, 1])),
             ("colour", StringTensorType([None, 1]))]
    from skl2onnx import to_onnx

    onnx = to_onnx(model, initial_types=types, options={id(model.steps[-1][1]): {"zipmap": False}},
                   target_opset=15).SerializeToString()
    columns = {"alcohol": frame["alcohol"].to_numpy(), "acidity": frame["acidity"].to_numpy(),
               "colour": frame["colour"].to_numpy(dtype=object)}
    return ModelCase("columns", "binary", onnx, ("alcohol", "acidity", "colour"), columns)


CASES = ["binary", "binary_zipmap", "multiclass_str", "multiclass_str_zipmap", "multiclass_int",
         "multiclass_int_zipmap", "regression", "columns"]
BATCHES = [[0], [5, 17, 40, 41, 99], [120]]


def expected(case: ModelCase, rows: list[int]) -> dict[str, list[Any]]:
    """What the lines must say, computed from the bare session's outputs by the spec's rules."""
    outputs = case.session().run(None, case.feed(rows))
    if case.task == "regression":
        return {"values": [float(v) for v in np.asarray(outputs[0])[:, 0]]}
    labels = [v.item() if isinstance(v, np.generic) else v for v in outputs[0]]
    probs = outputs[1]
    if isinstance(probs, list):  # ZipMap: one {class: probability} per row, in class order
        keys = list(probs[0])
        scores = [row[keys[1]] for row in probs] if case.task == "binary" else [max(row.values()) for row in probs]
    else:
        scores = [float(p[1]) if case.task == "binary" else float(p.max()) for p in probs]
    return {"scores": scores, "labels": labels}


@pytest.fixture(scope="session")
def cases() -> dict[str, ModelCase]:
    return _build_cases()


class FakeLambdaContext:
    """The members of AWS Lambda's context object the probe reads (the platform's object, not ours);
    the remaining time runs down for real."""

    def __init__(self, remaining_ms: int = 3000, request_id: str = "req-1",
                 arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:scorer:live", memory_mb: int = 512) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = memory_mb
        self.function_name = arn.split(":")[6]
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


ProbeFactory = Callable[..., tuple[Probe, list[str]]]


@pytest.fixture
def make_probe() -> Iterator[ProbeFactory]:
    """``make_probe(task=..., **kwargs) -> (probe, lines)``: lines collected in a list, no environment
    read unless ``env`` is given, closed at teardown."""
    made: list[Probe] = []

    def _make(deployment: str = "scorer", model_version: str = "v1", task: str = "binary",
              **kwargs: Any) -> tuple[Probe, list[str]]:
        lines: list[str] = kwargs.pop("lines", [])
        kwargs.setdefault("env", {})
        kwargs.setdefault("sink", lines.append)
        probe = Probe(deployment, model_version, task, **kwargs)
        made.append(probe)
        return probe, lines

    yield _make
    for probe in made:
        probe.close()
