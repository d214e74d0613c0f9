"""`inferwatch quality check` through the real CLI on the demo model's data: estimated and realised
quality per window with bands, a floor that gates, and a metric of the wrong kind named for its
deployment while the others are still checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from inferwatch.schema import CollectionBatch, CollectionRun, Deployment
from inferwatch.store import Store
from readmodels.labels import LabelInput, ingest_labels
from shell.cli import app
from tests.readmodels.quality_data import DEP, Served, collect, serve

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
REG = Deployment(id="aws:eu-west-1:price", provider="aws", region="eu-west-1", name="price", service="price",
                 model_version="price-3")


def _run(home: Path, *args: str) -> Result:
    config = home / "inferwatch.toml"
    if not config.exists():
        config.write_text("")
    return CliRunner().invoke(app, ["--home", str(home), "--config", str(config), *args, "--at", NOW.isoformat()])


@pytest.fixture(scope="module")
def served() -> list[Served]:
    return serve(NOW, minutes=40, per_minute=20, shift_after_min=20, shift_sd=3.0)


@pytest.fixture()
def home(tmp_path: Path, served: list[Served]) -> Path:
    store = Store.open(f"sqlite:///{tmp_path / 'inferwatch.db'}")
    collect(store, tmp_path, served, NOW)
    store.write_batch(CollectionBatch("aws", (REG,)), CollectionRun("r", "aws", NOW, NOW, "ok"))
    items = [LabelInput(line=i, label=s.truth[0], request_id=s.request_id) for i, s in enumerate(served[::2])]
    items += [LabelInput(line=900 + i, label=str(10.0 + i), deployment=REG.id, predicted=str(11.0 + i),
                         at=NOW - timedelta(minutes=5, seconds=i)) for i in range(50)]
    report = ingest_labels(store, items, now=NOW, source="labels.csv", step_s=60)
    assert report.error_count == 0
    return tmp_path


def test_quality_per_window_with_bands_beside_the_baseline(home: Path) -> None:
    result = _run(home, "quality", "check", "--window-s", "600", "--windows", "4")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{DEP.id}  model v1  binary (positive-class scores)" in out
    assert "baseline calibration: 171 labelled rows" in out and "baseline level: accuracy 0.971" in out
    assert out.count("  estimated accuracy ") == 4 and "realised accuracy" in out
    assert f"{REG.id}  model price-3  regressor" in out and "realised mae 1.000" in out
    data = json.loads(_run(home, "quality", "check", "--json", "--window-s", "600").stdout)
    by_dep = {d["deployment"]: d for d in data["deployments"]}
    newest = by_dep[DEP.id]["windows"][-1]
    accuracy = {m["metric"]: m for m in newest["estimated"]["metrics"]}["accuracy"]
    assert accuracy["low"] <= accuracy["value"] <= accuracy["high"] and newest["estimated"]["calibrated"]
    assert by_dep[REG.id]["kind"] == "regressor" and by_dep[REG.id]["windows"][-1]["estimated"] is None


def test_a_floor_gates_and_a_metric_of_the_other_kind_is_named(home: Path) -> None:
    gated = _run(home, "quality", "check", "--metric", "accuracy", "--floor", "0.9", "--deployment", DEP.id)
    assert gated.exit_code == 1 and "accuracy under the floor in the newest window" in gated.stdout
    assert _run(home, "quality", "check", "--metric", "accuracy", "--floor", "0.5",
                "--deployment", DEP.id).exit_code == 0
    mixed = _run(home, "quality", "check", "--metric", "accuracy", "--floor", "0.5")
    assert mixed.exit_code == 2
    assert f"{REG.id}: 'accuracy' is not a regressor metric (use one of: mae, rmse, bias)" in mixed.stderr
    assert f"{DEP.id}  model v1" in mixed.stdout  # the classifier is still checked
    wrong = _run(home, "quality", "check", "--metric", "rmse", "--deployment", DEP.id)
    assert wrong.exit_code == 2 and "'rmse' is not a classifier metric" in wrong.stderr
    assert _run(home, "quality", "check", "--floor", "0.5").exit_code == 2  # --floor needs --metric


def test_an_empty_store_says_there_is_no_data(tmp_path: Path) -> None:
    result = _run(tmp_path, "quality", "check")
    assert result.exit_code == 0 and "no quality data" in result.stdout
