"""Delivery through real local receivers: a webhook server that is down for runs, slow, failing,
then up; an SMTP server with STARTTLS and AUTH. Every notification arrives exactly once once the
receiver deduplicates on the stable id; resolved notices arrive; nothing is lost meanwhile."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest

from inferwatch.store import Store
from shell.alert_job import EXIT_OK, EXIT_PARTIAL, run_once
from tests.alerts.builders import DEP, T0, Clock, fill_store, runtime, traffic_points
from tests.alerts.receivers import SmtpReceiver, WebhookReceiver

SECRET = "hmac-s3cret-value"


def bad_then_good(store: Store) -> None:
    """20% errors for the hour before T0 and the hour after it, then clean traffic for two hours."""
    fill_store(store, traffic_points(DEP.id, T0 - timedelta(hours=1), 120, errors=20)
               + traffic_points(DEP.id, T0 + timedelta(hours=1), 120, errors=0))


@pytest.fixture()
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret=SECRET, slow_s=1.5)
    yield receiver
    receiver.stop()


def webhook_runtime(home: Path, hook: WebhookReceiver, **alerts: Any) -> Any:
    raw = {"alerts": {"backoff_base": 60, **alerts}, "notifiers": {"hook": {"type": "webhook", "timeout": 1}}}
    return runtime(home, raw, {"INFERWATCH_WEBHOOK_URL": hook.url, "INFERWATCH_WEBHOOK_SECRET": SECRET})


def keys_by_status(bodies: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for body in bodies.values():
        for a in body["alerts"]:
            out.setdefault(a["status"], []).append(f"{a['rule']}:{a['key']}")
    return out


def test_webhook_down_slow_failing_then_up_delivers_each_once_and_resolves(tmp_path: Path,
                                                                        hook: WebhookReceiver) -> None:
    rt = webhook_runtime(tmp_path, hook)
    store = rt.open_store()
    bad_then_good(store)
    clock = Clock(T0)
    codes = [run_once(rt, clock=clock).exit_code]  # down: connection refused
    clock.advance(minutes=10)
    codes.append(run_once(rt, clock=clock).exit_code)  # still down
    hook.start()
    hook.mode = "slow"  # answers after the sender's 1 s timeout: arrives, but the sender must retry
    clock.advance(minutes=10)
    codes.append(run_once(rt, clock=clock).exit_code)
    hook.mode = "fail"
    clock.advance(minutes=10)
    codes.append(run_once(rt, clock=clock).exit_code)
    assert codes == [EXIT_PARTIAL] * 4
    queued = store.load_outbox(status="pending")
    assert len(queued) == 2 and all(m.attempts >= 2 for m in queued)  # nothing lost while it was down
    hook.mode = "up"
    clock.advance(minutes=10)
    assert run_once(rt, clock=clock).exit_code == EXIT_OK
    for minutes in (30, 30):  # traffic is clean from T0+1h: the alerts resolve
        clock.advance(minutes=minutes)
        assert run_once(rt, clock=clock).exit_code == EXIT_OK
    bodies = hook.unique()
    assert len(hook.received) > len(bodies)  # the slow and failed answers were retried with the same id
    said = keys_by_status(bodies)
    fired = sorted(k.split(":")[0] for k in said["firing"])
    assert fired == ["ErrorRateHigh", "SLOBurnRateFast", "SLOBurnRateSlow"]
    assert sorted(k.split(":")[0] for k in said["resolved"]) == fired
    assert len(said["firing"]) == len(set(said["firing"]))  # each page exactly once after dedup
    assert all(r.signed_ok for r in hook.received)
    assert store.load_outbox(status="pending") == [] and store.load_outbox(status="dead") == []
    assert {b["group"] for b in bodies.values()} == {DEP.id}  # grouped per deployment


def test_two_homes_paging_one_receiver_never_share_an_id_and_retries_keep_theirs(
        tmp_path: Path, hook: WebhookReceiver) -> None:
    """Staging and production see the same problem at the same time and page one receiver that
    drops repeats by id: each home's messages and alert keys are its own; a retry keeps its id."""
    homes = [tmp_path / "staging", tmp_path / "production"]
    runtimes = []
    for folder in homes:
        folder.mkdir()
        rt = webhook_runtime(folder, hook)
        bad_then_good(rt.open_store())
        runtimes.append(rt)
    hook.start()
    hook.mode = "fail"
    clock = Clock(T0)
    assert [run_once(rt, clock=clock).exit_code for rt in runtimes] == [EXIT_PARTIAL] * 2
    queued = [{m.id for m in rt.open_store().load_outbox(status="pending")} for rt in runtimes]
    assert queued[0] and queued[1] and not queued[0] & queued[1]
    first_tries = len(hook.received)
    assert {r.id for r in hook.received} == queued[0] | queued[1]
    hook.mode = "up"
    clock.advance(minutes=10)
    assert [run_once(rt, clock=clock).exit_code for rt in runtimes] == [EXIT_OK] * 2
    retried = [r.id for r in hook.received[first_tries:]]
    assert queued[0] | queued[1] <= set(retried)  # the retry of each failed message kept its id
    assert all(r.body["id"] == r.id for r in hook.received)
    delivered = [{m.id for m in rt.open_store().load_outbox(status="delivered")} for rt in runtimes]
    assert not delivered[0] & delivered[1]
    keys = [{a["key"] for r in hook.received if r.id in ids for a in r.body["alerts"]} for ids in delivered]
    assert keys[0] and keys[1] and not keys[0] & keys[1]
    assert len(hook.unique()) == len(delivered[0] | delivered[1])  # the receiver drops no real page


