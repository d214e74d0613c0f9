"""Real probe lines for the cloud transports' tests and the monitoring-bill benchmark: a scikit-learn
model with 30 input features (breast cancer, bundled with scikit-learn: nothing is downloaded) converted
by skl2onnx, served by onnxruntime inside a handler the real probe wraps, its baseline built from the
training data and exported as the probe's bins file."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from inferwatch_probe import Probe

from drift import Baseline, build_baseline
from drift.probe_bins import probe_bins_file

SEED = 20261207
SERVICE, VERSION = "cancer", "cancer-1"
BASELINE_ID = "cancer-cancer-1"


@dataclass(frozen=True)
class Model:
    task: str
    version: str
    baseline_id: str
    onnx: bytes
    sha256: str
    feature_names: tuple[str, ...]
    x: Any  # float32 rows
    baseline: Baseline
    bins: bytes  # the exported bins file

    @property
    def bins_sha256(self) -> str:
        return hashlib.sha256(self.bins).hexdigest()

    def session(self) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        return ort.InferenceSession(self.onnx, options, providers=["CPUExecutionProvider"])


@functools.lru_cache(maxsize=1)
def model() -> Model:
    from skl2onnx import to_onnx  # heavy: only when a test builds the model
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer()
    x = data.data.astype(np.float32)
    names = tuple(str(n).replace(" ", "_") for n in data.feature_names)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=SEED)).fit(x, data.target)
    onnx = to_onnx(pipe, x[:1], options={id(pipe.steps[-1][1]): {"zipmap": False}},
                   target_opset=15).SerializeToString()
    sha = hashlib.sha256(onnx).hexdigest()
    # the reference predictions are the ONNX model's (float32) own, as served: scikit-learn's float64
    # probabilities reach 1e-24 where ONNX says 0.0, which would read as out of range
    labels, probs = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"]).run(None, {"X": x})
    signals: dict[str, object] = {"score": np.asarray(probs)[:, 1].astype(np.float64), "class": np.asarray(labels)}
    signals.update({f"feature:{n}": x[:, j].astype(np.float64) for j, n in enumerate(names)})
    baseline = build_baseline(signals, categorical={"class"}, model_sha256=sha, version=VERSION)
    return Model("binary", VERSION, BASELINE_ID, onnx, sha, names, x, baseline, probe_bins_file(BASELINE_ID, baseline))


REGRESSION_VERSION = "dose-1"


@functools.lru_cache(maxsize=1)
def regression_model() -> Model:
    """A linear regressor of the centred diabetes target (bundled with scikit-learn): half its predictions are
    negative, which CloudWatch's percentile ranks cannot rank (the pre-probe design gave it no drift)."""
    from skl2onnx import to_onnx  # heavy: only when a test builds the model
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    data = load_diabetes()
    x = data.data.astype(np.float32)
    names = tuple(str(n) for n in data.feature_names)
    model_ = LinearRegression().fit(x, data.target - data.target.mean())
    onnx = to_onnx(model_, x[:1], target_opset=15).SerializeToString()
    sha = hashlib.sha256(onnx).hexdigest()
    [values] = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"]).run(None, {"X": x})
    signals: dict[str, object] = {"value": np.asarray(values)[:, 0].astype(np.float64)}
    signals.update({f"feature:{n}": x[:, j].astype(np.float64) for j, n in enumerate(names)})
    baseline = build_baseline(signals, categorical=set(), model_sha256=sha, version=REGRESSION_VERSION)
    bid = "dose-dose-1"
    return Model("regression", REGRESSION_VERSION, bid, onnx, sha, names, x, baseline, probe_bins_file(bid, baseline))


class LambdaContext:
    """The members of Lambda's context object the probe reads (the platform's object, not ours)."""

    def __init__(self, arn: str, request_id: str) -> None:
        self.invoked_function_arn = arn
        self.aws_request_id = request_id
        self.memory_limit_in_mb = 1024
        self._deadline = time.monotonic() + 3.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def handler_for(probe: Probe, m: Model) -> Callable[[dict[str, Any], Any], Any]:
    session = probe.session(m.session(), feature_names=list(m.feature_names))

    @probe.lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        rows = np.asarray(event["rows"], dtype=np.float32)
        outputs = session.run(None, {"X": rows})
        return {"statusCode": 200, "body": json.dumps({"output": np.asarray(outputs[0]).tolist()})}

    return handler


def lambda_lines(bins_path: Path, rows: Sequence[Any], *, function: str, region: str = "eu-west-1",
                 windows: int = 2, mode: str = "window", deployment: str = SERVICE,
                 metrics: str | None = None, served: Model | None = None) -> list[str]:
    """The lines the real probe writes for ``rows`` (one invocation per row) served as the Lambda function
    ``function`` by ``served`` (default: the 30-feature classifier), flushed into ``windows`` window lines
    (window mode) or one line per invocation."""
    m = served or model()
    lines: list[str] = []
    probe = Probe(deployment, m.version, m.task, service=SERVICE, mode=mode, bins=str(bins_path), env={},
                  sink=lines.append, model_sha256=m.sha256, flush_interval_s=3600, metrics=metrics)
    try:
        handler = handler_for(probe, m)
        arn = f"arn:aws:lambda:{region}:123456789012:function:{function}"
        per_window = max(1, -(-len(rows) // windows))
        for i, row in enumerate(rows):
            handler({"rows": [list(map(float, row))]}, LambdaContext(arn, f"req-{i}"))
            if mode == "window" and (i + 1) % per_window == 0:
                probe.flush()
        probe.flush()
    finally:
        probe.close()
    return lines


def shifted(x: Any, factor: float = 1.6) -> Any:
    """Inputs of a changed population: every feature scaled (the model's classes shift with them)."""
    return np.asarray(x, dtype=np.float32) * np.float32(factor)


def cloud_run_lines(bins_path: Path, rows: Sequence[Any], *, service: str, revision: str,
                    windows: int = 2) -> list[str]:
    """The window lines the real probe writes on Cloud Run (``K_SERVICE``/``K_REVISION`` set: ``severity``
    and ``message`` members for Cloud Logging) for ``rows``, one request per row."""
    lines: list[str] = []
    probe = Probe(SERVICE, VERSION, "binary", service=SERVICE, mode="window", bins=str(bins_path),
                  env={"K_SERVICE": service, "K_REVISION": revision}, sink=lines.append,
                  model_sha256=model().sha256, flush_interval_s=3600)
    try:
        session = probe.session(model().session(), feature_names=list(model().feature_names))
        per_window = max(1, -(-len(rows) // windows))
        for i, row in enumerate(rows):
            with probe.invocation():
                session.run(None, {"X": np.asarray([row], dtype=np.float32)})
            if (i + 1) % per_window == 0:
                probe.flush()
        probe.flush()
    finally:
        probe.close()
    return lines
