"""One validation path: `inferwatch config check` and every verb accept and refuse the same
inferwatch.toml, with the same one line naming the field, and no file makes any of them crash.

Verbs run in-process through the console script's ``main`` (the same error handling as the real
command), each on its own fresh home, with the config written as a real file."""

from __future__ import annotations

import io
import tempfile
import traceback
from collections.abc import Iterator, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from shell.cli import main
from tests.shell.hostile_configs import configs
from tests.shell.toml_text import toml_document

VERBS: dict[str, tuple[str, ...]] = {
    "status": ("status",), "collect": ("collect",), "drift check": ("drift", "check"),
    "alerts run": ("alerts", "run"), "advise": ("advise",), "report weekly": ("report", "weekly"),
    "baseline list": ("baseline", "list"),
}
# 1: a collector failed (recorded), drift found, or a message stays queued; 75: the alert job's
# "try again later"; 2: a configuration error (or, for the others, a store that does not answer).
EXIT_CODES = {"status": {0, 2}, "collect": {0, 1, 2}, "drift check": {0, 1, 2}, "alerts run": {0, 1, 2, 75},
              "advise": {0, 2}, "report weekly": {0, 2}, "baseline list": {0, 2}, "config check": {0, 1, 2}}
PREFIXES = ("inferwatch: ", "inferwatch alerts: configuration error: ")


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    crash: str | None = None  # the traceback of an exception that escaped the command

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(home: Path, config: Path, args: Sequence[str]) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(["--home", str(home), "--config", str(config), *args])
            code, crash = 0, None
        except SystemExit as exc:
            code, crash = (exc.code if isinstance(exc.code, int) else 1), None
        except Exception:  # noqa: BLE001  the property under test: nothing escapes the command
            code, crash = -1, traceback.format_exc()
    return Outcome(code, out.getvalue(), err.getvalue(), crash)


def subject(outcome: Outcome, config: Path) -> str:
    """What a one-line error is about: the field for configuration errors (``alerts.rules[0].kind``),
    the whole reason otherwise (``store sqlite:///... unavailable``)."""
    line = outcome.err.strip().splitlines()[-1]
    for prefix in PREFIXES:
        line = line.removeprefix(prefix)
    return line.removeprefix(f"{config}: ").split(": ", 1)[0]


def run_everything(folder: Path, text: str | bytes) -> tuple[Path, dict[str, Outcome]]:
    config = folder / "inferwatch.toml"
    if isinstance(text, bytes):
        config.write_bytes(text)
    else:
        config.write_text(text, encoding="utf-8")
    outcomes = {"config check": run_cli(folder / "home", config, ("config", "check"))}
    for name, args in VERBS.items():  # one home, as an operator's crontab would use
        outcomes[name] = run_cli(folder / "home", config, args)
    return config, outcomes


def assert_one_validation_path(config: Path, outcomes: dict[str, Outcome]) -> None:
    check = outcomes["config check"]
    for name, o in outcomes.items():
        assert o.crash is None, f"{name} crashed:\n{o.crash}"
        assert "Traceback" not in o.text, f"{name} printed a traceback:\n{o.text}"
        assert o.code in EXIT_CODES[name], f"{name} exited {o.code}:\n{o.text}"
        if o.code == 2:
            assert o.err.strip().count("\n") == 0, f"{name}: not one line:\n{o.err}"
        if name == "config check" or o.code != 2:
            continue
        assert check.code != 0, f"config check passed what {name} refused:\n{o.err}\ncheck said:\n{check.text}"
        assert subject(o, config) in check.text, f"{name} said:\n{o.err}\nconfig check said:\n{check.text}"


@pytest.fixture()
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder with no store URL or config from the environment."""
    monkeypatch.delenv("INFERWATCH_STORE_URL", raising=False)
    monkeypatch.delenv("INFERWATCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


# Each of these passed `config check` on main while a verb refused it (or, for p99_ms = inf,
# passed everywhere): now every verb and `config check` refuse it with the same line.
REFUSED_BY_ALL = [
    ("[alerts]\nmax_attempts = -1\n", "alerts.max_attempts"),
    ('[alerts]\nrepeat_interval = "forever"\n', "alerts.repeat_interval"),
    ('[[alerts.rules]]\nname = "X"\nsummary = "{entity}"\n', "alerts.rules[0].kind"),
    ('[[alerts.rules]]\nname = "X"\nkind = "error_rate"\nsummary = "{__class__}"\n', "alerts.rules[0].summary"),
    ('[notifiers.hook]\ntype = "webhook"\nurl = "https://hooks.example/secret"\n', "notifiers.hook"),
    ('[drift]\nwindow = "-5m"\n', "drift.window"),
    ("[prices]\nlambda_gb_s = -1\n", "prices.lambda_gb_s"),
    ("[slo]\np99_ms = inf\n", "slo.p99_ms"),
    ('[store]\nurl = "mysql://db/inferwatch"\n', "store.url"),
    ("[slo]\ncold_start_rate = 0.0\n", "slo.cold_start_rate"),  # `advise` and `report weekly` crashed
]


@pytest.mark.parametrize(("text", "field"), REFUSED_BY_ALL, ids=[f for _, f in REFUSED_BY_ALL])
def test_every_verb_refuses_what_config_check_refuses(folder: Path, text: str, field: str) -> None:
    config, outcomes = run_everything(folder, text)
    assert_one_validation_path(config, outcomes)
    lines = {name: o.err.strip() for name, o in outcomes.items()}
    assert {o.code for o in outcomes.values()} == {2}, lines
    assert len(set(lines.values())) == 1, lines  # the same line from every verb
    assert lines["status"].startswith(f"inferwatch: {config}: {field}: ")


def test_an_unset_notifier_variable_fails_config_check_and_the_alert_job_only(folder: Path) -> None:
    text = '[notifiers.hook]\ntype = "webhook"\nurl_env = "INFERWATCH_TEST_NEVER_SET"\n'
    config, outcomes = run_everything(folder, text)
    assert_one_validation_path(config, outcomes)
    problem = "notifiers.hook.url_env: environment variable INFERWATCH_TEST_NEVER_SET is not set"
    assert outcomes["config check"].code == 1 and problem in outcomes["config check"].out
    assert outcomes["alerts run"].code == 2 and problem in outcomes["alerts run"].err
    assert all(o.code == 0 for name, o in outcomes.items() if name not in ("config check", "alerts run"))


def test_a_config_that_is_not_utf8_is_one_line_from_every_verb(folder: Path) -> None:
    config, outcomes = run_everything(folder, b"[slo]\np99_ms = 250  # caf\xe9\n")
    assert_one_validation_path(config, outcomes)
    expected = f"inferwatch: {config}: not UTF-8: byte 0xe9 at offset 25 cannot be decoded (save the file as UTF-8)"
    assert {name: (o.code, o.err.strip()) for name, o in outcomes.items()} == {
        name: (2, expected) for name in outcomes}


@pytest.mark.slow
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=configs())
def test_hostile_configs_never_crash_and_config_check_refuses_what_any_verb_refuses(
        folder: Path, doc: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(dir=folder) as example:
        config, outcomes = run_everything(Path(example), toml_document(doc))
        assert_one_validation_path(config, outcomes)
