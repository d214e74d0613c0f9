"""Issue 18 speed, as coarse guards that hold on a loaded 2-core machine (the benches measure it
properly: bench/baseline_build.py). Each bound is several times what this tree needs and several
times less than what main needed (numeric build ~60 ms a column, 1M strings counted in ~1.5-3 s)."""

from __future__ import annotations

import time

import numpy as np

from drift import build_baseline
from drift.baseline import build_categorical_column
from drift.categories import count_categories


def _seconds(fn: object) -> float:
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def test_numeric_baseline_build_stays_within_a_few_milliseconds_a_column() -> None:
    rng = np.random.default_rng(0)
    data = {f"feature:f{i}": rng.normal(size=10_000) for i in range(100)}
    build_baseline({"warm": data["feature:f0"]}, categorical=[], model_sha256="0", version="w")
    seconds = _seconds(lambda: build_baseline(data, categorical=[], model_sha256="0", version="v"))
    assert seconds < 1.5, f"{seconds * 10:.1f} ms a column"  # main: ~6 s for these 100 columns


def test_a_million_strings_are_counted_without_a_python_step_per_value() -> None:
    rng = np.random.default_rng(1)
    names = np.array([f"channel-{i}" for i in range(12)], dtype=object)
    values = names[rng.integers(0, 12, 1_000_000)]
    column = build_categorical_column("c", values[:10_000])
    assert _seconds(lambda: count_categories(values, column.categories, "c")) < 0.6  # main: 1.5-3 s
    assert _seconds(lambda: build_categorical_column("c", values)) < 1.0  # main: ~4 s
