"""`inferwatch baseline create` and `inferwatch drift check` through the real CLI and a real store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from drift import Baseline, WindowCounts
from inferwatch.schema import CollectionBatch, CollectionRun, HistogramPoint
from inferwatch.store import Store
from shell.cli import app
from shell.reference_baselines import heldout_signals, model_baseline, reference_baseline_id

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DEPLOYMENT = "local:local:scorer-v1"


def _run(home: Path, *args: str) -> tuple[int, str]:
    config = home / "inferwatch.toml"
    if not config.exists():
        config.write_text("")  # the built-in local defaults, whatever the working directory holds
    result = CliRunner().invoke(app, ["--home", str(home), "--config", str(config), *args])
    return result.exit_code, result.output


def _write_windows(home: Path, shift_sigma: float) -> None:
    bid, base = reference_baseline_id("scorer", "v1"), model_baseline("v1")
    signals, _ = heldout_signals("v1")
    rng = np.random.default_rng(3)
    points = []
    for w in range(3):
        start = NOW - timedelta(seconds=900 * (3 - w))
        idx = rng.integers(0, signals["score"].size, 1200)
        for name, values in signals.items():
            vals = np.asarray(values)[idx]
            if name == "feature:mean radius":
                vals = vals + shift_sigma * float(np.std(values))
            counts = WindowCounts.from_values(base.column(name), vals)
            points.append(HistogramPoint(DEPLOYMENT, name, start, 900, bid, counts.to_dict()))
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    run = CollectionRun("t", "local", NOW, NOW, "ok")
    store.write_batch(CollectionBatch(collector="local", histograms=tuple(points)), run)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    code, out = _run(tmp_path, "baseline", "create", "--version", "v1")
    assert code == 0, out
    assert reference_baseline_id("scorer", "v1") in out and "service scorer model v1" in out
    return tmp_path


def test_empty_store_says_no_data(home: Path) -> None:
    code, out = _run(home, "drift", "check", "--json", "--at", NOW.isoformat())
    assert code == 0 and json.loads(out)["status"] == "no_data"
    code, out = _run(home, "drift", "check")
    assert code == 0 and "no drift data" in out


def test_shifted_feature_drifts_and_exits_non_zero(home: Path) -> None:
    _write_windows(home, shift_sigma=2.0)
    code, out = _run(home, "drift", "check", "--json", "--at", NOW.isoformat())
    assert code == 1, out
    data = json.loads(out)
    assert data["drifted"] and data["deployments"][0]["deployment"] == DEPLOYMENT
    by_key = {(r["signal"], r["check"]): r for r in data["deployments"][0]["results"]}
    assert by_key[("feature:mean radius", "distribution")]["status"] == "drift"
    assert by_key[("score", "distribution")]["n_current"] == 1200
    code, out = _run(home, "drift", "check", "--at", NOW.isoformat())
    assert code == 1 and "feature:mean radius" in out and "drift" in out


def test_unshifted_windows_pass(home: Path) -> None:
    _write_windows(home, shift_sigma=0.0)
    code, out = _run(home, "drift", "check", "--json", "--at", NOW.isoformat())
    assert code == 0, out
    assert json.loads(out)["status"] == "ok"


def test_bad_drift_settings_are_named(tmp_path: Path) -> None:
    (tmp_path / "inferwatch.toml").write_text("[drift]\nalpha = 2\n")
    code, out = _run(tmp_path, "drift", "check")
    assert code == 2 and "alpha" in out


def test_baseline_from_a_time_window_takes_its_counts(home: Path) -> None:
    _write_windows(home, shift_sigma=2.0)
    start, end = (NOW - timedelta(hours=1)).isoformat(), NOW.isoformat()
    code, out = _run(home, "baseline", "create", "--from-deployment", DEPLOYMENT, "--start", start, "--end", end)
    assert code == 0, out
    assert "service scorer" in out and DEPLOYMENT in out
    code, out = _run(home, "baseline", "list")
    assert code == 0 and DEPLOYMENT in out
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    new_id = next(b["id"] for b in store.list_baselines() if DEPLOYMENT in b["source"])
    assert store.baseline_id_for("scorer", "v1") == new_id  # the newest of the service's v1
    rebased = Baseline.from_dict(store.load_baseline(new_id) or {})
    assert rebased.column("score").total_count == 3 * 1200  # the window's rows, not the held-out set
    code, out = _run(home, "baseline", "create", "--from-deployment", "nope", "--start", start, "--end", end)
    assert code != 0 and "no histograms" in out
