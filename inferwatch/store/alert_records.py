"""The alert job's records: each alert's state (``alert_states``), its history (``alert_events``), every
message written before it is sent (``alert_outbox``) and one row per run (``alert_runs``). The alert job
decides (``alerts/``); this module only reads and writes, each run's news in ONE transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.engine import Connection, RowMapping

from inferwatch.schema import AlertState, AlertStatus, OutboxMessage, Transition
from inferwatch.store import alert_tables as at
from inferwatch.store.base import StoreBase


def _state_row(s: AlertState) -> dict[str, Any]:
    return {"fingerprint": s.fingerprint, "rule": s.rule, "entity": s.entity, "severity": s.severity,
            "state": s.state, "since": s.since_s, "last_eval": s.last_eval_s, "labels": dict(s.labels),
            "active_since": s.active_since_s, "last_breach": s.last_breach_s, "value": s.value,
            "summary": s.summary, "notified": s.notified, "notified_at": s.notified_at_s,
            "notify_seq": s.notify_seq, "changes": list(s.changes), "flapping": s.flapping}


def _state(r: RowMapping) -> AlertState:
    return AlertState(
        fingerprint=r["fingerprint"], rule=r["rule"], entity=r["entity"], severity=r["severity"],
        state=AlertStatus(r["state"]),
        since_s=r["since"], last_eval_s=r["last_eval"], labels=dict(r["labels"]), active_since_s=r["active_since"],
        last_breach_s=r["last_breach"], value=r["value"], summary=r["summary"], notified=r["notified"],
        notified_at_s=r["notified_at"], notify_seq=r["notify_seq"], changes=tuple(r["changes"]),
        flapping=bool(r["flapping"]))


def _message(r: RowMapping) -> OutboxMessage:
    return OutboxMessage(r["id"], r["receiver"], r["group_key"], r["created_at"], dict(r["payload"]), r["status"],
                         r["attempts"], r["next_attempt_at"], r["last_error"], r["finished_at"])


class AlertSummary(NamedTuple):
    rule: str
    entity: str
    severity: str
    state: str
    since_s: int


class AlertStore(StoreBase):
    """``alert_states``, ``alert_events``, ``alert_outbox`` and ``alert_runs``."""

    def load_alert_states(self, conn: Connection | None = None) -> dict[str, AlertState]:
        """Every alert's state by fingerprint (in ``conn``'s transaction when given)."""
        if conn is not None:
            return {r["fingerprint"]: _state(r) for r in conn.execute(select(at.alert_states)).mappings().all()}
        with self.read() as c:
            return self.load_alert_states(c)

    def load_alert_summaries_in(self, states: Sequence[str]) -> list[AlertSummary]:
        """The alerts in ``states`` (firing, pending...), through the index on ``state``, as (rule, entity,
        severity, state, since) only: a scrape of a thousand deployments reads these few columns, not each
        alert's labels and history of changes."""
        a = at.alert_states
        stmt = select(a.c.rule, a.c.entity, a.c.severity, a.c.state, a.c.since).where(a.c.state.in_(list(states)))
        with self.read() as conn:
            return [AlertSummary(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in conn.execute(stmt)]

    def save_alert_run_news(self, states: Mapping[str, AlertState], transitions: Sequence[Transition],
                            messages: Sequence[OutboxMessage],
                            worth_saving: Callable[[AlertState, AlertState | None], bool]) -> None:
        """States, history and outbox in one transaction. States no longer evaluated are deleted; a state
        is rewritten when ``worth_saving(new, saved)`` says so; events and messages already there stay."""
        with self.write() as conn:
            saved = self.load_alert_states(conn)
            stale = set(saved) - set(states)
            if stale:
                conn.execute(delete(at.alert_states).where(at.alert_states.c.fingerprint.in_(sorted(stale))))
            self.upsert(conn, at.alert_states, [_state_row(s) for fp, s in states.items()
                                                if worth_saving(s, saved.get(fp))])
            self.insert_new(conn, at.alert_events, [
                {"id": f"{t.fingerprint}:{t.at_s}:{t.to_state}", "fingerprint": t.fingerprint, "rule": t.rule,
                 "entity": t.entity, "at": t.at_s, "from_state": t.from_state, "to_state": t.to_state,
                 "value": t.value, "summary": t.summary} for t in transitions])
            self.insert_new(conn, at.alert_outbox, [
                {"id": m.id, "receiver": m.receiver, "group_key": m.group, "created_at": m.created_at_s,
                 "payload": dict(m.payload), "status": "pending", "attempts": 0,
                 "next_attempt_at": m.next_attempt_at_s, "last_error": None, "finished_at": None}
                for m in messages])

    def load_outbox(self, *, status: str | None = None, due_at_s: int | None = None,
                    limit: int = 500) -> list[OutboxMessage]:
        o = at.alert_outbox
        where = []
        if status is not None:
            where.append(o.c.status == status)
        if due_at_s is not None:
            where.append(o.c.next_attempt_at <= due_at_s)
        stmt = select(o).where(and_(*where)).order_by(o.c.created_at, o.c.id).limit(limit)
        with self.read() as conn:
            return [_message(r) for r in conn.execute(stmt).mappings().all()]

    def count_outbox(self) -> dict[str, int]:
        o = at.alert_outbox
        with self.read() as conn:
            rows = conn.execute(select(o.c.status, func.count()).group_by(o.c.status)).all()
        return {str(r[0]): int(r[1]) for r in rows}

    def mark_delivered(self, message_id: str, now_s: int) -> None:
        o = at.alert_outbox
        with self.write() as conn:
            conn.execute(update(o).where(o.c.id == message_id).values(
                status="delivered", finished_at=now_s, attempts=o.c.attempts + 1, last_error=None))

    def mark_attempt_failed(self, message_id: str, *, attempts: int, dead: bool, next_attempt_at_s: int,
                            error: str, now_s: int) -> None:
        """Record a failed attempt: due again at ``next_attempt_at_s``, or dead-lettered."""
        o = at.alert_outbox
        with self.write() as conn:
            conn.execute(update(o).where(o.c.id == message_id).values(
                status="dead" if dead else "pending", attempts=attempts, next_attempt_at=next_attempt_at_s,
                last_error=error[:2000], finished_at=now_s if dead else None))

    def requeue(self, message_id: str, now_s: int) -> bool:
        """Give a dead letter a fresh set of attempts; False when there is no such dead letter."""
        o = at.alert_outbox
        with self.write() as conn:
            result = conn.execute(update(o).where(and_(o.c.id == message_id, o.c.status == "dead")).values(
                status="pending", attempts=0, next_attempt_at=now_s, created_at=now_s, finished_at=None))
        return bool(result.rowcount)

    def load_alert_events(self, *, limit: int = 200) -> list[dict[str, Any]]:
        e = at.alert_events
        with self.read() as conn:
            rows = conn.execute(select(e).order_by(e.c.at.desc(), e.c.id).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    def record_alert_run(self, run_id: str, started_s: int, finished_s: int, exit_code: int, message: str,
                         counts: Mapping[str, int]) -> None:
        with self.write() as conn:
            self.upsert(conn, at.alert_runs, [{"id": run_id, "started_at": started_s, "finished_at": finished_s,
                                               "exit_code": exit_code, "message": message, "counts": dict(counts)}])

    def load_alert_runs(self, *, limit: int = 50) -> list[dict[str, Any]]:
        r = at.alert_runs
        with self.read() as conn:
            rows = conn.execute(select(r).order_by(r.c.started_at.desc()).limit(limit)).mappings().all()
        return [dict(x) for x in rows]
