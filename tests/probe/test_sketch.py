"""The log-spaced sketch's stated accuracy, as properties: quantiles within 2**(0.5/scale) - 1 of the
sample's, counts below a point exact outside that point's bucket, merging by adding buckets equal to
sketching the union, and halving the scale keeping the (halved) accuracy."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from inferwatch_probe.signals import NumericSignal
from inferwatch_probe.sketch import ZERO_LIMIT, LogSketch, bucket_bounds, from_runs, to_runs

from tests.probe.linecheck import check_signal, sketch_quantile

magnitudes = st.one_of(st.just(0.0), st.floats(ZERO_LIMIT, 1e12), st.floats(-1e12, -ZERO_LIMIT))
samples = arrays(np.float64, st.integers(1, 400), elements=magnitudes)


def _signal_doc(values: np.ndarray, scale: int = 64) -> dict[str, object]:
    sketch = LogSketch(scale)
    sketch.add(values)
    while sketch.scale > scale:
        sketch.halve()
    doc = {"kind": "numeric", "type": "sketch", "count": int(values.size), "scale": sketch.scale, "min": sketch.min,
           "max": sketch.max, "zero": sketch.zero, "pos": to_runs(sketch.pos), "neg": to_runs(sketch.neg)}
    check_signal("value", doc)
    return doc


@settings(max_examples=300, deadline=None)
@given(samples, st.sampled_from([0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0]))
def test_quantiles_are_within_the_stated_relative_accuracy(values: np.ndarray, q: float) -> None:
    doc = _signal_doc(values)
    rank = min(int(q * (values.size - 1)), values.size - 1)
    truth = float(np.sort(values)[rank])
    estimate = sketch_quantile(doc, q)
    accuracy = 2.0 ** (0.5 / 64) - 1  # 0.54 %
    assert math.isclose(estimate, truth, rel_tol=accuracy + 1e-12, abs_tol=0.0) or (truth == 0.0 == estimate)


@settings(max_examples=200, deadline=None)
@given(samples, samples)
def test_merging_adds_buckets_exactly(a: np.ndarray, b: np.ndarray) -> None:
    merged = LogSketch(64)
    merged.add(np.concatenate([a, b]))
    left, right = LogSketch(64), LogSketch(64)
    left.add(a)
    right.add(b)
    for store in ("pos", "neg"):
        added = from_runs(to_runs(getattr(left, store)))
        for i, c in from_runs(to_runs(getattr(right, store))).items():
            added[i] = added.get(i, 0) + c
        assert added == getattr(merged, store)
    assert left.zero + right.zero == merged.zero and min(left.min, right.min) == merged.min


@settings(max_examples=200, deadline=None)
@given(samples, st.integers(0, 399))
def test_counts_below_a_value_are_exact_outside_its_bucket(values: np.ndarray, pick: int) -> None:
    x = float(values[pick % values.size])
    if x <= ZERO_LIMIT:
        return
    sketch = LogSketch(64)
    sketch.add(values)
    i = int(np.ceil(np.log2(x) * 64))
    below = sketch.zero + sum(sketch.neg.values()) + sum(c for j, c in sketch.pos.items() if j < i)
    truth = int(np.count_nonzero(values <= x))
    assert below <= truth <= below + sketch.pos.get(i, 0)
    low, high = bucket_bounds(i, 64)
    assert low < x * (1 + 1e-12) and x <= high * (1 + 1e-12)


@settings(max_examples=200, deadline=None)
@given(samples, st.sampled_from([0.1, 0.5, 0.9]))
def test_halving_the_scale_keeps_the_halved_accuracy(values: np.ndarray, q: float) -> None:
    doc = _signal_doc(values, scale=8)
    rank = min(int(q * (values.size - 1)), values.size - 1)
    truth = float(np.sort(values)[rank])
    assert math.isclose(sketch_quantile(doc, q), truth, rel_tol=2.0 ** (0.5 / 8) - 1 + 1e-12) or truth == 0.0


def test_a_signal_turns_into_a_sketch_at_the_65th_distinct_value_keeping_every_count() -> None:
    signal = NumericSignal()
    signal.add(np.arange(64, dtype=np.float64))
    assert signal.to_json()["type"] == "exact"
    signal.add(np.array([1000.5, np.nan, -np.inf]))
    doc = signal.to_json()
    check_signal("value", doc)
    assert doc["type"] == "sketch" and doc["count"] == 67 and (doc["min"], doc["max"]) == (0.0, 1000.5)
    assert doc["zero"] == 1 and sum(from_runs(doc["pos"]).values()) == 64  # type: ignore[arg-type]
