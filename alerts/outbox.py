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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from alerts.evaluate import Evaluation, Notification
from alerts.settings import AlertsSection
from inferwatch.schema import AlertState, OutboxMessage
from inferwatch.store import Store

PROBLEM_STATUSES = ("firing", "nodata", "error", "flapping")


@dataclass(frozen=True, slots=True)
class Route:
    receiver: str
    severities: frozenset[str]
    send_resolved: bool = True


def iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat().replace("+00:00", "Z")


def _item(n: Notification, store_id: str) -> dict[str, Any]:
    return {"key": f"{store_id}:{n.key}", "fingerprint": n.fingerprint, "rule": n.rule, "entity": n.entity,
            "severity": n.severity, "status": n.status, "repeat": n.repeat, "summary": n.summary,
            "value": n.value, "labels": dict(n.labels), "since": iso(n.since_s), "at": iso(n.at_s),
            "previous": n.previous}


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


# -- the outbox's lifecycle, kept by the store ----------------------------------------------------


def _worth_saving(state: AlertState, saved: AlertState | None) -> bool:
    """Quiet alerts are rewritten only when something but the evaluation time changed (a run over
    100 deployments x 10 rules then writes a handful of rows, not a thousand)."""
    if saved is None or state.state not in ("ok", "resolved"):
        return True
    return replace(state, last_eval_s=0, value=None) != replace(saved, last_eval_s=0, value=None)


def save_evaluation(store: Store, evaluation: Evaluation, messages: Sequence[OutboxMessage]) -> None:
    """State, history and outbox in one transaction: either all of this run's news is recorded
    (and will be sent, now or by a later run), or none of it and the next run decides again."""
    store.save_alert_run_news(evaluation.states, evaluation.transitions, messages, _worth_saving)


def mark_failed(store: Store, message: OutboxMessage, now_s: int, error: str, section: AlertsSection,
                retry_after_s: float | None = None) -> str:
    """Count a failed attempt; back off exponentially (at least Retry-After) or dead-letter it."""
    attempts = message.attempts + 1
    dead = attempts >= section.max_attempts or now_s - message.created_at_s >= section.dead_letter_after
    delay = min(section.backoff_max, section.backoff_base * 2 ** (attempts - 1))
    delay = max(delay, int(retry_after_s or 0))
    store.mark_attempt_failed(message.id, attempts=attempts, dead=dead, next_attempt_at_s=now_s + delay,
                              error=error, now_s=now_s)
    return "dead" if dead else "pending"
