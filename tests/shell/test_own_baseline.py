"""`inferwatch baseline create --model --data`: baselines of models that are not the demo's, built by running
them on their reference data (tests/own_models.py), through the real CLI and a real store."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from inferwatch_probe import Probe
from inferwatch_probe.bins import load_bins
from typer.testing import CliRunner

from drift import Baseline, CategoricalColumn, NumericColumn, WindowCounts
from inferwatch.schema import ModelKey
from inferwatch.store import Store
from readmodels.baselines import baseline_for
from shell.cli import app
from tests.own_models import OwnModel


def _run(home: Path, *args: str) -> tuple[int, str]:
    config = home / "inferwatch.toml"
    if not config.exists():
        config.write_text("")
    result = CliRunner().invoke(app, ["--home", str(home), "--config", str(config), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _create(home: Path, m: OwnModel, *extra: str, model: Path | None = None, data: Path | None = None,
            version: str = "1") -> tuple[int, str]:
    return _run(home, "baseline", "create", "--model", str(model or m.model), "--data", str(data or m.data),
                "--service", m.name, "--model-version", version, *extra)


def _store(home: Path) -> Store:
    return Store.open(f"sqlite:///{home / 'inferwatch.db'}")


@pytest.mark.parametrize("name", ["wine", "diabetes", "churn"])
def test_a_baseline_of_your_model_on_your_data(tmp_path: Path, own_models: dict[str, OwnModel], name: str) -> None:
    m = own_models[name]
    home = tmp_path / "home"
    home.mkdir()
    bins_out = tmp_path / "bins.json"
    code, out = _create(home, m, "--label-column", m.label, "--bins-out", str(bins_out))
    assert code == 0, out
    sha = hashlib.sha256(m.model.read_bytes()).hexdigest()
    store = _store(home)
    found = baseline_for(store, ModelKey(m.name, "1", sha))
    assert found is not None
    bid, base = found
    assert baseline_for(store, ModelKey("other", "1", sha)) is None  # never another service's
    features = {f"feature:{c}" for c in (*m.numeric, *m.strings)}
    outputs = {"value"} if m.task == "regression" else {"score", "class"}
    assert set(base.columns) == features | outputs
    for c in m.strings:
        assert isinstance(base.column(f"feature:{c}"), CategoricalColumn)
    for c in m.numeric:
        assert isinstance(base.column(f"feature:{c}"), NumericColumn)
    assert (base.label_calibration is not None) == (m.task != "regression")
    # the bins file: written where asked, stored byte for byte with the baseline, and what the probe reads
    assert store.load_probe_bins(hashlib.sha256(bins_out.read_bytes()).hexdigest()) == (bid, bins_out.read_bytes())
    assert set(load_bins(bins_out).signals) == set(base.columns)
    assert f"INFERWATCH_SERVICE={m.name} INFERWATCH_MODEL_VERSION=1 INFERWATCH_TASK={m.task}" in out
    code, listed = _run(home, "baseline", "list")
    assert code == 0 and bid in listed and f"service {m.name}" in listed and sha[:12] in listed
    store.dispose()


def _probe_reported(m: OwnModel, frame: pd.DataFrame) -> tuple[list[float], dict[str, list[float]]]:
    """What the probe reports for every row in a team's handler: a probed session, 100 rows per invocation
    (every prediction and, with 100 summary rows, every input of each is on its line)."""
    lines: list[str] = []
    probe = Probe(m.name, "1", m.task, sink=lines.append, input_summary_rows=100, env={})
    session = probe.session(ort.InferenceSession(str(m.model), providers=["CPUExecutionProvider"]),
                            feature_names=None if m.strings else list(m.numeric))
    for start in range(0, len(frame), 100):
        rows = frame.iloc[start:start + 100]
        if m.strings:  # one input per column, strings as strings
            feed = {c: rows[[c]].to_numpy(np.float32) if c in m.numeric else rows[[c]].to_numpy(object)
                    for c in (*m.numeric, *m.strings)}
        else:
            dtype = np.float64 if m.name == "churn" else np.float32  # as the model's input declares
            feed = {session.get_inputs()[0].name: rows[list(m.numeric)].to_numpy(dtype)}
        with probe.invocation():
            session.run(None, feed)
    probe.close()
    member = "PredictionValue" if m.task == "regression" else "PredictionScore"
    outputs: list[float] = []
    inputs: dict[str, list[float]] = {c: [] for c in m.numeric}
    for line in map(json.loads, lines):
        outputs += line[member]
        for c in m.numeric:
            inputs[c] += line["InputSummary"][c]
    return outputs, inputs


@pytest.mark.parametrize("name", ["wine", "diabetes", "churn"])
def test_the_baseline_holds_what_the_probe_reports(tmp_path: Path, own_models: dict[str, OwnModel],
                                                    name: str) -> None:
    """Scores per the task and inputs as fed (float32 stays float32), every reference row: counted over the
    baseline's bins, what the probe reports in production is exactly the baseline's reference counts."""
    m = own_models[name]
    assert _create(tmp_path, m, "--label-column", m.label)[0] == 0
    store = _store(tmp_path)
    [row] = store.list_baselines()
    base = Baseline.from_dict(store.load_baseline(row["id"]) or {})
    outputs, inputs = _probe_reported(m, pd.read_csv(m.data))
    signals = {("value" if m.task == "regression" else "score"): outputs} | {f"feature:{c}": v
                                                                             for c, v in inputs.items()}
    for signal, values in signals.items():
        column = base.column(signal)
        assert isinstance(column, NumericColumn)
        counts = WindowCounts.from_values(column, np.asarray(values, dtype=np.float64)).counts
        assert np.array_equal(counts, column.counts), signal
    store.dispose()


def test_warnings_name_small_references_and_names_that_never_match(tmp_path: Path,
                                                                   own_models: dict[str, OwnModel]) -> None:
    code, out = _create(tmp_path, own_models["diabetes"], "--label-column", "progression")
    assert code == 0
    assert "small reference: 442 rows" in out
    assert "feature_names=['age', 'sex', 'bmi', 'bp', ...]" in out and "float_input_0" in out
    assert "label calibration is for classifiers" in out
    code, out = _create(tmp_path, own_models["wine"])
    assert code == 0 and "columns the model does not take get no baseline: cultivar" in out
    # one input per column: named by the model itself; 1,500 rows: no warning at all
    code, out = _create(tmp_path, own_models["wine"], "--label-column", "cultivar")
    assert code == 0 and "warning" not in out


def test_parquet_reference_data(tmp_path: Path, own_models: dict[str, OwnModel]) -> None:
    m = own_models["churn"]
    parquet = tmp_path / "churn.parquet"
    pd.read_csv(m.data).to_parquet(parquet)
    assert _create(tmp_path, m, "--label-column", m.label, data=parquet)[0] == 0
    assert baseline_for(_store(tmp_path), ModelKey("churn", "1")) is not None


def _broken_csv(tmp_path: Path, m: OwnModel, column: str, value: str) -> Path:
    frame = pd.read_csv(m.data, dtype=str, keep_default_na=False)
    frame.loc[6, column] = value
    path = tmp_path / f"broken-{column}.csv"
    frame.to_csv(path, index=False)
    return path


def test_bad_input_is_one_line_naming_it_and_nothing_is_saved(tmp_path: Path,
                                                               own_models: dict[str, OwnModel]) -> None:
    wine, diabetes = own_models["wine"], own_models["diabetes"]
    bins = tmp_path / "out.bins.json"
    cases = [
        (_create(tmp_path, wine, model=wine.data), f"model {wine.data}: not an ONNX model"),
        (_create(tmp_path, diabetes, data=wine.data), "the model's input 'float_input' takes 10 columns"),
        (_create(tmp_path, diabetes), "takes 10 columns, the data has 11"),  # the label column, not named
        (_create(tmp_path, wine, data=diabetes.data), "the model's inputs 'alcohol', 'malic_acid'"),
        (_create(tmp_path, diabetes, "--label-column", "progression",
                 data=_broken_csv(tmp_path, diabetes, "bmi", "")),
         "column 'bmi', line 8: missing value"),
        (_create(tmp_path, diabetes, "--label-column", "progression",
                 data=_broken_csv(tmp_path, diabetes, "s1", "NaN")),
         "column 's1', line 8: NaN is not a value"),
        (_create(tmp_path, wine, data=_broken_csv(tmp_path, wine, "proline", "abc")),
         "column 'proline', line 8: 'abc' is not a finite number"),
        (_create(tmp_path, wine, data=_broken_csv(tmp_path, wine, "colour", "")),
         "column 'colour', line 8: missing value"),
        (_create(tmp_path, wine, "--task", "ranking"), "--task 'ranking': one of binary, multiclass, regression"),
        (_create(tmp_path, wine, "--task", "regression"), "the model gives class labels"),
        (_create(tmp_path, wine, version="v/1"), "--model-version: 'v/1' is not a valid name"),
        (_create(tmp_path, wine, "--label-column", "grape"), "no label column 'grape'"),
        (_create(tmp_path, wine, data=tmp_path / "missing.csv"), "missing.csv: no such file"),
        (_create(tmp_path, wine, "--bins-out", str(tmp_path / "no" / "such" / "dir" / "b.json")), "cannot be written"),
    ]
    for (code, out), expected in cases:
        assert code == 2 and expected in out, (expected, out)
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    store = _store(tmp_path)
    assert store.list_baselines() == [] and not bins.exists()
    assert not list(tmp_path.glob("*.bins.json")) and not list(wine.model.parent.glob(".*.tmp"))
    store.dispose()


def test_a_copy_of_the_model_under_a_new_version_gets_its_own_baseline(tmp_path: Path,
                                                                       own_models: dict[str, OwnModel]) -> None:
    m = own_models["churn"]
    copy = tmp_path / "churn-copy.onnx"
    shutil.copy(m.model, copy)
    assert _create(tmp_path, m, "--label-column", m.label, version="1")[0] == 0
    assert _create(tmp_path, m, "--label-column", m.label, model=copy, version="2")[0] == 0
    store = _store(tmp_path)
    one, two = (baseline_for(store, ModelKey("churn", v)) for v in ("1", "2"))
    assert one is not None and two is not None and one[0] != two[0]
