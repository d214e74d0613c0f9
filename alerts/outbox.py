"""Messages and the outbox.

``build_messages`` (pure) groups a run's notifications per receiver and deployment into messages
with stable ids. The store functions persist state, history and messages in ONE transaction
before anything is sent, then track delivery: retried with exponential back-off on later runs,
dead-lettered after ``max_attempts`` or ``dead_letter_after``. Delivery is at-least-once; the id
(also each alert's ``key``) lets receivers drop a repeat after a run died between send and record.

Ids and keys start from the store's random id (:func:`inferwatch.store.load_store_id`): alert
fingerprints and sequences restart at 1 in every store, so without it a staging and a production
home paging one receiver would send the same ids and the receiver would drop real pages as repeats.
A retry re-sends the stored row, id and payload unchanged.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from alerts.evaluate import AlertState, Evaluation, Notification
from alerts.settings import AlertsSection
from inferwatch.store import Store
from inferwatch.store import alert_tables as at

PROBLEM_STATUSES = ("firing", "nodata", "error", "flapping")


@dataclass(frozen=True, slots=True)
class Route:
    receiver: str
    severities: frozenset[str]
    send_resolved: bool = True


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: str
    receiver: str
    group: str
    created_at_s: int
    payload: Mapping[str, Any]
    status: str = "pending"
    attempts: int = 0
    next_attempt_at_s: int = 0
    last_error: str | None = None
    finished_at_s: int | None = None


def iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat().replace("+00:00", "Z")


def _item(n: Notification, store_id: str) -> dict[str, Any]:
    return {"key": f"{store_id}:{n.key}", "fingerprint": n.fingerprint, "rule": n.rule, "entity": n.entity,
            "severity": n.severity, "status": n.status, "repeat": n.repeat, "summary": n.summary,
            "value": n.value, "labels": dict(n.labels), "since": iso(n.since_s), "at": iso(n.at_s)}


def build_messages(notifications: Sequence[Notification], routes: Sequence[Route], now_s: int, *,
                   store_id: str) -> list[OutboxMessage]:
    """One message per (receiver, deployment) holding that run's news for it, problems first. The id
    depends on the store, the receiver and the notifications only: evaluating the same news again
    in one store gives the same id (the outbox keeps one row), another store never does."""
    out: list[OutboxMessage] = []
    for route in routes:
        groups: dict[str, list[Notification]] = defaultdict(list)
        for n in notifications:
            if n.severity in route.severities and (route.send_resolved or n.status != "resolved"):
                groups[n.entity].append(n)
        for entity in sorted(groups):
            items = sorted(groups[entity], key=lambda n: (n.status not in PROBLEM_STATUSES, n.rule))
            keys = "\x00".join(sorted(n.key for n in items))
            msg_id = hashlib.sha256(f"{store_id}\x00{route.receiver}\x00{keys}".encode()).hexdigest()[:32]
            status = "firing" if any(n.status in PROBLEM_STATUSES for n in items) else "resolved"
            payload = {"id": msg_id, "source": "inferwatch", "receiver": route.receiver, "group": entity,
                       "status": status, "created_at": iso(now_s),
                       "alerts": [_item(n, store_id) for n in items]}
            out.append(OutboxMessage(msg_id, route.receiver, entity, now_s, payload, next_attempt_at_s=now_s))
    return out


# -- store ------------------------------------------------------------------------------------------


def _insert_new(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), list(rows))


def _state_row(s: AlertState) -> dict[str, Any]:
    return {"fingerprint": s.fingerprint, "rule": s.rule, "entity": s.entity, "severity": s.severity,
            "state": s.state, "since": s.since_s, "last_eval": s.last_eval_s, "labels": dict(s.labels),
            "active_since": s.active_since_s, "last_breach": s.last_breach_s, "value": s.value,
            "summary": s.summary, "notified": s.notified, "notified_at": s.notified_at_s,
            "notify_seq": s.notify_seq, "changes": list(s.changes), "flapping": s.flapping}


def _state(r: RowMapping) -> AlertState:
    return AlertState(
        fingerprint=r["fingerprint"], rule=r["rule"], entity=r["entity"], severity=r["severity"], state=r["state"],
        since_s=r["since"], last_eval_s=r["last_eval"], labels=dict(r["labels"]), active_since_s=r["active_since"],
        last_breach_s=r["last_breach"], value=r["value"], summary=r["summary"], notified=r["notified"],
        notified_at_s=r["notified_at"], notify_seq=r["notify_seq"], changes=tuple(r["changes"]),
        flapping=bool(r["flapping"]))


def load_states(store: Store, conn: Connection | None = None) -> dict[str, AlertState]:
    if conn is not None:
        rows = conn.execute(select(at.alert_states)).mappings().all()
    else:
        with store.read() as c:
            rows = c.execute(select(at.alert_states)).mappings().all()
    return {r["fingerprint"]: _state(r) for r in rows}


def _worth_saving(state: AlertState, saved: AlertState | None) -> bool:
    """Quiet alerts are rewritten only when something but the evaluation time changed (a run over
    100 deployments x 10 rules then writes a handful of rows, not a thousand)."""
    if saved is None or state.state not in ("ok", "resolved"):
        return True
    return replace(state, last_eval_s=0, value=None) != replace(saved, last_eval_s=0, value=None)


def save_evaluation(store: Store, evaluation: Evaluation, messages: Sequence[OutboxMessage]) -> None:
    """State, history and outbox in one transaction: either all of this run's news is recorded
    (and will be sent, now or by a later run), or none of it and the next run decides again."""
    with store.write() as conn:
        saved = load_states(store, conn)
        stale = set(saved) - set(evaluation.states)
        if stale:
            conn.execute(delete(at.alert_states).where(at.alert_states.c.fingerprint.in_(sorted(stale))))
        store.upsert(conn, at.alert_states, [_state_row(s) for fp, s in evaluation.states.items()
                                             if _worth_saving(s, saved.get(fp))])
        _insert_new(conn, at.alert_events, [
            {"id": f"{t.fingerprint}:{t.at_s}:{t.to_state}", "fingerprint": t.fingerprint, "rule": t.rule,
             "entity": t.entity, "at": t.at_s, "from_state": t.from_state, "to_state": t.to_state,
             "value": t.value, "summary": t.summary} for t in evaluation.transitions])
        _insert_new(conn, at.alert_outbox, [
            {"id": m.id, "receiver": m.receiver, "group_key": m.group, "created_at": m.created_at_s,
             "payload": dict(m.payload), "status": "pending", "attempts": 0,
             "next_attempt_at": m.next_attempt_at_s, "last_error": None, "finished_at": None} for m in messages])


def _message(r: RowMapping) -> OutboxMessage:
    return OutboxMessage(r["id"], r["receiver"], r["group_key"], r["created_at"], dict(r["payload"]), r["status"],
                         r["attempts"], r["next_attempt_at"], r["last_error"], r["finished_at"])


def load_outbox(store: Store, *, status: str | None = None, due_at_s: int | None = None,
                limit: int = 500) -> list[OutboxMessage]:
    o = at.alert_outbox
    where = []
    if status is not None:
        where.append(o.c.status == status)
    if due_at_s is not None:
        where.append(o.c.next_attempt_at <= due_at_s)
    stmt = select(o).where(and_(*where)).order_by(o.c.created_at, o.c.id).limit(limit)
    with store.read() as conn:
        return [_message(r) for r in conn.execute(stmt).mappings().all()]


def count_outbox(store: Store) -> dict[str, int]:
    o = at.alert_outbox
    with store.read() as conn:
        rows = conn.execute(select(o.c.status, func.count()).group_by(o.c.status)).all()
    return {str(r[0]): int(r[1]) for r in rows}


def mark_delivered(store: Store, message_id: str, now_s: int) -> None:
    o = at.alert_outbox
    with store.write() as conn:
        conn.execute(update(o).where(o.c.id == message_id).values(
            status="delivered", finished_at=now_s, attempts=o.c.attempts + 1, last_error=None))


def mark_failed(store: Store, message: OutboxMessage, now_s: int, error: str, section: AlertsSection,
                retry_after_s: float | None = None) -> str:
    """Count a failed attempt; back off exponentially (at least Retry-After) or dead-letter it."""
    attempts = message.attempts + 1
    dead = attempts >= section.max_attempts or now_s - message.created_at_s >= section.dead_letter_after
    delay = min(section.backoff_max, section.backoff_base * 2 ** (attempts - 1))
    delay = max(delay, int(retry_after_s or 0))
    o = at.alert_outbox
    with store.write() as conn:
        conn.execute(update(o).where(o.c.id == message.id).values(
            status="dead" if dead else "pending", attempts=attempts, next_attempt_at=now_s + delay,
            last_error=error[:2000], finished_at=now_s if dead else None))
    return "dead" if dead else "pending"


def requeue(store: Store, message_id: str, now_s: int) -> bool:
    """Give a dead letter a fresh set of attempts (``inferwatch alerts outbox --retry ID``)."""
    o = at.alert_outbox
    with store.write() as conn:
        result = conn.execute(update(o).where(and_(o.c.id == message_id, o.c.status == "dead")).values(
            status="pending", attempts=0, next_attempt_at=now_s, created_at=now_s, finished_at=None))
    return bool(result.rowcount)


def load_events(store: Store, *, limit: int = 200) -> list[dict[str, Any]]:
    e = at.alert_events
    with store.read() as conn:
        rows = conn.execute(select(e).order_by(e.c.at.desc(), e.c.id).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def record_run(store: Store, run_id: str, started_s: int, finished_s: int, exit_code: int, message: str,
               counts: Mapping[str, int]) -> None:
    with store.write() as conn:
        store.upsert(conn, at.alert_runs, [{"id": run_id, "started_at": started_s, "finished_at": finished_s,
                                            "exit_code": exit_code, "message": message, "counts": dict(counts)}])


def load_runs(store: Store, *, limit: int = 50) -> list[dict[str, Any]]:
    r = at.alert_runs
    with store.read() as conn:
        rows = conn.execute(select(r).order_by(r.c.started_at.desc()).limit(limit)).mappings().all()
    return [dict(x) for x in rows]
