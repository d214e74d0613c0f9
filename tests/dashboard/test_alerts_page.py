"""The Alerts page under AppTest, alone: an empty state on an empty store; firing alerts, history and
dead letters after real job runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

from shell.alert_job import run_once
from tests.alerts.builders import DEP, Clock, fill_store, runtime, traffic_points

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "alerts.py")


def test_empty_store_shows_what_to_do(home: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Alerts"
    assert "No alert run yet" in at.info[0].value


def test_firing_alerts_history_and_dead_letters(home: Path) -> None:
    (home / "inferwatch.toml").write_text('[alerts]\nmax_attempts = 1\n[notifiers.ops]\ntype = "webhook"\n')
    rt = runtime(home, {"alerts": {"max_attempts": 1}, "notifiers": {"ops": {"type": "webhook", "timeout": 1}}},
                 {"INFERWATCH_WEBHOOK_URL": "http://127.0.0.1:9/hook"})
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fill_store(rt.open_store(), traffic_points(DEP.id, now - timedelta(hours=1), 61, errors=20))
    clock = Clock(now - timedelta(minutes=3))
    run_once(rt, clock=clock)
    clock.advance(minutes=3)
    assert run_once(rt, clock=clock).exit_code == 1  # port 9 refuses: dead letters
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["firing"] == "3" and metrics["dead letters"] == "2" and metrics["undelivered"] == "0"
    active, box, history = (df.value for df in at.dataframe)
    assert sorted(active["rule"]) == ["ErrorRateHigh", "SLOBurnRateFast", "SLOBurnRateSlow"]
    assert set(box["status"]) == {"dead"} and box["last error"].str.contains("unreachable").all()
    assert {"pending", "firing"} <= set(history["to"])
    assert at.warning and "exit code 1" in at.warning[0].value
