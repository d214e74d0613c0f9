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
