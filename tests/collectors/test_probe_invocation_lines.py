"""The probe's invocation lines (``inferwatch.invocation/2``) through the real local collector: string labels,
string features, and the "NaN"/"Infinity" strings the probe writes for non-finite inputs are counted as the
drift engine counts raw values (not quarantined); a step holding both invocation and window lines of one
deployment adds up."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from inferwatch_probe import Probe

from collectors.local import LocalCollector
from drift import Baseline, WindowCounts, build_baseline
from inferwatch.schema import Metric


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    rng = np.random.default_rng(2)
    return build_baseline({"class": rng.choice(["no", "yes"], 4_000), "feature:age": rng.normal(40, 9, 4_000),
                           "feature:colour": rng.choice(["red", "white"], 4_000)},
                          categorical={"class", "feature:colour"}, model_sha256="b" * 64, version="v1")


def _probe(home: Path, mode: str) -> Probe:
    return Probe("scorer", "v1", "binary", mode=mode, env={"INFERWATCH_TELEMETRY_DIR": str(home / "telemetry" /
                                                                                          "scorer")})


def test_string_labels_categories_and_non_finite_inputs_are_counted(tmp_path: Path, baseline: Baseline) -> None:
    ages = [31.0, math.nan, math.inf, 52.5, -math.inf, 44.0]
    colours: list[Any] = ["red", "white", "blue", None, "red", "red"]
    labels = ["yes", "no", "yes", "yes", "no", "maybe"]
    probe = _probe(tmp_path, "invocation")
    try:
        for i in range(0, 6, 2):
            with probe.invocation() as inv:
                inv.record(inputs={"age": ages[i:i + 2], "colour": colours[i:i + 2]}, classes=labels[i:i + 2])
    finally:
        probe.close()
    lookup = {"v1": ("scorer-v1-base", baseline)}
    batch = LocalCollector(tmp_path, [], grace_s=0, baselines=lambda key: lookup.get(key.model_version)).collect(
        datetime.now(UTC) + timedelta(minutes=2), None)
    assert batch.quarantined_count == 0 and batch.warnings == ()
    got = {h.signal: WindowCounts.from_dict(h.counts) for h in batch.histograms}
    for signal, values in (("feature:age", ages), ("feature:colour", colours), ("class", labels)):
        expected = WindowCounts.from_values(baseline.column(signal), np.asarray(values, dtype=object))
        assert got[signal].to_dict() == expected.to_dict(), signal
    assert (got["feature:age"].nan_count, got["feature:age"].posinf_count, got["feature:age"].neginf_count) == (1, 1, 1)


def test_a_step_with_invocation_and_window_lines_adds_them_up(tmp_path: Path) -> None:
    for mode, calls in (("invocation", 3), ("window", 5)):
        probe = _probe(tmp_path, mode)
        try:
            for _ in range(calls):
                with probe.invocation():
                    pass
        finally:
            probe.close()
    batch = LocalCollector(tmp_path, [], grace_s=0).collect(datetime.now(UTC) + timedelta(minutes=2), None)
    keys = [(p.metric, p.start) for p in batch.points]
    assert len(keys) == len(set(keys)), "one point per metric and step"
    by_metric: dict[str, float] = {}
    for p in batch.points:  # summed over steps: the lines may straddle a minute
        by_metric[p.metric] = by_metric.get(p.metric, 0.0) + p.value
    assert by_metric[Metric.INVOCATIONS] == 8 and by_metric[Metric.INSTANCES_ACTIVE] == 2
    assert by_metric[Metric.COLD_STARTS] == 2
