"""A local deployment serving your own model in inferwatch.toml (``model_path``, ``task``, ``input_name``):
`config check` and every verb accept it, or refuse it with the same one line naming the field and file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from inferwatch_probe.settings import TASKS as PROBE_TASKS

from inferwatch.config import REFERENCE_VERSIONS, TASKS
from reference_service.model import VERSIONS
from reference_service.onnx_file import TASKS as SERVICE_TASKS
from tests.own_models import OwnModel
from tests.shell.test_config_everywhere import assert_one_validation_path, folder, run_everything

__all__ = ["folder"]  # the fixture, used by name


def _deployment(**fields: object) -> str:
    lines = ["[[deployments]]", 'provider = "local"', 'name = "wine"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("fields", "says"), [
    ({"model_version": "wine-1"}, "model_version 'wine-1': the emulator serves the reference models v1 and v2; "
                                  "set model_path (and task) to serve your own ONNX file"),
    ({"model_version": "1", "model_path": "missing.onnx", "task": "multiclass"}, "missing.onnx: no such file"),
    ({"model_version": "1", "model_path": "notes.txt", "task": "multiclass"},
     "notes.txt: not an ONNX model onnxruntime can load"),
    ({"model_version": "1", "model_path": "wine.onnx"}, "model_path needs task: one of binary, multiclass, regression"),
    ({"model_version": "1", "model_path": "wine.onnx", "task": "ranking"}, "deployments[0].task"),
    ({"model_version": "1", "model_path": "wine.onnx", "task": "multiclass", "input_name": "nope"},
     "has no input 'nope' (its inputs: alcohol, malic_acid"),
    ({"model_version": "v1", "task": "binary"}, "task, input_name and feature_names go with model_path"),
    ({"model_version": "v1", "shadow_version": "wine-2"}, "shadow scoring runs a reference model"),
])
def test_a_model_that_cannot_be_served_is_one_line_from_every_verb(
        folder: Path, own_models: dict[str, OwnModel], fields: dict[str, object], says: str) -> None:
    shutil.copy(own_models["wine"].model, folder / "wine.onnx")
    (folder / "notes.txt").write_text("not a model")
    config, outcomes = run_everything(folder, _deployment(**fields))
    assert_one_validation_path(config, outcomes)
    lines = {name: o.err.strip() for name, o in outcomes.items()}
    assert {o.code for o in outcomes.values()} == {2}, lines
    assert len(set(lines.values())) == 1, lines
    assert says in lines["status"] and lines["status"].startswith(f"inferwatch: {config}: deployments"), lines


def test_a_model_path_is_relative_to_the_config_file(tmp_path: Path, own_models: dict[str, OwnModel],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    shutil.copy(own_models["wine"].model, elsewhere / "wine.onnx")
    monkeypatch.delenv("INFERWATCH_STORE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # not where the config is
    config, outcomes = run_everything(elsewhere, _deployment(model_version="1", model_path="wine.onnx",
                                                             task="multiclass", service="wine"))
    assert_one_validation_path(config, outcomes)
    assert outcomes["config check"].code == 0 and outcomes["status"].code == 0, outcomes["config check"].text


def test_the_config_knows_the_models_and_tasks_the_function_side_knows() -> None:
    assert REFERENCE_VERSIONS == VERSIONS
    assert TASKS == SERVICE_TASKS == PROBE_TASKS
