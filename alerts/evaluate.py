"""The pure core: ``evaluate(rules, data, previous, now) -> Evaluation``.

One state machine per (rule, target), keyed by a fingerprint:

    ok/resolved --breach--> pending --(for elapsed)--> firing --ok--> resolved
    pending --ok--> ok (never notified, like Alertmanager's group_wait)
    firing --ok within keep_firing_for--> firing
    any --no data (missing_data = nodata)--> nodata ; any --query failed (on_error = error)--> error

Notifications follow a notification log per alert (what was last said): a change of what should be
said is sent once, the same thing again only after ``repeat_interval``; an alert that changes state
``flap_threshold`` times within ``flap_window`` is *flapping*: one notice, then silence until stable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from alerts.rules import (
    CHECKS,
    MissingData,
    Observation,
    OnError,
    Outcome,
    Rule,
    check_collector,
    matches,
    render_summary,
)
from alerts.series import EvalData
from inferwatch.schema import AlertState, AlertStatus, Transition

_PROBLEM = {AlertStatus.FIRING: "firing", AlertStatus.NODATA: "nodata", AlertStatus.ERROR: "error"}
_STATES = {s.value: s for s in AlertStatus}


@dataclass(frozen=True, slots=True)
class Policy:
    repeat_interval_s: int = 4 * 3600
    flap_window_s: int = 3600
    flap_threshold: int = 6  # state changes within the window that mark an alert as flapping


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert's news: ``status`` is firing, resolved, nodata, error or flapping."""

    key: str  # fingerprint:sequence, unique in one store; messages prefix the store's id (alerts.outbox)
    fingerprint: str
    rule: str
    entity: str
    severity: str
    status: str
    repeat: bool
    summary: str
    value: float | None
    labels: Mapping[str, str]
    since_s: int
    at_s: int
    previous: str = "ok"  # what was said about the alert before this (ok, firing, nodata, error, flapping)


@dataclass(frozen=True, slots=True)
class Evaluation:
    states: Mapping[str, AlertState]
    transitions: tuple[Transition, ...]
    notifications: tuple[Notification, ...]
    errors: int  # targets whose query failed


def fingerprint(rule: str, entity: str) -> str:
    return hashlib.sha256(f"{rule}\x00{entity}".encode()).hexdigest()[:16]


def _targets(rule: Rule, data: EvalData, now_s: int) -> Iterable[tuple[str, Mapping[str, str], Observation]]:
    if rule.kind == "collector_failing":
        for collector in sorted(data.collector_runs):
            if matches(rule, collector):
                yield collector, {"collector": collector}, check_collector(rule, collector, data)
        return
    check = CHECKS[rule.kind]
    for d in data.deployments:
        if matches(rule, d.id):
            yield d.id, {"deployment": d.id, "service": d.service}, check(rule, d, data, now_s)


def evaluate(
    rules: Sequence[Rule],
    data: EvalData,
    previous: Mapping[str, AlertState],
    now: datetime,
    policy: Policy = Policy(),
) -> Evaluation:
    """Advance every alert one step; return new states, transitions and due notifications."""
    now_s = int(now.timestamp())
    states: dict[str, AlertState] = {}
    transitions: list[Transition] = []
    notifications: list[Notification] = []
    errors = 0
    for rule in rules:
        for entity, labels, obs in _targets(rule, data, now_s):
            fp = fingerprint(rule.name, entity)
            errors += obs.outcome is Outcome.ERROR
            all_labels = {"alertname": rule.name, "severity": rule.severity.value, **labels, **rule.labels}
            state, transition, note = step(rule, fp, entity, all_labels, previous.get(fp), obs, now_s, policy)
            states[fp] = state
            transitions.extend([transition] if transition else [])
            notifications.extend([note] if note else [])
    for fp, old in previous.items():
        if fp not in states:  # rule or target removed: resolve what was said, then forget it
            retired, transition, note = _retire(old, now_s)
            if retired is not None:
                states[fp] = retired
            transitions.extend([transition] if transition else [])
            notifications.extend([note] if note else [])
    return Evaluation(states, tuple(transitions), tuple(notifications), errors)


def _effective(rule: Rule, obs: Observation) -> str:
    """Map nodata / error through the rule's policies to breach, ok, nodata, error or keep."""
    if obs.outcome is Outcome.NODATA:
        return {MissingData.NOT_BREACHING: "ok", MissingData.BREACHING: "breach",
                MissingData.KEEP_STATE: "keep", MissingData.NODATA: "nodata"}[rule.missing_data]
    if obs.outcome is Outcome.ERROR:
        return {OnError.ERROR: "error", OnError.KEEP_STATE: "keep", OnError.OK: "ok"}[rule.on_error]
    return obs.outcome.value


