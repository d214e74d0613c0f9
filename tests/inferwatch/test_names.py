"""One rule for every name that becomes a file name, an id or a metric dimension: the shell's copy and
the function side's copy agree on every string, and every place a name enters applies it."""

from __future__ import annotations

import os
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from inferwatch_probe import process as probe_side
from inferwatch_probe.errors import ProbeConfigError
from inferwatch_probe.sinks import FileSink

from inferwatch import names as shell
from inferwatch.config import parse_settings
from inferwatch.errors import ConfigError, InvalidNameError
from reference_service import names as function_side
from reference_service.emulator import DeploymentConfig, ServiceConfig
from reference_service.emulator.errors import ConfigError as EmulatorConfigError
from reference_service.errors import ServiceConfigError
from reference_service.settings import ServiceSettings

VALID = ["scorer-v1", "v1", "v2", "wine-1", "local-v1", "Scorer_2", "eu-west-1", "us-central1", "7", "a" * 64]
INVALID = ["", ".", "..", "../escaped-dep", "../../escaped-dep", "a/b", "/abs", "a\\b", "a:b", "a.b", ".hidden",
           "-x", "_x", "a b", "scorer\n", "a" * 65, "caf\u00e9", "x\x00y", "$LATEST"]
# Strings built mostly from the characters names are made of and the ones that break paths and ids.
NEAR_NAMES = st.text(alphabet=string.ascii_letters + string.digits + "_-./:\\ \n\x00\u00e9$", max_size=80)


@pytest.mark.parametrize("name", VALID)
def test_valid_names_pass_every_copy(name: str) -> None:
    assert shell.name_problem(name) is None and function_side.name_problem(name) is None
    assert probe_side.name_problem(name) is None


@pytest.mark.parametrize("name", INVALID)
def test_invalid_names_are_refused_by_every_copy(name: str) -> None:
    assert shell.name_problem(name) is not None and function_side.name_problem(name) is not None
    assert probe_side.name_problem(name) is not None


@given(st.one_of(NEAR_NAMES, st.text(max_size=80)))
def test_every_copy_accepts_and_refuses_exactly_the_same_names(value: str) -> None:
    assert (shell.name_problem(value) is None) == (function_side.name_problem(value) is None)
    assert (shell.name_problem(value) is None) == (probe_side.name_problem(value) is None)


@given(NEAR_NAMES)
def test_a_valid_name_stays_inside_its_folder_and_its_id(value: str) -> None:
    if shell.name_problem(value) is not None:
        return
    folder = Path("/srv/telemetry")
    assert Path(os.path.normpath(folder / f"{value}-123-abcdef.jsonl")).parent == folder
    assert f"{value}-1-a.1.jsonl".split(".", 1)[0] == f"{value}-1-a"  # the instance id, as the collector reads it
    assert len(f"local:local:{value}".split(":")) == 3


def test_check_name_names_the_field() -> None:
    with pytest.raises(InvalidNameError) as info:
        shell.check_name("--deployment", "../../escaped-dep")
    assert info.value.field == "--deployment" and info.value.value == "../../escaped-dep"
    assert str(info.value).startswith("--deployment: '../../escaped-dep' is not a valid name")


LOCAL = {"provider": "local", "name": "scorer-v1"}
AWS = {"provider": "aws", "region": "eu-west-1", "function": "scorer"}
GCP = {"provider": "gcp", "project": "my-project", "region": "us-central1", "service_name": "scorer"}


@pytest.mark.parametrize(("deployment", "field"), [
    ({**LOCAL, "name": "../../escaped-dep"}, "deployments[0].name"),
    ({**LOCAL, "service": "a/b"}, "deployments[0].service"),
    ({**LOCAL, "model_version": "../v1"}, "deployments[0].model_version"),
    ({**LOCAL, "shadow_version": ".."}, "deployments[0].shadow_version"),
    ({**AWS, "function": "../f"}, "deployments[0].function"),
    ({**AWS, "aliases": ["live", "a:b"]}, "deployments[0].aliases[1]"),
    ({**AWS, "region": "eu/west"}, "deployments[0].region"),
    ({**AWS, "service": "x y"}, "deployments[0].service"),
    ({**GCP, "service_name": "../scorer"}, "deployments[0].service_name"),
    ({**GCP, "region": ".."}, "deployments[0].region"),
])
def test_the_config_refuses_a_bad_name_naming_the_field(deployment: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({"deployments": [deployment]}, source="inferwatch.toml")
    assert info.value.field == field
    assert str(info.value).startswith(f"inferwatch.toml: {field}: ")
    assert "is not a valid name" in str(info.value) and "\n" not in str(info.value)


def test_the_config_keeps_accepting_the_names_in_use() -> None:
    settings = parse_settings({"deployments": [
        {**LOCAL, "service": "scorer", "model_version": "v1", "shadow_version": "v2"},
        {**AWS, "aliases": ["live", "1"], "service": "scorer"}, GCP]})
    assert len(settings.deployments) == 3


@pytest.mark.parametrize("name", ["../escaped", "a.b", "scorer\n"])
def test_the_emulator_refuses_the_same_names(name: str) -> None:
    with pytest.raises(EmulatorConfigError):
        DeploymentConfig(name)
    with pytest.raises(EmulatorConfigError):
        ServiceConfig(name, (DeploymentConfig("scorer-v1"),))


def test_the_emulator_accepts_what_the_config_accepts() -> None:
    assert ServiceConfig("Scorer", (DeploymentConfig("Scorer_V1"),)).deployment_names == ("Scorer_V1",)


@pytest.mark.parametrize("variable", ["INFERWATCH_DEPLOYMENT", "INFERWATCH_INSTANCE_ID"])
@pytest.mark.parametrize("value", ["../../escaped-dep", "a.b", ".."])
def test_the_reference_service_refuses_a_bad_name_in_its_environment(variable: str, value: str) -> None:
    with pytest.raises(ServiceConfigError) as info:
        ServiceSettings.from_env({variable: value})
    assert info.value.variable == variable and "letters, digits" in str(info.value)


def test_the_reference_service_keeps_its_default_and_long_instance_ids() -> None:
    settings = ServiceSettings.from_env({"INFERWATCH_DEPLOYMENT": "d" * 64})
    assert settings.instance_id.startswith("d" * 64 + "-")
    assert ServiceSettings.from_env({}).deployment == "local-v1"


def test_the_telemetry_file_never_leaves_its_folder(tmp_path: Path) -> None:
    with pytest.raises(ProbeConfigError, match="not a valid name"):  # the reference service writes through it
        FileSink(tmp_path / "telemetry", "../../escaped-dep-1-abc")
    assert list(tmp_path.rglob("*.jsonl")) == []
    FileSink(tmp_path / "telemetry", "d" * 64 + "-12345-abcdef").write("{}")  # a long instance id is fine
    assert len(list(tmp_path.rglob("*.jsonl"))) == 1


def test_baseline_create_refuses_a_version_that_is_not_a_name(tmp_path: Path) -> None:
    # '../model/v1' reaches the packaged v1 card through the model folder: without the check it built
    # and stored a baseline whose id and model version hold a path
    env = {k: v for k, v in os.environ.items() if k not in ("INFERWATCH_STORE_URL", "INFERWATCH_CONFIG")}
    out = subprocess.run([str(Path(sys.executable).parent / "inferwatch"), "--home", str(tmp_path / "home"),
                          "baseline", "create", "--version", "../model/v1"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr
    assert out.stderr.splitlines() == [f"inferwatch: --version: {shell.name_problem('../model/v1')}"]
