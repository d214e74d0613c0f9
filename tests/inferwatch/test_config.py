"""inferwatch.toml validation: every error names the bad field."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferwatch.config import load_settings, parse_settings
from inferwatch.errors import ConfigError


def test_no_file_gives_the_local_demo() -> None:
    settings = load_settings(None, env={})
    assert [d.name for d in settings.deployments] == ["scorer-v1", "scorer-v2", "reports-v1"]
    assert [d.role.value for d in settings.deployments] == ["stable", "canary", "stable"]


@pytest.mark.parametrize(("raw", "field"), [
    ({"deployments": [{"provider": "aws", "function": "f"}]}, "deployments[0].region"),
    ({"deployments": [{"provider": "gcp", "project": "p", "region": "r"}]}, "deployments[0].service_name"),
    ({"deployments": [{"provider": "local", "name": "a b"}]}, "deployments[0].name"),
    ({"deployments": [{"provider": "azure"}]}, "deployments[0]"),
    ({"collect": {"step_s": 7}}, "collect.step_s"),
    ({"slo": {"availability": 1.5}}, "slo.availability"),
    ({"slo": {"cold_start_rate": 0.0}}, "slo.cold_start_rate"),  # `advise` and `report` crashed on it
    ({"store": {"url": "postgresql://u:secret@db/x"}}, "store.url"),
    ({"surprise": 1}, "surprise"),
    ({"deployments": [{"provider": "local", "name": "a", "min_instances": 5, "max_instances": 2}]}, "deployments[0]"),
])
def test_errors_name_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw)
    assert info.value.field == field
    assert field in str(info.value)


def test_password_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({"store": {"url": "postgresql://u:hunter2@db/x"}})
    assert "hunter2" not in str(info.value)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "inferwatch.toml"
    path.write_text("[collect\nstep_s = 60\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)


def test_duplicate_deployments_are_refused() -> None:
    with pytest.raises(ConfigError):
        parse_settings({"deployments": [{"provider": "local", "name": "a"}, {"provider": "local", "name": "a"}]})


@pytest.mark.parametrize(("raw", "field"), [
    ({"slo": {"p99_ms": float("inf")}}, "slo.p99_ms"),
    ({"slo": {"availability": float("nan")}}, "slo.availability"),
    ({"deployments": [{"provider": "local", "name": "a", "keep_alive_s": float("inf")}]},
     "deployments[0].keep_alive_s"),
    # the raw sections drift/, alerts/ and costs/ validate later: refused here already
    ({"drift": {"thresholds": {"psi": [0.1, float("inf")]}}}, "drift.thresholds.psi[1]"),
    ({"alerts": {"rules": [{"name": "X", "threshold": float("-inf")}]}}, "alerts.rules[0].threshold"),
    ({"prices": {"aws_lambda": {"architectures": {"arm64": {"request_usd_per_million": float("nan")}}}}},
     "prices.aws_lambda.architectures.arm64.request_usd_per_million"),
])
def test_non_finite_numbers_are_refused_anywhere(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, source="x.toml")
    assert info.value.field == field
    assert str(info.value) == f"x.toml: {field}: must be a finite number"


def test_a_file_that_is_not_utf8_is_one_line_naming_the_file_and_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "inferwatch.toml"
    path.write_bytes(b'[slo]\np99_ms = 100  # caf\xe9\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(info.value) == f"{path}: not UTF-8: byte 0xe9 at offset 25 cannot be decoded (save the file as UTF-8)"
    assert info.value.path == str(path)


@pytest.mark.parametrize(("content", "problem"), [
    (None, "cannot be read"),  # a folder, not a file
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
])
def test_unreadable_files_are_config_errors(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "inferwatch.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value)
