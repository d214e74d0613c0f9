"""`inferwatch profile`: your model measured in real fresh processes and projected onto Lambda and Cloud Run,
through the real CLI, on models made here with scikit-learn and skl2onnx (tests/own_models.py)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shell.cli import app
from tests.own_models import OwnModel


def _run(home: Path, *args: str) -> tuple[int, str, str]:
    config = home / "inferwatch.toml"
    if not config.exists():
        config.write_text("")
    result = CliRunner().invoke(app, ["--home", str(home), "--config", str(config), "profile", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.output


def _profile(home: Path, m: OwnModel, *extra: str, model: Path | None = None, data: Path | None = None
             ) -> tuple[int, str, str]:
    return _run(home, "--model", str(model or m.model), "--data", str(data or m.data), "--label-column", m.label,
                *extra)


@pytest.fixture(scope="module")
def forest(tmp_path_factory: pytest.TempPathFactory) -> OwnModel:
    """A random forest big enough that a batch of 64 rows takes measurably longer than one row."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import RandomForestRegressor

    folder = tmp_path_factory.mktemp("forest")
    rng = np.random.default_rng(16)
    x = rng.normal(size=(1000, 8))
    y = x @ rng.normal(size=8) + rng.normal(size=1000)
    with warnings.catch_warnings():  # skl2onnx and scikit-learn warn about their own versions
        warnings.simplefilter("ignore")
        model = RandomForestRegressor(n_estimators=60, max_depth=10, random_state=16).fit(x, y)
        onnx = convert_sklearn(model, initial_types=[("X", FloatTensorType([None, 8]))], target_opset=15)
    path = folder / "forest.onnx"
    path.write_bytes(onnx.SerializeToString())
    names = [f"f{j}" for j in range(8)]
    frame = pd.DataFrame(x, columns=names)
    frame["y"] = y
    frame.to_csv(folder / "forest.csv", index=False)
    return OwnModel("forest", "regression", path, folder / "forest.csv", "y", tuple(names))


def _check_measured(doc: dict[str, Any]) -> None:
    measured = doc["measured"]
    cold = measured["cold_start_ms"]
    parts = [cold[p] for p in ("interpreter_ms", "import_ms", "probe_import_ms", "read_ms", "session_ms",
                               "first_inference_ms")]
    assert all(p > 0 for p in parts), cold
    assert sum(parts) <= cold["total_ms"] < 60_000, cold  # parts of one cold start; the rest is the gaps
    assert cold["import_ms"] > cold["read_ms"]  # onnxruntime's import is the heavy part for a small model
    assert 20 < measured["peak_memory_mb"] < 2_000  # the child's own peak, not the parent's
    for row in measured["latency"]:
        assert row["runs"] >= 20 and 0 < row["p50_ms"] <= row["p95_ms"]
    request = measured["request"]
    assert request["mean_ms"] > 0 and measured["throughput_rps"] > 0
    assert measured["throughput_mode"] == "sequential"


def _check_projection(doc: dict[str, Any], slo_ms: float) -> None:
    options = doc["lambda"]["options"]
    by = {(o["architecture"], o["memory_mb"]): o for o in options}
    sizes = sorted({o["memory_mb"] for o in options})
    assert sizes[0] == 128 and sizes[-1] == 10240 and 1769 in sizes
    for m in sizes:  # same speed here, arm64 is cheaper per GB-second
        assert by[("arm64", m)]["monthly"]["total_usd"] < by[("x86_64", m)]["monthly"]["total_usd"]
    x86 = [by[("x86_64", m)]["p95_ms"] for m in sizes]
    assert x86 == sorted(x86, reverse=True)  # more memory, more CPU: never slower
    assert x86[-1] == pytest.approx(by[("x86_64", 1769)]["p95_ms"])  # and no faster above one vCPU
    for arch, chosen in doc["lambda"]["chosen"].items():
        assert chosen["meets_slo"] and chosen["p95_ms"] <= slo_ms and chosen["fits_memory"], arch
        assert chosen["memory_mb"] >= doc["measured"]["peak_memory_mb"] * 1.3
        cheaper = [o for o in options if o["architecture"] == arch and o["meets_slo"] and o["fits_memory"]
                   and o["monthly"]["total_usd"] < chosen["monthly"]["total_usd"] * 0.99]
        assert not cheaper, cheaper
    run = doc["cloud_run"]
    assert {o["vcpu"] for o in run["options"]} == {1.0, 2.0, 4.0}
    chosen = run["chosen"]
    assert chosen["billing_mode"] in ("request", "instance") and chosen["meets_slo"] and chosen["concurrency"] >= 1
    assert chosen["monthly_usd"] == min(min(o["monthly_request_based"]["total_usd"],
                                            o["monthly_instance_based"]["total_usd"]) for o in run["options"])
    text = " ".join(doc["model_behind_projection"])
    assert "1,769 MB" in text and "2025-08-01" in text and "single-threaded" in text


