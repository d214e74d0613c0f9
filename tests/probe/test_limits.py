"""Size limits: EMF's 100-value arrays, the 64 KiB invocation line, the 200,000-byte window line, and
the signal count per window."""

from __future__ import annotations

import numpy as np

from tests.probe.conftest import ProbeFactory
from tests.probe.linecheck import INVOCATION_CAP, WINDOW_CAP, check_line, runs_to_buckets


def test_prediction_arrays_keep_the_first_100_rows(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation", task="multiclass")
    scores = np.linspace(0.3, 0.9, 250)
    with probe.invocation() as inv:
        inv.record(scores=scores, classes=np.arange(250) % 3)
    doc = check_line(lines[0])
    assert doc["Rows"] == 250 and doc["PredictionScore"] == scores[:100].tolist()
    assert doc["PredictedClass"] == (np.arange(100) % 3).tolist()


def test_a_wide_input_summary_shrinks_to_fit_the_line(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation")
    x = np.random.default_rng(0).normal(size=(40, 1500)).astype(np.float32)
    text = {f"note{j}": ["x" * 400] * 40 for j in range(60)}
    with probe.invocation() as inv:
        inv.record(inputs=x, scores=np.full(40, 0.5))
    with probe.invocation() as inv:
        inv.record(inputs=text)
    wide, words = lines
    assert len(wide.encode()) <= INVOCATION_CAP and len(words.encode()) <= INVOCATION_CAP
    wide_doc, words_doc = check_line(wide), check_line(words)
    assert 0 < wide_doc["InputSummaryRows"] < 10 and len(wide_doc["InputSummary"]) == 1500
    assert wide_doc["InputSummary"]["f_0"] == x[:wide_doc["InputSummaryRows"], 0].tolist()
    assert "InputSummary" not in words_doc or words_doc["InputSummaryRows"] < 10
    assert all(len(v) == 256 for vs in words_doc.get("InputCategories", {}).values() for v in vs)


def test_a_window_of_wide_ranging_sketches_is_shortened_exactly(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="window", task="regression")
    rng = np.random.default_rng(3)
    x = rng.lognormal(0, 6, (20_000, 60)) * rng.choice([-1.0, 1.0], (20_000, 60))
    for start in range(0, 20_000, 5000):
        with probe.invocation() as inv:
            inv.record(inputs=x[start:start + 5000])
    probe.flush()
    assert len(lines[0].encode()) <= WINDOW_CAP
    doc = check_line(lines[0])
    kept = {name: s for name, s in doc["signals"].items() if name.startswith("feature:")}
    assert len(kept) + len(doc.get("signals_truncated", [])) == 60
    assert min(s["scale"] for s in kept.values()) < 64  # halved to fit
    for name, s in kept.items():
        column = x[:, int(name.split("_")[1])]
        assert sum(runs_to_buckets(s["pos"]).values()) == int((column >= 2.0 ** -30).sum())
        assert s.get("zero", 0) == int((np.abs(column) < 2.0 ** -30).sum())
        assert (s["min"], s["max"]) == (float(column.min()), float(column.max()))


def test_signals_beyond_1024_per_window_are_counted_as_dropped(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="window")
    with probe.invocation() as inv:
        inv.record(inputs=np.ones((2, 1100)), scores=[0.5, 0.5])
    probe.flush()
    doc = check_line(lines[0])
    assert len(doc["signals"]) == 1024 and doc["signals_dropped"] == 1100 + 1 - 1024
