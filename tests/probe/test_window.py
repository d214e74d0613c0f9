"""Window mode: flushing on the interval, exact counts over a bins file (checked against numpy and the
drift engine's own binning), the exact form and the sketch without one, and bounded buffers."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drift.binning import count_values
from tests.probe.conftest import ProbeFactory
from tests.probe.linecheck import check_line, runs_to_buckets

EDGES = [-1.0, -0.25, 0.0, 0.5, 1.5]


def reference_counts(values: np.ndarray, edges: list[float]) -> list[int]:
    """Right-closed bins by their definition: bin 0 <= e0, bin i in (e[i-1], e[i]], bin K > e[K-1]."""
    finite = values[np.isfinite(values)]
    bounds = [-np.inf, *edges, np.inf]
    return [int(np.count_nonzero((finite > lo) & (finite <= hi))) for lo, hi in itertools.pairwise(bounds)]


def test_window_is_written_once_the_interval_has_passed(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="window", flush_interval_s=0.3)
    with probe.invocation():
        pass
    assert lines == []
    time.sleep(0.35)
    with probe.invocation() as inv:
        inv.record(scores=[0.25])
    assert len(lines) == 1
    with probe.invocation():
        pass
    assert len(lines) == 1  # the next window has just begun
    doc = check_line(lines[0])
    assert doc["reason"] == "interval" and doc["invocations"]["ok"] == 2 and doc["rows"] == 1
    assert doc["end_ms"] - doc["start_ms"] >= 300


def _bins_file(tmp_path: Path) -> Path:
    path = tmp_path / "bins.json"
    path.write_text(json.dumps({"schema": "inferwatch.bins/1", "baseline_id": "b-1", "signals": {
        "score": {"edges": [0.1, 0.5, 0.9]},
        "class": {"categories": [0, 1]},
        "feature:x": {"edges": EDGES},
        "feature:colour": {"categories": ["red", "white"]}}}))
    return path


def test_counts_over_the_bins_file_equal_numpy_and_the_drift_engine(tmp_path: Path, make_probe: ProbeFactory) -> None:
    rng = np.random.default_rng(7)
    bins = _bins_file(tmp_path)
    probe, lines = make_probe(mode="window", bins=str(bins))
    xs, scores, colours = [], [], []
    for i in range(40):
        n = int(rng.integers(1, 300))
        x = rng.normal(0, 1, n).astype(np.float32)
        x[rng.random(n) < 0.05] = rng.choice(np.float32(EDGES), 1)  # values exactly on edges: right-closed
        if i == 3:
            x[:3] = [np.nan, np.inf, -np.inf]
        score = rng.random(n)
        colour = rng.choice(np.array(["red", "white", "rosé", None], dtype=object), n).tolist()
        with probe.invocation() as inv:
            inv.record(inputs={"x": x, "colour": colour}, scores=score, classes=(score > 0.5).astype(int))
        xs.append(x)
        scores.append(score)
        colours += colour
    probe.flush()
    doc = check_line(lines[0])
    assert doc["bins_sha256"] == hashlib.sha256(bins.read_bytes()).hexdigest()
    x_all, s_all = np.concatenate(xs), np.concatenate(scores)
    feature = doc["signals"]["feature:x"]
    assert feature["type"] == "bins" and feature["counts"] == reference_counts(x_all.astype(np.float64), EDGES)
    assert feature["counts"] == count_values(x_all, np.asarray(EDGES)).counts.tolist()  # float32 data, as drift bins it
    assert (feature["nan"], feature["posinf"], feature["neginf"]) == (1, 1, 1)
    assert doc["signals"]["score"]["counts"] == reference_counts(s_all, [0.1, 0.5, 0.9])
    assert doc["signals"]["class"]["counts"] == [int((s_all <= 0.5).sum()), int((s_all > 0.5).sum())]
    colour = doc["signals"]["feature:colour"]
    assert colour["counts"] == [colours.count("red"), colours.count("white")]
    assert (colour["other"], colour["null"]) == (colours.count("rosé"), colours.count(None))


def test_without_bins_few_values_stay_exact_and_many_become_a_sketch(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="window", task="regression")
    few = np.repeat(np.arange(64, dtype=np.float64) * 0.1, 3)
    many = np.random.default_rng(1).lognormal(0, 2, 5000) * np.where(np.arange(5000) % 3 == 0, -1, 1)
    many[:7] = 0.0
    with probe.invocation() as inv:
        inv.record(inputs={"few": few[:100]})
        inv.record(values=many[:100])
    with probe.invocation() as inv:
        inv.record(inputs={"few": few[100:]})
        inv.record(values=many[100:])
    probe.flush()
    signals = check_line(lines[0])["signals"]
    exact = signals["feature:few"]
    assert exact["type"] == "exact" and exact["values"] == sorted(set(few.tolist())) and set(exact["counts"]) == {3}
    sketch = signals["value"]
    assert sketch["type"] == "sketch" and sketch["scale"] == 64
    assert (sketch["min"], sketch["max"], sketch["count"]) == (float(many.min()), float(many.max()), 5000)
    assert sketch["zero"] == 7
    assert sum(runs_to_buckets(sketch["neg"]).values()) == int((many < 0).sum())
    pos = runs_to_buckets(sketch["pos"])
    assert pos == _reference_buckets(many[many > 0], 64)


def _reference_buckets(values: np.ndarray, scale: int) -> dict[int, int]:
    """Bucket i holds 2**((i-1)/scale) < v <= 2**(i/scale), counted value by value."""
    out: dict[int, int] = {}
    for v in values.tolist():
        i = int(np.ceil(np.log2(v) * scale))
        out[i] = out.get(i, 0) + 1
    return out


def test_categorical_without_bins_keeps_the_first_64_values_and_counts_the_rest(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="window", task="multiclass")
    labels = [f"label-{i}" for i in range(100)]
    with probe.invocation() as inv:
        inv.record(classes=labels + labels[:10], scores=np.full(110, 0.5))
    probe.flush()
    signal = check_line(lines[0])["signals"]["class"]
    assert signal["values"] == labels[:64] and signal["counts"] == [2] * 10 + [1] * 54
    assert signal["other"] == 36 and signal["count"] == 110


@pytest.mark.parametrize("batch_rows", [1, 999, 20_000])
def test_buffers_stay_bounded_and_counts_stay_exact(batch_rows: int, tmp_path: Path, make_probe: ProbeFactory) -> None:
    """More rows than a buffer holds (8192) are binned in bulk as the buffers fill, and nothing is lost."""
    probe, lines = make_probe(mode="window", bins=str(_bins_file(tmp_path)), feature_names=["x"])
    rng = np.random.default_rng(batch_rows)
    total = max(30_000 // batch_rows, 2) * batch_rows
    x = rng.normal(0, 1, (total, 1)).astype(np.float32)
    for start in range(0, total, batch_rows):
        with probe.invocation() as inv:
            inv.record(inputs=x[start:start + batch_rows], scores=rng.random(batch_rows))
    buffers = probe._emitter._aggregator._state.numeric
    assert all(b.data.nbytes <= 2 << 20 for b in buffers.values())
    probe.flush()
    doc = check_line(lines[0])
    assert doc["rows"] == total and doc["signals"]["feature:x"]["counts"] == reference_counts(x[:, 0], EDGES)
    assert doc["signals"]["score"]["count"] == total


def test_features_changing_between_invocations_are_all_counted(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="window")
    for i in range(12):  # more layouts than are buffered at once
        with probe.invocation() as inv:
            inv.record(inputs={"shared": [1.0, 2.0], f"only-{i}": [float(i), float(i)]})
    probe.flush()
    signals = check_line(lines[0])["signals"]
    assert signals["feature:shared"]["counts"] == [12, 12]
    assert all(signals[f"feature:only-{i}"]["values"] == [float(i)] for i in range(12))


def test_an_empty_window_writes_nothing(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="window")
    probe.flush()
    probe.flush("exit")
    assert lines == []


def test_window_identity_and_lambda_members(make_probe: ProbeFactory) -> None:
    env = {"AWS_LAMBDA_FUNCTION_NAME": "scorer", "AWS_LAMBDA_FUNCTION_VERSION": "12",
           "INFERWATCH_MODEL_SHA256": "ab" * 32, "INFERWATCH_ROLE": "canary"}
    probe, lines = make_probe(env=env, service="scoring")
    assert probe.settings.mode == "window"  # the default on Lambda

    @probe.lambda_handler
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    from tests.probe.conftest import FakeLambdaContext

    handler({}, FakeLambdaContext(arn="arn:aws:lambda:us-east-1:1:function:scorer"))
    handler({}, FakeLambdaContext(arn="arn:aws:lambda:us-east-1:1:function:scorer:canary"))
    probe.flush()
    doc = check_line(lines[0])
    assert (doc["platform"], doc["role"], doc["service"], doc["function_version"]) == ("lambda", "canary", "scoring",
                                                                                       "12")
    assert doc["function"] == "aws:us-east-1:scorer" and doc["qualifiers"] == {"$LATEST": 1, "canary": 1}
    assert doc["model_sha256"] == "ab" * 32 and doc["memory"]["configured_mb"] == 512


def test_error_types_keep_the_most_frequent(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="window")
    for i in range(30):
        for _ in range(1 + (i == 29) * 5):  # the last type seen is the most frequent
            with probe.invocation() as inv:
                inv.degraded(f"reason-{i:02d}")
    probe.flush()
    doc = check_line(lines[0])
    assert len(doc["error_types"]) == 16 and doc["error_types"]["reason-29"] == 6
    assert doc["error_types_other"] == 30 - 16