def _next_state(rule: Rule, prev: AlertState | None, effective: str, now_s: int) -> tuple[AlertStatus, int | None]:
    """The new state and the breach start (pending time is wall-clock, so missed runs don't distort it)."""
    cur = _STATES[prev.state] if prev else AlertStatus.OK  # a dict lookup: Enum() calls are slow in this loop
    active = prev.active_since_s if prev else None
    if effective == "keep":
        return cur, active
    if effective == "breach":
        start = active if cur in (AlertStatus.PENDING, AlertStatus.FIRING) and active is not None else now_s
        firing = cur is AlertStatus.FIRING or now_s - start >= rule.for_s
        return (AlertStatus.FIRING if firing else AlertStatus.PENDING), start
    if effective == "nodata":
        return AlertStatus.NODATA, None
    if effective == "error":
        return AlertStatus.ERROR, None
    last_breach = prev.last_breach_s if prev else None
    if cur is AlertStatus.FIRING and last_breach is not None and now_s - last_breach < rule.keep_firing_for_s:
        return AlertStatus.FIRING, active
    if cur in (AlertStatus.FIRING, AlertStatus.NODATA, AlertStatus.ERROR):
        return AlertStatus.RESOLVED, None
    return (AlertStatus.OK if cur is AlertStatus.PENDING else cur), None


def step(
    rule: Rule,
    fp: str,
    entity: str,
    labels: Mapping[str, str],
    prev: AlertState | None,
    obs: Observation,
    now_s: int,
    policy: Policy,
) -> tuple[AlertState, Transition | None, Notification | None]:
    """One alert, one evaluation."""
    effective = _effective(rule, obs)
    new, active = _next_state(rule, prev, effective, now_s)
    cur = prev.state if prev else AlertStatus.OK
    changed = new != cur
    recent = tuple(t for t in (prev.changes if prev else ()) if t > now_s - policy.flap_window_s)
    recent = (*recent, now_s) if changed else recent
    was_flapping = prev.flapping if prev else False
    flapping = len(recent) >= policy.flap_threshold or (was_flapping and len(recent) > policy.flap_threshold // 2)
    summary = render_summary(rule, obs) if effective in ("breach", "nodata",
                                                         "error") else (prev.summary if prev else "")
    state = AlertState(
        fingerprint=fp, rule=rule.name, entity=entity, severity=rule.severity.value, state=new,
        since_s=now_s if changed or prev is None else prev.since_s, last_eval_s=now_s, labels=dict(labels),
        active_since_s=active, last_breach_s=now_s if effective == "breach" else (prev.last_breach_s if prev else None),
        value=obs.value if obs.value is not None else (prev.value if prev else None), summary=summary,
        notified=prev.notified if prev else "ok", notified_at_s=prev.notified_at_s if prev else None,
        notify_seq=prev.notify_seq if prev else 0, changes=recent, flapping=flapping)
    transition = Transition(fp, rule.name, entity, now_s, cur, new, state.value, summary) if changed else None
    repeat_s = rule.repeat_interval_s or policy.repeat_interval_s
    state, note = _notify(state, now_s, repeat_s)
    return state, transition, note


def _notify(state: AlertState, now_s: int, repeat_s: int) -> tuple[AlertState, Notification | None]:
    desired = "flapping" if state.flapping else _PROBLEM.get(_STATES[state.state], "ok")
    if desired != state.notified:
        status, repeat = ("resolved" if desired == "ok" else desired), False
    elif desired != "ok" and state.notified_at_s is not None and now_s - state.notified_at_s >= repeat_s:
        status, repeat = desired, True
    else:
        return state, None
    seq = state.notify_seq + 1
    summary = f"resolved: {state.summary}" if status == "resolved" else state.summary
    note = Notification(
        key=f"{state.fingerprint}:{seq}", fingerprint=state.fingerprint, rule=state.rule, entity=state.entity,
        severity=state.severity, status=status, repeat=repeat, summary=summary, value=state.value,
        labels=state.labels, since_s=state.since_s, at_s=now_s, previous=state.notified)
    return replace(state, notified=desired, notified_at_s=now_s, notify_seq=seq), note


def _retire(old: AlertState, now_s: int) -> tuple[AlertState | None, Transition | None, Notification | None]:
    if old.notified == "ok":
        return None, None, None  # nothing was said about it: forget it quietly
    gone = replace(old, state=AlertStatus.RESOLVED, since_s=now_s, last_eval_s=now_s, flapping=False,
                   summary=f"{old.summary} (no longer evaluated: rule or target removed)")
    transition = Transition(old.fingerprint, old.rule, old.entity, now_s, old.state, gone.state, old.value,
                            gone.summary)
    gone, note = _notify(gone, now_s, 1)
    return gone, transition, note