def test_throttled_receiver_is_retried_no_sooner_than_retry_after(tmp_path: Path, hook: WebhookReceiver) -> None:
    rt = webhook_runtime(tmp_path, hook)
    store = rt.open_store()
    bad_then_good(store)
    hook.start()
    hook.mode = "throttle"
    clock = Clock(T0)
    assert run_once(rt, clock=clock).exit_code == EXIT_PARTIAL
    (queued,) = store.load_outbox(status="pending")
    assert queued.next_attempt_at_s - int(T0.timestamp()) == 900
    hook.mode = "up"
    clock.advance(minutes=5)
    assert run_once(rt, clock=clock).exit_code == EXIT_PARTIAL  # the throttled one is not due yet
    assert [r.id for r in hook.received].count(queued.id) == 1
    clock.advance(minutes=11)
    assert run_once(rt, clock=clock).exit_code == EXIT_OK
    assert [r.id for r in hook.received].count(queued.id) == 2


def test_dead_letter_after_max_attempts_then_requeue(tmp_path: Path, hook: WebhookReceiver) -> None:

    rt = webhook_runtime(tmp_path, hook, max_attempts=2, backoff_base=1)
    store = rt.open_store()
    bad_then_good(store)
    clock = Clock(T0)
    assert run_once(rt, clock=clock).exit_code == EXIT_PARTIAL
    clock.advance(seconds=30)
    result = run_once(rt, clock=clock)
    assert result.exit_code == EXIT_PARTIAL and "dead-lettered" in result.message
    (dead,) = store.load_outbox(status="dead")
    assert "answered" not in (dead.last_error or "") and "unreachable" in (dead.last_error or "")
    assert "secret-path-token" not in (dead.last_error or "")  # the URL's secret path is never recorded
    clock.advance(seconds=30)
    assert run_once(rt, clock=clock).exit_code == EXIT_OK  # an old dead letter does not fail every run
    hook.start()
    assert store.requeue(dead.id, int(clock().timestamp()))
    clock.advance(seconds=1)
    assert run_once(rt, clock=clock).exit_code == EXIT_OK
    assert dead.id in hook.unique()


def test_slack_webhook_gets_text_with_the_numbers(tmp_path: Path, hook: WebhookReceiver) -> None:
    hook.start()
    raw = {"notifiers": {"chat": {"type": "slack", "severities": ["page"]}}}
    rt = runtime(tmp_path, raw, {"INFERWATCH_SLACK_WEBHOOK_URL": hook.url})
    bad_then_good(rt.open_store())
    assert run_once(rt, clock=Clock(T0 + timedelta(minutes=5))).exit_code == EXIT_OK
    (received,) = hook.received
    text = received.body["text"]
    assert text.startswith(f"[inferwatch] {DEP.id}: firing")
    assert "error budget burning 200.0x over 1h and 200.0x over 5m (page above 14.4x)" in text


def test_email_over_starttls_arrives_once_after_the_server_comes_up(tmp_path: Path) -> None:
    smtp = SmtpReceiver(tmp_path)
    raw = {"notifiers": {"mail": {"type": "email", "host": "127.0.0.1", "port": smtp.port, "timeout": 5,
                                  "sender": "inferwatch@example.com", "to": ["oncall@example.com"],
                                  "ca_file": str(smtp.cert)}}}
    env = {"INFERWATCH_SMTP_USERNAME": smtp.user, "INFERWATCH_SMTP_PASSWORD": smtp.password}
    rt = runtime(tmp_path, raw, env)
    store = rt.open_store()
    bad_then_good(store)
    clock = Clock(T0)
    first = run_once(rt, clock=clock)
    assert first.exit_code == EXIT_PARTIAL  # server down
    assert smtp.password not in first.message
    smtp.start()
    try:
        for _ in range(3):
            clock.advance(minutes=45)
            assert run_once(rt, clock=clock).exit_code == EXIT_OK
    finally:
        smtp.stop()
    mails = [email.message_from_bytes(raw_mail, policy=policy.default) for _, raw_mail in smtp.handler.messages]
    ids = [m["Message-ID"] for m in mails]
    assert len(ids) == len(set(ids)) and all(smtp.handler.tls_seen)
    subjects = [str(m["Subject"]) for m in mails]
    assert subjects[0] == f"[inferwatch] firing: {DEP.id}"
    assert any(s == f"[inferwatch] resolved: {DEP.id}" for s in subjects)
    body = mails[0].get_body(preferencelist=("plain",))
    assert body is not None and "FIRING [page] SLOBurnRateFast" in body.get_content()
    assert store.load_outbox(status="pending") == []
