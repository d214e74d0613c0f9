"""Grouping and routing (pure), and the outbox's retry schedule in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.evaluate import Evaluation, Notification
from alerts.notify import FileNotifier
from alerts.outbox import Route, build_messages, mark_failed, save_evaluation
from inferwatch.store import Store
from shell.alert_job import load_settings
from tests.alerts.builders import T0, runtime

NOW_S = int(T0.timestamp())
STORE_ID = "0f" * 16


def note(rule: str, entity: str, status: str = "firing", severity: str = "page", seq: int = 1) -> Notification:
    return Notification(key=f"{rule}-{entity}:{seq}", fingerprint=f"{rule}-{entity}", rule=rule, entity=entity,
                        severity=severity, status=status, repeat=False, summary=f"{rule} on {entity}", value=1.0,
                        labels={}, since_s=NOW_S, at_s=NOW_S)


def test_one_message_per_receiver_and_deployment_problems_first() -> None:
    notes = [note("B", "d1", "resolved"), note("A", "d1"), note("C", "d2", severity="notice")]
    routes = [Route("pager", frozenset({"page"})), Route("all", frozenset({"page", "ticket", "notice"}))]
    messages = build_messages(notes, routes, NOW_S, store_id=STORE_ID)
    assert [(m.receiver, m.group, [a["rule"] for a in m.payload["alerts"]]) for m in messages] == [
        ("pager", "d1", ["A", "B"]), ("all", "d1", ["A", "B"]), ("all", "d2", ["C"])]
    assert len({m.id for m in messages}) == 3
    again = build_messages(notes, routes, NOW_S + 60, store_id=STORE_ID)
    assert again[0].id == messages[0].id  # ids depend on the store and the content only


def test_another_store_gives_other_ids_and_keys() -> None:
    """Fingerprints and sequences restart in every store: the store's id keeps them apart."""
    notes, routes = [note("A", "d1")], [Route("x", frozenset({"page"}))]
    (ours,) = build_messages(notes, routes, NOW_S, store_id=STORE_ID)
    (theirs,) = build_messages(notes, routes, NOW_S, store_id="1e" * 16)
    assert ours.id != theirs.id
    assert ours.payload["alerts"][0]["key"] == f"{STORE_ID}:A-d1:1" != theirs.payload["alerts"][0]["key"]


def test_send_resolved_false_drops_resolved_only_groups() -> None:
    messages = build_messages([note("B", "d1", "resolved")], [Route("chat", frozenset({"page"}), False)], NOW_S,
                              store_id=STORE_ID)
    assert messages == []


def test_backoff_doubles_then_caps_then_dead_letters(tmp_path: Path) -> None:
    rt = runtime(tmp_path, {"alerts": {"max_attempts": 5, "backoff_base": 60, "backoff_max": 300}})
    section = load_settings(rt).section
    store: Store = rt.open_store()
    (message,) = build_messages([note("A", "d1")], [Route("x", frozenset({"page"}))], NOW_S,
                                store_id=STORE_ID)
    save_evaluation(store, Evaluation({}, (), (), 0), [message])
    delays, now_s = [], NOW_S
    for _ in range(5):
        (current,) = store.load_outbox(status="pending") or store.load_outbox(status="dead")
        outcome = mark_failed(store, current, now_s, "down", section)
        (after,) = store.load_outbox(status=outcome)
        delays.append((outcome, after.next_attempt_at_s - now_s))
        now_s = after.next_attempt_at_s
    assert delays == [("pending", 60), ("pending", 120), ("pending", 240), ("pending", 300), ("dead", 300)]


def test_file_notifier_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    (message,) = build_messages([note("A", "d1")], [Route("x", frozenset({"page"}))], NOW_S,
                                store_id=STORE_ID)
    FileNotifier("log", None).send(message)
    assert '"group": "d1"' in capsys.readouterr().out
