"""`inferwatch alerts test FILE`: the shipped rule tests pass, a wrong expectation is reported,
bad files are named, and the CLI maps all of that to exit codes."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.errors import AlertConfigError
from alerts.rule_replay import expand, run_file
from shell.cli import app

DEFAULT_TESTS = Path(str(resources.files("alerts").joinpath("default_rules_test.toml")))

RULES = """
[[rules]]
name = "SlowScorer"
kind = "latency_p99"
severity = "page"
threshold = 100
window = "2m"
for = "2m"
summary = "{entity} p99 {value:.0f} ms"
"""

TESTS = """
default_rules = false
rule_files = ["rules.toml"]
[[tests]]
name = "slow"
deployments = [{ id = "local:local:a" }]
[tests.series."local:local:a"]
invocations_count = "10x20"
latency_p99_ms = "50x4 200x15"
[[tests.alert_rule_test]]
eval_time = "EVAL"
alertname = "SlowScorer"
exp_alerts = [{ deployment = "local:local:a", state = "firing" }]
"""


def test_expanding_notation_matches_promtool() -> None:
    assert expand("1+2x3 _ 5 _x2 7-1x1 4x2") == [1, 3, 5, 7, None, 5, None, None, 7, 6, 4, 4, 4]
    assert expand("okx1 failed") == ["ok", "ok", "failed"]
    with pytest.raises(AlertConfigError, match="cannot read '1,5'"):
        expand("1,5")


def test_every_default_rule_passes_its_shipped_tests() -> None:
    outcomes = run_file(DEFAULT_TESTS)
    assert len(outcomes) == 13 and all(o.ok for o in outcomes), [o.failures for o in outcomes if not o.ok]


def write(tmp_path: Path, eval_time: str) -> Path:
    (tmp_path / "rules.toml").write_text(RULES)
    path = tmp_path / "tests.toml"
    path.write_text(TESTS.replace("EVAL", eval_time))
    return path


def test_a_wrong_expectation_is_reported(tmp_path: Path) -> None:
    assert run_file(write(tmp_path, "8m"))[0].ok  # mean over 2m above 100 ms from 6m, firing 2m later
    (outcome,) = run_file(write(tmp_path, "7m"))
    assert outcome.failures == (("SlowScorer at 7m: expected [('local:local:a', 'firing')], "
                                "got [('local:local:a', 'pending')]"),)


def test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["alerts", "test", str(write(tmp_path, "9m"))])
    assert ok.exit_code == 0 and "1 passed, 0 failed" in ok.output
    bad = runner.invoke(app, ["alerts", "test", str(write(tmp_path, "7m"))])
    assert bad.exit_code == 1 and "FAIL  slow" in bad.output and "got [('local:local:a', 'pending')]" in bad.output
    (tmp_path / "broken.toml").write_text("tests = [")
    broken = runner.invoke(app, ["alerts", "test", str(tmp_path / "broken.toml")])
    assert broken.exit_code == 2 and "broken.toml" in broken.output


def test_cli_run_and_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFERWATCH_CONFIG", raising=False)
    monkeypatch.delenv("INFERWATCH_STORE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    run = runner.invoke(app, ["--home", str(tmp_path), "alerts", "run"])
    assert run.exit_code == 0 and run.output == "inferwatch alerts: 0 firing, 0 pending, 0 sent\n"
    dry = runner.invoke(app, ["--home", str(tmp_path), "alerts", "run", "--dry-run"])
    assert dry.exit_code == 0 and "dry run" in dry.output
    box = runner.invoke(app, ["--home", str(tmp_path), "alerts", "outbox"])
    assert box.exit_code == 0 and "outbox is empty" in box.output
    retry = runner.invoke(app, ["--home", str(tmp_path), "alerts", "outbox", "--retry", "nope"])
    assert retry.exit_code == 1 and "no dead letter with id nope" in retry.output
