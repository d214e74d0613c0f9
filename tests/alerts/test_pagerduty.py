"""PagerDuty's Events API v2 from the real alert job: a local stand-in checks every event against the
published schema (pagerduty_events_v2.schema.json) and answers as PagerDuty does; triggers and resolves
carry the alert's fingerprint as dedup_key, the mapped severity and dashboard links; the routing key
comes from the environment and shows nowhere else."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from alerts.errors import AlertConfigError
from alerts.evaluate import fingerprint
from alerts.settings import parse_alert_settings
from inferwatch.errors import ConfigError
from shell.alert_job import EXIT_CONFIG, EXIT_OK, EXIT_PARTIAL, run_once
from tests.alerts.builders import DEP, T0, Clock, fill_store, runtime, traffic_points
from tests.alerts.receivers import free_port

SCHEMA = json.loads((Path(__file__).parent / "pagerduty_events_v2.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"
DASHBOARD = "https://inferwatch.example.com"


@dataclass
class PagerDutyStandin:
    """POST /v2/enqueue: 202 and PagerDuty's success body for a valid event, 400 with the schema's
    errors for an invalid one (both recorded); ``fail`` answers 500 to everything."""

    port: int = field(default_factory=free_port)
    fail: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2/enqueue"

    def start(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                errors = [e.message for e in VALIDATOR.iter_errors(event)]
                standin.invalid += errors
                if standin.fail:
                    code, body = 500, {"status": "error", "message": "Internal Server Error"}
                elif errors:
                    code, body = 400, {"status": "invalid event", "message": "Event object is invalid",
                                       "errors": errors}
                else:
                    standin.events.append(event)
                    code, body = 202, {"status": "success", "message": "Event processed",
                                       "dedup_key": event.get("dedup_key", "")}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture()
def pagerduty() -> Iterator[PagerDutyStandin]:
    standin = PagerDutyStandin()
    standin.start()
    yield standin
    standin.stop()


RULES = [{"name": "ErrorRateHigh", "kind": "error_rate", "severity": "page", "window": "5m", "threshold": 0.05,
          "summary": "{entity}: {value:.0%} errors over {window}", "labels": {"team": "ml-platform"}},
         {"name": "ErrorRateNoticeable", "kind": "error_rate", "severity": "ticket", "window": "5m",
          "threshold": 0.01, "summary": "{entity}: {value:.1%} errors"}]


def config(**notifier: Any) -> dict[str, Any]:
    return {"alerts": {"default_rules": False, "rules": RULES},
            "notifiers": {"pd": {"type": "pagerduty", "url_env": "PD_URL", "dashboard_url": DASHBOARD, **notifier}}}


def test_trigger_then_resolve_with_the_fingerprint_as_dedup_key(tmp_path: Path, pagerduty: PagerDutyStandin) -> None:
    rt = runtime(tmp_path, config(), {"INFERWATCH_PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "PD_URL": pagerduty.url})
    store = rt.open_store()
    fill_store(store, traffic_points(DEP.id, T0 - timedelta(minutes=20), 20, errors=20))
    clock = Clock(T0)
    assert run_once(rt, clock=clock).exit_code == EXIT_OK
    triggers = {e["dedup_key"]: e for e in pagerduty.events}
    assert set(triggers) == {fingerprint("ErrorRateHigh", DEP.id), fingerprint("ErrorRateNoticeable", DEP.id)}
    page = triggers[fingerprint("ErrorRateHigh", DEP.id)]
    assert (page["event_action"], page["routing_key"], page["payload"]["severity"]) == ("trigger", ROUTING_KEY,
                                                                                          "critical")
    assert page["payload"]["summary"] == f"{DEP.id}: 20% errors over 5m"
    assert page["payload"]["source"] == DEP.id and page["payload"]["group"] == "scorer"
    assert page["payload"]["custom_details"]["labels"]["team"] == "ml-platform"
    assert page["links"] == [{"href": f"{DASHBOARD}/deployment?d={DEP.id}", "text": f"Inferwatch: {DEP.id}"}]
    assert page["client_url"] == DASHBOARD
    assert triggers[fingerprint("ErrorRateNoticeable", DEP.id)]["payload"]["severity"] == "warning"

    fill_store(store, traffic_points(DEP.id, T0, 6), at=T0 + timedelta(minutes=6))  # healthy again
    clock.advance(minutes=6)
    assert run_once(rt, clock=clock).exit_code == EXIT_OK
    resolves = pagerduty.events[2:]
    assert sorted((e["event_action"], e["dedup_key"]) for e in resolves) == sorted(
        ("resolve", key) for key in triggers)
    assert pagerduty.invalid == []  # every event matched the published schema


def test_the_schema_check_refuses_what_pagerduty_refuses() -> None:
    good = {"routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": "abc",
            "payload": {"summary": "s", "source": "x", "severity": "critical", "timestamp": "2026-03-02T12:00:00Z"}}
    assert list(VALIDATOR.iter_errors(good)) == []
    bad = [{**good, "payload": {**good["payload"], "severity": "urgent"}},
           {k: v for k, v in good.items() if k != "payload"},
           {**good, "dedup_key": "x" * 256},
           {**good, "links": [{"href": "not a link"}]},
           {"routing_key": ROUTING_KEY, "event_action": "resolve"}]
    assert all(list(VALIDATOR.iter_errors(event)) for event in bad)


def test_a_failing_pagerduty_keeps_the_message_and_never_shows_the_key(
        tmp_path: Path, pagerduty: PagerDutyStandin, caplog: pytest.LogCaptureFixture) -> None:
    pagerduty.fail = True
    rt = runtime(tmp_path, config(), {"INFERWATCH_PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "PD_URL": pagerduty.url})
    store = rt.open_store()
    fill_store(store, traffic_points(DEP.id, T0 - timedelta(minutes=20), 20, errors=20))
    with caplog.at_level(logging.DEBUG):
        result = run_once(rt, clock=Clock(T0))
    assert result.exit_code == EXIT_PARTIAL and "1 messages undelivered" in result.message
    (queued,) = store.load_outbox(status="pending")
    assert queued.last_error == f"pd: http://127.0.0.1:{pagerduty.port}/… answered HTTP 500"
    assert ROUTING_KEY not in caplog.text + result.message + str(queued.last_error)


def test_the_routing_key_comes_from_the_environment_only(tmp_path: Path) -> None:
    result = run_once(runtime(tmp_path, config(), {"PD_URL": "http://127.0.0.1:9/v2/enqueue"}))
    assert (result.exit_code, result.message) == (
        EXIT_CONFIG, "configuration error: notifiers.pd.routing_key_env: environment variable "
                     "INFERWATCH_PAGERDUTY_ROUTING_KEY is not set")
    with pytest.raises(ConfigError, match="routing_key must not be in the file"):
        runtime(tmp_path, {"notifiers": {"pd": {"type": "pagerduty", "routing_key": ROUTING_KEY}}})
    with pytest.raises(AlertConfigError, match="notifiers.pd.severity_map: .*maps no PagerDuty severity for notice"):
        parse_alert_settings({}, {"pd": {"type": "pagerduty", "severity_map": {"page": "critical",
                                                                               "ticket": "info"}}})
