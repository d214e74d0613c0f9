"""The real Alertmanager as a receiver: an alert from the alert job reaches a webhook receiver through it,
with Inferwatch's labels and annotations, then its resolve; each run re-posts what still fires, so the
alert outlives hold_for while the job runs and ends once it stops; a nodata notice is an alert of its
own that the next news resolves; credentials in the URL become basic auth."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alerts.alertmanager import AlertmanagerNotifier, label_name
from alerts.evaluate import Notification
from alerts.outbox import Route, build_messages
from inferwatch.schema import floor_time
from shell.alert_job import EXIT_OK, run_once
from tests.alerts.builders import DEP, Clock, fill_store, runtime, traffic_points
from tests.alerts.receivers import WebhookReceiver, free_port
from tests.shell.monitoring import Server, start_alertmanager

DASHBOARD = "https://inferwatch.example.com"
RULE = {"name": "ErrorRateHigh", "kind": "error_rate", "severity": "page", "window": "5m", "threshold": 0.05,
        "summary": "{entity}: {value:.0%} errors over {window}", "labels": {"team": "ml-platform", "on-call": "yes"}}


@pytest.fixture()
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture()
def alertmanager(tmp_path: Path, webhook: WebhookReceiver) -> Iterator[Server]:
    config = {"route": {"receiver": "hook", "group_by": ["alertname", "deployment", "inferwatch_state"],
                        "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
              "receivers": [{"name": "hook", "webhook_configs": [{"url": webhook.url, "send_resolved": True}]}]}
    server = start_alertmanager(tmp_path / "alertmanager", config)
    yield server
    server.stop()


def wait_for(check: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def notifications(webhook: WebhookReceiver, status: str) -> list[dict[str, Any]]:
    return [a for r in webhook.received for a in r.body["alerts"] if a["status"] == status]


def active(alertmanager: Server) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = alertmanager.get("/api/v2/alerts", {"active": "true", "silenced": "false",
                                                                      "inhibited": "false"})
    return [a for a in found if a["status"]["state"] == "active"]


def test_an_alert_reaches_the_receiver_through_alertmanager_then_its_resolve(
        tmp_path: Path, alertmanager: Server, webhook: WebhookReceiver) -> None:
    now = floor_time(datetime.now(UTC), 60)
    rt = runtime(tmp_path, {"alerts": {"default_rules": False, "rules": [RULE]},
                            "notifiers": {"am": {"type": "alertmanager", "dashboard_url": DASHBOARD}}},
                 {"INFERWATCH_ALERTMANAGER_URL": alertmanager.url})
    store = rt.open_store()
    # failing from 30 to 10 minutes ago, healthy since: the first run (11 minutes ago) fires, the second resolves
    fill_store(store, traffic_points(DEP.id, now - timedelta(minutes=30), 20, errors=20), at=now)
    fill_store(store, traffic_points(DEP.id, now - timedelta(minutes=10), 10), at=now)
    assert run_once(rt, clock=Clock(now - timedelta(minutes=11))).exit_code == EXIT_OK

    (firing,) = wait_for(lambda: notifications(webhook, "firing"), "the firing notification")
    assert firing["labels"] == {"alertname": "ErrorRateHigh", "severity": "page", "deployment": DEP.id,
                                "service": "scorer", "team": "ml-platform", "on_call": "yes"}
    assert firing["annotations"]["summary"] == f"{DEP.id}: 20% errors over 5m"
    assert firing["annotations"]["inferwatch_status"] == "firing" and firing["annotations"]["value"] == "0.2"
    assert firing["annotations"]["dashboard"] == firing["generatorURL"] == f"{DASHBOARD}/deployment?d={DEP.id}"
    assert firing["startsAt"].startswith((now - timedelta(minutes=11)).strftime("%Y-%m-%dT%H:%M"))

    assert run_once(rt, clock=Clock(now)).exit_code == EXIT_OK
    (resolved,) = wait_for(lambda: notifications(webhook, "resolved"), "the resolved notification")
    assert resolved["labels"] == firing["labels"] and resolved["fingerprint"] == firing["fingerprint"]
    assert resolved["endsAt"].startswith(now.strftime("%Y-%m-%dT%H:%M"))
    assert active(alertmanager) == []


def test_each_run_re_posts_what_fires(tmp_path: Path, alertmanager: Server) -> None:
    now = datetime.now(UTC)
    rt = runtime(tmp_path, {"alerts": {"default_rules": False, "rules": [RULE]},
                            "notifiers": {"am": {"type": "alertmanager", "hold_for": "1m"}}},
                 {"INFERWATCH_ALERTMANAGER_URL": alertmanager.url})
    fill_store(rt.open_store(), traffic_points(DEP.id, floor_time(now, 60) - timedelta(minutes=10), 11, errors=20),
               at=now)
    assert run_once(rt, clock=Clock(now)).exit_code == EXIT_OK
    (first,) = wait_for(lambda: active(alertmanager), "the alert in Alertmanager")
    time.sleep(1.1)
    second = run_once(rt, clock=Clock(now + timedelta(seconds=1)))
    assert second.exit_code == EXIT_OK and second.counts["refreshed"] == 1 and second.counts["sent"] == 0
    (again,) = active(alertmanager)
    assert again["fingerprint"] == first["fingerprint"] and again["endsAt"] > first["endsAt"]


def test_a_refreshed_alert_outlives_its_hold_and_ends_once_refreshes_stop(
        tmp_path: Path, alertmanager: Server, webhook: WebhookReceiver) -> None:
    """hold_s of 3 s instead of minutes (Alertmanager never shortens an alert's endsAt, so a fresh one)."""
    now = datetime.now(UTC)
    rt = runtime(tmp_path, {"alerts": {"default_rules": False, "rules": [RULE]}})  # the file sink
    store = rt.open_store()
    fill_store(store, traffic_points(DEP.id, floor_time(now, 60) - timedelta(minutes=10), 11, errors=20), at=now)
    assert run_once(rt, clock=Clock(now)).exit_code == EXIT_OK
    announced = [s for s in store.load_alert_states().values() if s.state == "firing"]
    notifier = AlertmanagerNotifier("am", alertmanager.url, hold_s=3)
    started = time.monotonic()
    while time.monotonic() - started < 5:  # a job running every second, for five seconds
        assert notifier.refresh(announced) == 1
        assert len(active(alertmanager)) == 1
        time.sleep(1)
    assert notifications(webhook, "resolved") == []
    wait_for(lambda: notifications(webhook, "resolved"), "the alert to end once no run re-posts it")
    assert active(alertmanager) == []


def _news(status: str, previous: str, at_s: int) -> Notification:
    return Notification(key=f"fp:{at_s}", fingerprint="fp", rule="ErrorRateHigh", entity=DEP.id, severity="page",
                        status=status, repeat=False, summary=f"{status} news", value=None,
                        labels={"alertname": "ErrorRateHigh", "severity": "page", "deployment": DEP.id},
                        since_s=at_s, at_s=at_s, previous=previous)


def test_a_nodata_notice_is_its_own_alert_and_the_next_news_ends_it(alertmanager: Server) -> None:
    notifier = AlertmanagerNotifier("am", alertmanager.url)
    now_s = int(time.time())
    route = [Route("am", frozenset({"page"}))]
    for status, previous in (("nodata", "ok"), ("firing", "nodata")):
        (message,) = build_messages([_news(status, previous, now_s)], route, now_s, store_id="s")
        notifier.send(message)
        states = wait_for(lambda s=status: [a for a in active(alertmanager) if a["annotations"]["inferwatch_status"]
                                            == s], f"the {status} alert")
        assert [a["labels"].get("inferwatch_state") for a in states] == ["nodata" if status == "nodata" else None]
    assert len(active(alertmanager)) == 1  # the nodata notice ended when the alert fired


def test_credentials_in_the_url_become_basic_auth_and_label_names_are_made_valid() -> None:
    seen: list[tuple[str | None, list[dict[str, Any]]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.headers.get("Authorization"), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        notifier = AlertmanagerNotifier("am", f"http://ops:p%40ss@127.0.0.1:{port}/am/")
        (message,) = build_messages([_news("firing", "ok", 1_800_000_000)], [Route("am", frozenset({"page"}))],
                                    1_800_000_000, store_id="s")
        notifier.send(message)
    finally:
        server.shutdown()
        server.server_close()
    ((auth, alerts),) = seen
    assert auth == "Basic " + base64.b64encode(b"ops:p@ss").decode()
    assert "p@ss" not in repr(notifier) and "ops" not in repr(notifier)
    assert [label_name(n) for n in ("on-call", "9lives", "team.name", "")] == ["on_call", "_9lives", "team_name", "_"]
    assert alerts[0]["labels"]["alertname"] == "ErrorRateHigh"
