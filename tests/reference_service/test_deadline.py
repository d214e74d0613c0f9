from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest

from reference_service.deadline import run_until
from reference_service.errors import InferenceTimeoutError
from reference_service.model import ModelCard, OnnxModel

from .conftest import SlowModel

SIZE = 768
NODES = 24


def _slow_onnx(tmp_path: Path) -> ModelCard:
    """A real ONNX graph that takes seconds: NODES chained SIZE x SIZE matrix products."""
    from onnx import TensorProto, helper, numpy_helper, save

    rng = np.random.default_rng(3)
    weight = numpy_helper.from_array((rng.standard_normal((SIZE, SIZE)) / SIZE).astype(np.float32), "w")
    nodes = [helper.make_node("MatMul", ["input" if i == 0 else f"h{i}", "w"], [f"h{i + 1}"]) for i in range(NODES)]
    nodes.append(helper.make_node("Identity", [f"h{NODES}"], ["probabilities"]))
    nodes.append(helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0))
    graph = helper.make_graph(
        nodes, "slow", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [SIZE, SIZE])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [SIZE]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [SIZE, SIZE])], [weight])
    path = tmp_path / "slow.onnx"
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), path)
    return ModelCard.from_dict({
        "version": "v1", "onnx_file": "slow.onnx", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "input_name": "input", "feature_names": [f"f{i}" for i in range(SIZE)], "valid_min": [-1.0] * SIZE,
        "valid_max": [1.0] * SIZE, "classes": ["a", "b"], "class_priors": [0.5, 0.5]})


def test_watchdog_terminates_an_onnx_run_at_its_deadline(tmp_path: Path) -> None:
    model = OnnxModel(_slow_onnx(tmp_path), tmp_path)
    x = np.random.default_rng(4).standard_normal((SIZE, SIZE)).astype(np.float32)
    t0 = time.perf_counter()
    model.predict(x)
    full_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with pytest.raises(InferenceTimeoutError):
        model.predict_until(x, time.monotonic() + full_s / 10)
    stopped_s = time.perf_counter() - t0
    assert stopped_s < full_s / 2, (stopped_s, full_s)  # stopped at the deadline plus about one node
    assert model.predict_until(x[:4].repeat(SIZE // 4, axis=0), time.monotonic() + 30).labels.shape == (SIZE,)


def test_models_without_predict_until_are_bounded_on_a_worker_thread() -> None:
    t0 = time.perf_counter()
    with pytest.raises(InferenceTimeoutError):
        run_until(SlowModel(1.0), np.zeros((1, 30), dtype=np.float32), time.monotonic() + 0.05)
    assert time.perf_counter() - t0 < 0.5
