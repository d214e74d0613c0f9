"""A baseline's bins file for probes: the real probe reads it, its counts are the baseline's bins
coarsened (so a window line merges exactly with any other window of that baseline), and a collector
reads it back; the store keeps it byte for byte."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import numpy as np
import pytest
from inferwatch_probe.bins import parse_bins

from drift import WindowCounts, build_baseline
from drift.errors import InvalidInputError
from drift.probe_bins import DEFAULT_PROBE_EDGES, probe_bins_file, read_probe_bins
from inferwatch.store import Store


def _baseline() -> object:
    rng = np.random.default_rng(3)
    return build_baseline({"score": rng.beta(2, 5, 5000), "class": rng.integers(0, 3, 5000),
                           "feature:age": rng.poisson(30, 5000).astype(float),
                           "feature:colour": rng.choice(["red", "white", "rose"], 5000)},
                          categorical={"class", "feature:colour"}, model_sha256="a" * 64, version="wine-1")


def test_the_probe_reads_the_file_and_its_counts_are_the_baselines_bins_coarsened() -> None:
    baseline = _baseline()
    content = probe_bins_file("wine-wine-1-aaaa", baseline)
    probe_bins = parse_bins(content)  # the probe's own parser accepts every signal
    read = read_probe_bins(content, baseline)
    assert read.sha256 == probe_bins.sha256 == hashlib.sha256(content).hexdigest()
    assert read.baseline_id == "wine-wine-1-aaaa" and read.categorical == {"class", "feature:colour"}
    rng = np.random.default_rng(4)
    for name, values in (("score", rng.beta(2, 4, 3000)), ("feature:age", rng.poisson(31, 3000).astype(float))):
        by_probe = probe_bins.signals[name].count(values)
        exact = WindowCounts.from_values(baseline.column(name), values).coarsened(read.layouts[name])
        assert by_probe.tolist() == exact.tolist()
        assert read.layouts[name].size <= DEFAULT_PROBE_EDGES


def test_integer_classes_are_exported_as_integers_and_strings_as_strings() -> None:
    doc = json.loads(probe_bins_file("b", _baseline()))
    assert all(isinstance(c, int) for c in doc["signals"]["class"]["categories"])
    assert set(doc["signals"]["feature:colour"]["categories"]) == {"red", "white", "rose"}


def test_the_same_baseline_gives_the_same_bytes() -> None:
    assert probe_bins_file("b", _baseline()) == probe_bins_file("b", _baseline())


@pytest.mark.parametrize("damage", ["not json", "other schema", "moved edge", "other categories", "unknown signal"])
def test_a_file_that_does_not_fit_the_baseline_is_refused(damage: str) -> None:
    baseline = _baseline()
    doc = json.loads(probe_bins_file("b", baseline))
    if damage == "other schema":
        doc["schema"] = "something/1"
    elif damage == "moved edge":
        doc["signals"]["score"]["edges"][3] += 1e-3
    elif damage == "other categories":
        doc["signals"]["feature:colour"]["categories"] = ["blue"]
    elif damage == "unknown signal":
        doc["signals"]["feature:nope"] = {"edges": [1.0]}
    content = b"{" if damage == "not json" else json.dumps(doc).encode()
    with pytest.raises(InvalidInputError):
        read_probe_bins(content, baseline)


def test_the_store_keeps_the_bytes_under_their_sha256(store_url: str) -> None:
    content = probe_bins_file("b", _baseline())
    with Store.open(store_url) as store:
        sha = store.save_probe_bins(content, baseline_id="b", created_at=datetime(2026, 12, 1, tzinfo=UTC))
        assert sha == hashlib.sha256(content).hexdigest()
        assert store.load_probe_bins(sha) == ("b", content)
        assert store.load_probe_bins("0" * 64) is None