def test_profile_json_measures_for_real_and_projects(tmp_path: Path, forest: OwnModel) -> None:
    code, stdout, output = _profile(tmp_path, forest, "--json", "--duration-s", "2", "--cold-starts", "2",
                                    "--batch-sizes", "1,64", "--rps", "20", "--slo-ms", "50")
    assert code == 0, output
    doc = json.loads(stdout)
    assert doc["task"] == "regression" and doc["rows"] == 1000
    _check_measured(doc)
    assert len(doc["measured"]["cold_start_totals_ms"]) == 2
    latency = {row["batch_size"]: row for row in doc["measured"]["latency"]}
    assert set(latency) == {1, 64}
    assert latency[64]["mean_ms"] >= latency[1]["mean_ms"]  # 64 rows through 60 trees take longer than one
    _check_projection(doc, 50.0)
    assert doc["settings"]["rps"] == 20.0


def test_profile_text_of_a_model_with_string_columns(tmp_path: Path, own_models: dict[str, OwnModel]) -> None:
    wine = own_models["wine"]  # one ONNX input per column, two of them strings; ZipMap output
    code, stdout, output = _profile(tmp_path, wine, "--duration-s", "1", "--cold-starts", "1", "--arm64-factor",
                                    "1.2")
    assert code == 0, output
    for part in ("Cold start:", "import numpy + onnxruntime", "import the probe", "create the session",
                 "first inference", "Peak memory (RSS):", "Latency of the model per batch size", "A request of one row",
                 "Throughput per instance:", "Lambda (* chosen):", "x86_64:", "arm64:", "Cloud Run (us-central1):",
                 "chosen:", "The model behind the projection:", "1.2x the CPU time of x86_64"):
        assert part in stdout, part
    assert "Traceback" not in output


def test_the_json_is_the_same_command_as_the_text(tmp_path: Path, own_models: dict[str, OwnModel]) -> None:
    churn = own_models["churn"]
    code, stdout, output = _profile(tmp_path, churn, "--json", "--duration-s", "1", "--cold-starts", "1",
                                    "--gcp-region", "asia-south1", "--task", "binary")
    assert code == 0, output
    doc = json.loads(stdout)  # stdout holds the JSON alone: progress goes to stderr, and not with --json
    assert doc["task"] == "binary" and doc["settings"]["cloud_run_region"] == "asia-south1"
    _check_measured(doc)
    one = next(o for o in doc["cloud_run"]["options"] if o["vcpu"] == 1.0)
    tier1 = json.loads(_profile(tmp_path, churn, "--json", "--duration-s", "1", "--cold-starts", "1")[1])
    one_tier1 = next(o for o in tier1["cloud_run"]["options"] if o["vcpu"] == 1.0)
    assert one["monthly_instance_based"]["total_usd"] > one_tier1["monthly_instance_based"]["total_usd"]  # tier 2


def test_bad_input_is_one_line_naming_it(tmp_path: Path, own_models: dict[str, OwnModel]) -> None:
    wine, diabetes = own_models["wine"], own_models["diabetes"]
    cases = [
        (_profile(tmp_path, wine, model=wine.data), f"model {wine.data}: not an ONNX model"),
        (_profile(tmp_path, wine, data=tmp_path / "missing.csv"), "missing.csv: no such file"),
        (_profile(tmp_path, wine, data=diabetes.data), "no label column 'cultivar'"),
        (_run(tmp_path, "--model", str(wine.model), "--data", str(diabetes.data)),
         "the model's inputs 'alcohol', 'malic_acid'"),
        (_run(tmp_path, "--model", str(diabetes.model), "--data", str(diabetes.data)),
         "takes 10 columns, the data has 11"),
        (_profile(tmp_path, wine, "--rps", "0"), "--rps: must be a number > 0"),
        (_profile(tmp_path, wine, "--slo-ms", "-5"), "--slo-ms: must be a number > 0"),
        (_profile(tmp_path, wine, "--batch-sizes", "1,x"), "--batch-sizes '1,x': expected whole numbers"),
        (_profile(tmp_path, wine, "--batch-sizes", "0"), "--batch-sizes '0': each size must be within"),
        (_profile(tmp_path, wine, "--duration-s", "0"), "--duration-s: 0.0 is outside"),
        (_profile(tmp_path, wine, "--cold-start-share", "2"), "--cold-start-share: 2.0 is outside 0..1"),
        (_profile(tmp_path, wine, "--max-cold-start-ms", "0"), "--max-cold-start-ms: must be a number > 0"),
        (_profile(tmp_path, wine, "--task", "ranking"), "--task 'ranking': one of binary, multiclass, regression"),
    ]
    for (code, _, out), expected in cases:
        assert code == 2 and expected in out, (expected, out)
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out


def test_an_unreadable_data_file_is_named(tmp_path: Path, own_models: dict[str, OwnModel]) -> None:
    wine = own_models["wine"]
    broken = tmp_path / "broken.csv"
    frame = pd.read_csv(wine.data, dtype=str)
    frame.loc[6, "proline"] = "abc"
    frame.to_csv(broken, index=False)
    binary = tmp_path / "binary.parquet"
    binary.write_bytes(b"\x00\x01 not parquet")
    for data, expected in ((broken, "column 'proline', line 8: 'abc' is not a finite number"),
                           (binary, f"{binary}: cannot be read")):
        code, _, out = _profile(tmp_path, wine, data=data)
        assert code == 2 and expected in out and len(out.strip().splitlines()) == 1, out
