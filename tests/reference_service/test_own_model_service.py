"""The reference service serving models that are not the demo's (tests/own_models.py): a multiclass
classifier with string inputs, a regressor and a binary classifier, in process, through `inferwatch serve
--model` and in the emulator's instance configuration."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from collectors.local_telemetry import parse_emf_line
from reference_service.emulator import ConfigError, DeploymentConfig
from reference_service.errors import ServiceConfigError
from reference_service.invocation import Service
from reference_service.onnx_file import infer_task, read_model_file
from reference_service.settings import ServiceSettings
from reference_service.telemetry import MemorySink
from tests.own_models import OwnModel

from .conftest import REPO


def _settings(m: OwnModel) -> ServiceSettings:
    return ServiceSettings(concurrency=1, deployment=m.name, service=m.name, model_version="1", model_path=m.model,
                           task=m.task, feature_names=None if m.strings else m.numeric)


def _instances(m: OwnModel, n: int) -> list[list[Any]]:
    frame = pd.read_csv(m.data).iloc[:n]
    return [[row[c] for c in (*m.numeric, *m.strings)] for _, row in frame.iterrows()]


@pytest.mark.parametrize("name", ["wine", "diabetes", "churn"])
def test_your_model_answers_and_its_telemetry_is_the_probes(own_models: dict[str, OwnModel], name: str) -> None:
    m = own_models[name]
    sink = MemorySink()
    svc = Service(_settings(m), sink)
    reply = svc.invoke(json.dumps({"instances": _instances(m, 5)}).encode())
    assert reply.status_code == 200, reply.body
    rows = reply.body["predictions"]
    line = sink.lines[0]
    assert line["Task"] == m.task and line["Service"] == m.name and line["Rows"] == 5 and line["Status"] == "ok"
    if m.task == "regression":  # a regressor answers its values, never "inference failed"
        assert all(isinstance(r["value"], float) for r in rows)
        assert line["PredictionValue"] == pytest.approx([r["value"] for r in rows], rel=1e-6)
    else:
        labels = [r["label"] for r in rows]
        assert line["PredictionScore"] and (line.get("PredictedLabel") or line.get("PredictedClass")) == labels
    assert set(line["InputSummary"]) == set(m.numeric)  # named as the baseline names them
    assert set(line.get("InputCategories", {})) == set(m.strings)
    parse_emf_line(json.dumps(line))  # and the collector reads the line
    svc.close()


def test_named_inputs_and_refusals_name_the_field(own_models: dict[str, OwnModel]) -> None:
    m = own_models["wine"]
    svc = Service(_settings(m), MemorySink())
    row = dict(zip((*m.numeric, *m.strings), _instances(m, 1)[0], strict=True))
    assert svc.invoke(json.dumps({"inputs": row}).encode()).status_code == 200
    bad = svc.invoke(json.dumps({"inputs": {**row, "colour": 3, "alcohol": "strong"}}).encode())
    assert bad.status_code == 400
    assert {(f["field"], f["problem"]) for f in bad.body["fields"]} == {
        ("inputs.alcohol", "'alcohol' must be a number, got \"strong\""),
        ("inputs.colour", "'colour' must be a string, got int")}


def test_a_model_file_that_cannot_be_served_is_named(tmp_path: Path, own_models: dict[str, OwnModel]) -> None:
    m = own_models["churn"]
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model")
    with pytest.raises(ServiceConfigError, match="INFERWATCH_MODEL_PATH: model 1 could not be loaded from .*junk"):
        Service(replace(_settings(m), model_path=junk), MemorySink())
    with pytest.raises(ServiceConfigError, match="input_name 'nope' is not an input"):
        Service(replace(_settings(m), input_name="nope"), MemorySink())
    with pytest.raises(ServiceConfigError, match="INFERWATCH_TASK: required with INFERWATCH_MODEL_PATH"):
        ServiceSettings.from_env({"INFERWATCH_MODEL_PATH": str(m.model)})
    settings = ServiceSettings.from_env({"INFERWATCH_MODEL_PATH": str(m.model), "INFERWATCH_TASK": "binary",
                                         "INFERWATCH_MODEL_VERSION": "churn-2",
                                         "INFERWATCH_FEATURE_NAMES": json.dumps(list(m.numeric))})
    assert (settings.model_version, settings.feature_names) == ("churn-2", m.numeric)


@pytest.mark.parametrize("name", ["wine", "diabetes", "churn"])
def test_the_task_is_read_from_the_model(own_models: dict[str, OwnModel], name: str) -> None:
    model, session = read_model_file(own_models[name].model)
    assert infer_task(model, session) == own_models[name].task


def test_the_emulator_passes_your_model_to_its_instances(own_models: dict[str, OwnModel]) -> None:
    m = own_models["diabetes"]
    env = DeploymentConfig("diabetes", model_version="1", model_path=str(m.model), task="regression",
                           service="diabetes", feature_names=m.numeric).instance_env()
    assert env["INFERWATCH_MODEL_PATH"] == str(m.model) and env["INFERWATCH_TASK"] == "regression"
    assert json.loads(env["INFERWATCH_FEATURE_NAMES"]) == list(m.numeric) and env["INFERWATCH_SERVICE"] == "diabetes"
    with pytest.raises(ConfigError, match="a model_path needs its task"):
        DeploymentConfig("d", model_version="1", model_path=str(m.model))
    with pytest.raises(ConfigError, match="give model_path to serve a model of your own"):
        DeploymentConfig("d", model_version="wine-1")


def test_inferwatch_serve_model_serves_your_model(tmp_path: Path, own_models: dict[str, OwnModel]) -> None:
    m = own_models["wine"]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from shell.cli import main; main()", "--home", str(tmp_path), "serve", "--port", "0",
         "--model", str(m.model), "--service", "wine"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin",
                                                                          "HOME": str(tmp_path)})
    assert proc.stderr is not None
    try:
        port = 0
        for raw in proc.stderr:
            if raw.startswith(b"READY port="):
                port = int(raw.decode().split("=")[1])
                break
        assert port
        body = json.dumps({"instances": _instances(m, 3)}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            answer = json.loads(resp.read())
        labels = [p["label"] for p in answer["predictions"]]
        assert len(labels) == 3 and set(labels) <= {"class_0", "class_1", "class_2"}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        proc.stderr.close()
    [line] = [json.loads(ln) for f in (tmp_path / "telemetry").glob("*.jsonl") for ln in f.read_text().splitlines()]
    assert (line["Service"], line["Task"], line["ModelSha256"]) == ("wine", "multiclass", read_model_file(
        m.model)[0].sha256)
