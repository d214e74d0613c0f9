"""The job: exit codes with one-line reasons, dry runs, the default file sink, the store on SQLite and
PostgreSQL, and secrets that never reach messages or logs."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from inferwatch.errors import ConfigError
from inferwatch.store import Store
from shell.alert_job import EXIT_CONFIG, EXIT_OK, EXIT_PARTIAL, EXIT_TEMPFAIL, main, run_once
from shell.alert_lock import job_lock
from tests.alerts.builders import DEP, T0, Clock, fill_store, runtime, traffic_points


def failing(store: Store) -> None:
    fill_store(store, traffic_points(DEP.id, T0 - timedelta(hours=1), 70, errors=20))


def test_empty_store_evaluates_and_exits_zero(tmp_path: Path) -> None:
    result = run_once(runtime(tmp_path), clock=Clock(T0))
    assert (result.exit_code, result.message) == (EXIT_OK, "0 firing, 0 pending, 0 sent")
    assert result.counts["rules"] == 12


def test_default_file_sink_gets_one_json_line_per_message(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    store = rt.open_store()
    failing(store)
    clock = Clock(T0)
    first = run_once(rt, clock=clock)
    assert first.exit_code == EXIT_OK and first.counts["firing"] == 2 and first.counts["pending"] == 1
    clock.advance(minutes=3)
    assert run_once(rt, clock=clock).counts["firing"] == 3
    lines = (tmp_path / "alerts" / "notifications.jsonl").read_text().splitlines()
    bodies = [json.loads(line) for line in lines]
    assert [sorted(a["rule"] for a in b["alerts"]) for b in bodies] == [
        ["SLOBurnRateFast", "SLOBurnRateSlow"], ["ErrorRateHigh"]]
    assert bodies[1]["alerts"][0]["summary"] == (
        f"{DEP.id}: 20.0% of requests failed, timed out or degraded over the last 5m (100 of 500; threshold 5.0%)")
    assert store.count_outbox() == {"delivered": 2}
    history = store.load_alert_events()
    assert {(e["rule"], e["to_state"]) for e in history} >= {("ErrorRateHigh", "pending"), ("ErrorRateHigh", "firing")}
    (run,) = store.load_alert_runs()[:1]
    assert run["exit_code"] == EXIT_OK and run["counts"]["sent"] == 1


def test_dry_run_saves_and_sends_nothing(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    store = rt.open_store()
    failing(store)
    result = run_once(rt, dry_run=True, clock=Clock(T0))
    assert result.exit_code == EXIT_OK and result.message.startswith("dry run: 2 firing, 1 pending, 1 messages")
    assert len(result.messages) == 1
    assert store.load_alert_states() == {} and store.count_outbox() == {} and store.load_alert_runs() == []
    assert not (tmp_path / "alerts" / "notifications.jsonl").exists()


def test_config_error_refuses_the_runtime_naming_the_field(tmp_path: Path) -> None:
    """[alerts] is validated when the Runtime is made, as for every verb (main() exits 2, below)."""
    with pytest.raises(ConfigError) as info:
        runtime(tmp_path, {"alerts": {"rules": [{"name": "X", "kind": "error_rate", "summary": "s", "window": "1q"}]}})
    assert str(info.value).startswith("test.toml: alerts.rules[0].window: '1q' is not a duration")
    assert info.value.field == "alerts.rules[0].window" and "\n" not in str(info.value)


def test_an_unusable_home_exits_2_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", "/dev/null"]) == EXIT_CONFIG
    assert capsys.readouterr().err == "inferwatch alerts: configuration error: --home /dev/null: not a folder\n"


def test_missing_secret_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = run_once(runtime(tmp_path, {"notifiers": {"ops": {"type": "webhook"}}}))
    assert (result.exit_code, result.message) == (
        EXIT_CONFIG,
        "configuration error: notifiers.ops.url_env: environment variable INFERWATCH_WEBHOOK_URL is not set")


def test_an_email_ca_file_that_cannot_be_loaded_exits_2_naming_it(tmp_path: Path) -> None:
    """The CA file is read when the notifier is built: a missing one was a FileNotFoundError traceback."""
    raw = {"notifiers": {"mail": {"type": "email", "host": "127.0.0.1", "sender": "a@example.com",
                                  "to": ["b@example.com"], "ca_file": str(tmp_path / "missing-ca.pem")}}}
    result = run_once(runtime(tmp_path, raw))
    assert result.exit_code == EXIT_CONFIG
    assert result.message.startswith("configuration error: notifiers.mail.ca_file: cannot load ")
    assert "\n" not in result.message


def test_lock_held_exits_75(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    store = rt.open_store()
    with job_lock(store, tmp_path):
        result = run_once(rt)
    assert result.exit_code == EXIT_TEMPFAIL and result.message.startswith("skipped: another alert run holds ")


def test_unreachable_store_exits_75(tmp_path: Path) -> None:
    rt = replace(runtime(tmp_path), store_url="postgresql+psycopg://nobody:pw@127.0.0.1:1/none")
    result = run_once(rt)
    assert result.exit_code == EXIT_TEMPFAIL and result.message.startswith("store unavailable: ")
    assert ":pw@" not in result.message


def test_the_job_runs_on_both_backends(store_url: str, tmp_path: Path) -> None:
    rt = replace(runtime(tmp_path), store_url=store_url)
    store = rt.open_store()
    failing(store)
    clock = Clock(T0)
    for _ in range(3):
        assert run_once(rt, clock=clock).exit_code == EXIT_OK
        clock.advance(minutes=2)
    states = store.load_alert_states()
    assert sorted((s.rule, s.state) for s in states.values() if s.state != "ok") == [
        ("ErrorRateHigh", "firing"), ("SLOBurnRateFast", "firing"), ("SLOBurnRateSlow", "firing")]
    assert store.count_outbox() == {"delivered": 2}
    store.dispose()


def test_secrets_never_reach_logs_or_messages(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret_url = "http://127.0.0.1:9/hooks/T0/very-secret-token"
    rt = runtime(tmp_path, {"notifiers": {"ops": {"type": "webhook", "timeout": 1}}},
                 {"INFERWATCH_WEBHOOK_URL": secret_url, "INFERWATCH_WEBHOOK_SECRET": "hmac-secret"})
    failing(rt.open_store())
    with caplog.at_level(logging.DEBUG):
        result = run_once(rt, clock=Clock(T0))
    assert result.exit_code == EXIT_PARTIAL
    (queued,) = rt.open_store().load_outbox(status="pending")
    everything = caplog.text + result.message + (queued.last_error or "") + repr(rt)
    assert "very-secret-token" not in everything and "hmac-secret" not in everything
    assert "http://127.0.0.1:9/…" in (queued.last_error or "")


def test_module_entry_point_prints_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("INFERWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("INFERWATCH_CONFIG", raising=False)
    monkeypatch.delenv("INFERWATCH_STORE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main([]) == EXIT_OK
    assert capsys.readouterr().out == "inferwatch alerts: 0 firing, 0 pending, 0 sent\n"
    (tmp_path / "bad.toml").write_text("[alerts]\nflap_threshold = 1\n")
    assert main(["--config", str(tmp_path / "bad.toml")]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "alerts.flap_threshold" in err


def test_a_malformed_url_is_a_delivery_failure_that_does_not_print_it(tmp_path: Path) -> None:
    rt = runtime(tmp_path, {"notifiers": {"ops": {"type": "slack"}}},
                 {"INFERWATCH_SLACK_WEBHOOK_URL": "hooks.slack.example/T0/B0/xoxb-secret"})
    failing(rt.open_store())
    result = run_once(rt, clock=Clock(T0))
    (queued,) = rt.open_store().load_outbox(status="pending")
    assert result.exit_code == EXIT_PARTIAL and "is not a usable http(s) URL" in (queued.last_error or "")
    assert "xoxb-secret" not in (queued.last_error or "") + result.message


def test_secret_scrubber_hides_every_configured_secret(tmp_path: Path) -> None:
    from shell.alert_job import load_settings, secret_scrubber

    rt = runtime(tmp_path, {"notifiers": {"ops": {"type": "webhook"}, "mail": {
        "type": "email", "host": "h", "sender": "a@b", "to": ["c@d"]}}},
        {"INFERWATCH_WEBHOOK_URL": "https://h/x/tok", "INFERWATCH_WEBHOOK_SECRET": "s3",
         "INFERWATCH_SMTP_PASSWORD": "pw-123"})
    scrub = secret_scrubber(load_settings(rt), rt.env)
    assert scrub("a https://h/x/tok b s3 c pw-123") == "a *** b *** c ***"
