"""The state machine: pending -> firing -> resolved, `for`, keep_firing_for, no data, errors,
flapping, repeat intervals, removed targets. Pure: data in, states and notifications out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.evaluate import Evaluation, Policy, evaluate
from alerts.rules import MissingData, OnError, Rule
from alerts.series import DriftDecision
from inferwatch.schema import AlertState, MetricPoint
from tests.alerts.builders import DEP, T0, data_with, deployment, error_rule

FP_KEYS = ("firing", "resolved", "nodata", "error", "flapping")


def per_minute(errors: Sequence[float | None], invocations: float = 100) -> list[MetricPoint]:
    """One step per minute from T0; None leaves the minute empty (no data)."""
    points = []
    for i, e in enumerate(errors):
        if e is None:
            continue
        at = T0 + timedelta(minutes=i)
        points += [MetricPoint(DEP.id, "invocations_count", at, 60, invocations),
                   MetricPoint(DEP.id, "server_errors_count", at, 60, e)]
    return points


DEFAULT_POLICY = Policy()


def run(rules: Sequence[Rule], errors: Sequence[float | None], *, policy: Policy = DEFAULT_POLICY,
        every_s: int = 60, until_min: int | None = None, **data_kw: Any) -> list[Evaluation]:
    data = data_with(per_minute(errors), **data_kw)
    states: Mapping[str, AlertState] = {}
    out = []
    for t in range(60, 60 * (until_min or len(errors)) + 1, every_s):
        ev = evaluate(rules, data, states, T0 + timedelta(seconds=t), policy)
        states = ev.states
        out.append(ev)
    return out


def statuses(evs: Sequence[Evaluation]) -> list[tuple[int, str]]:
    return [(i + 1, n.status) for i, ev in enumerate(evs) for n in ev.notifications]


def states(evs: Sequence[Evaluation]) -> list[str]:
    return [next(iter(ev.states.values())).state if ev.states else "-" for ev in evs]


def test_pending_then_firing_after_for_then_one_resolved() -> None:
    # window 1m: minute t is judged on the step that started at t-1
    evs = run([error_rule(window_s=60, for_s=180)], [0] * 5 + [20] * 10 + [0] * 5)
    assert states(evs)[4:6] == ["ok", "pending"]
    assert states(evs)[6:9] == ["pending", "pending", "firing"]  # 3 minutes after pending began
    assert states(evs)[15] == "resolved"
    assert statuses(evs) == [(9, "firing"), (16, "resolved")]
    firing = evs[8].notifications[0]
    assert firing.summary == "local:local:scorer-v1: 20% errors" and firing.value == 0.2
    assert evs[15].notifications[0].summary.startswith("resolved: ")


def test_one_good_evaluation_resets_for() -> None:
    evs = run([error_rule(window_s=60, for_s=180)], [20, 20, 0, 20, 20, 20, 20, 20])
    assert states(evs) == ["pending", "pending", "ok", "pending", "pending", "pending", "firing", "firing"]
    assert statuses(evs) == [(7, "firing")]


def test_pending_that_clears_sends_nothing() -> None:
    evs = run([error_rule(window_s=60, for_s=600)], [20] * 5 + [0] * 5)
    assert "pending" in states(evs) and statuses(evs) == []


def test_pending_time_is_wall_clock_so_missed_runs_do_not_delay_firing() -> None:
    # runs only every 5 minutes: firing is due once 3 minutes of breach have passed on the clock
    evs = run([error_rule(window_s=300, for_s=180)], [20] * 20, every_s=300)
    assert states(evs)[:2] == ["pending", "firing"]


def test_keep_firing_for_holds_through_a_short_dip() -> None:
    rule = error_rule(window_s=60, keep_firing_for_s=180)
    evs = run([rule], [20, 20, 0, 0, 20, 20, 0, 0, 0, 0, 0])
    assert statuses(evs) == [(1, "firing"), (9, "resolved")]


def test_repeat_only_after_the_repeat_interval() -> None:
    evs = run([error_rule(window_s=60, repeat_interval_s=600)], [20] * 31)
    notes = [(i, n.status, n.repeat) for i, n in [(i + 1, n) for i, ev in enumerate(evs) for n in ev.notifications]]
    assert notes == [(1, "firing", False), (11, "firing", True), (21, "firing", True), (31, "firing", True)]
    keys = [n.key for ev in evs for n in ev.notifications]
    assert len(set(keys)) == len(keys)


def test_missing_data_policies() -> None:
    errors: list[float | None] = [20, 20, None, None, None, None, 0, 0]
    by_policy = {p: run([error_rule(window_s=60, missing_data=p)], errors) for p in MissingData}
    assert statuses(by_policy[MissingData.NOT_BREACHING]) == [(1, "firing"), (3, "resolved")]
    assert statuses(by_policy[MissingData.BREACHING]) == [(1, "firing"), (7, "resolved")]
    assert statuses(by_policy[MissingData.KEEP_STATE]) == [(1, "firing"), (7, "resolved")]
    assert states(by_policy[MissingData.KEEP_STATE])[2:6] == ["firing"] * 4
    assert statuses(by_policy[MissingData.NODATA]) == [(1, "firing"), (3, "nodata"), (7, "resolved")]
    nodata = by_policy[MissingData.NODATA][2].notifications[0]
    assert nodata.summary == "Errors: no data in the last 1m"


def test_error_state_when_a_source_fails_and_recovers() -> None:
    rule = Rule(name="Drift", kind="drift", severity=error_rule().severity, summary="{entity} drifted ({signals})",
                window_s=3600)
    data_ok = data_with([], drift={DEP.id: DriftDecision({"score": "drift"})})
    data_bad = data_with([], drift_error="baseline missing")
    seq = [data_ok, data_bad, data_bad, data_ok]
    states_: Mapping[str, AlertState] = {}
    notes = []
    for i, data in enumerate(seq):
        ev = evaluate([rule], data, states_, T0 + timedelta(minutes=i))
        states_ = ev.states
        notes += [(n.status, n.summary) for n in ev.notifications]
        assert ev.errors == (1 if data is data_bad else 0)
    assert notes == [("firing", "local:local:scorer-v1 drifted (score)"),
                     ("error", "Drift: could not evaluate: drift decision unavailable: baseline missing"),
                     ("firing", "local:local:scorer-v1 drifted (score)")]
    kept = evaluate([replace(rule, on_error=OnError.KEEP_STATE)], data_bad,
                    evaluate([rule], data_ok, {}, T0).states, T0 + timedelta(minutes=1))
    assert [s.state for s in kept.states.values()] == ["firing"] and kept.notifications == ()


def test_flapping_is_damped_to_one_notice_then_settles() -> None:
    policy = Policy(flap_window_s=3600, flap_threshold=4)
    errors: list[float | None] = [*([20.0, 0.0] * 10), *([0.0] * 40)]
    evs = run([error_rule(window_s=60)], errors, policy=policy, until_min=80)
    sent = [s for _, s in statuses(evs)]
    # firing, resolved, firing, then the 4th change marks it flapping: one notice, silence while it flaps
    assert sent[:4] == ["firing", "resolved", "firing", "flapping"]
    assert sent[4:] == ["resolved"]  # once the changes age out of the window, the final state is said once
    assert len(sent) == 5


def test_removed_deployment_resolves_what_was_said() -> None:
    other = deployment("scorer-v2")
    rule = error_rule(window_s=60)
    first = evaluate([rule], data_with(per_minute([20, 20]), deployments=(DEP, other)), {}, T0 + timedelta(minutes=1))
    gone = evaluate([rule], data_with([], deployments=(other,)), first.states, T0 + timedelta(minutes=2))
    assert [(n.entity, n.status) for n in gone.notifications] == [(DEP.id, "resolved")]
    forgotten = evaluate([rule], data_with([], deployments=(other,)), gone.states, T0 + timedelta(minutes=3))
    assert DEP.id not in {s.entity for s in forgotten.states.values()} and forgotten.notifications == ()


def test_labels_and_fingerprint_are_stable() -> None:
    rule = error_rule(window_s=60, labels={"team": "ml"})
    a = evaluate([rule], data_with(per_minute([20])), {}, T0 + timedelta(minutes=1))
    b = evaluate([rule], data_with(per_minute([20])), {}, T0 + timedelta(minutes=1))
    (fp, state), = a.states.items()
    assert fp in b.states and fp == state.fingerprint
    assert state.labels == {"alertname": "Errors", "severity": "page", "deployment": DEP.id, "service": "scorer",
                            "team": "ml"}


outcomes = st.lists(st.sampled_from([0.0, 20.0, None]), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(outcomes, st.integers(0, 3), st.sampled_from(list(MissingData)))
def test_notifications_always_tell_a_consistent_story(errors: list[float | None], for_min: int,
                                                      missing: MissingData) -> None:
    """Whatever the input: never 'resolved' without a problem said before it, never the same news twice
    in a row unless marked as a repeat, ids unique and increasing."""
    rule = error_rule(window_s=60, for_s=60 * for_min, missing_data=missing)
    evs = run([rule], errors, until_min=len(errors) + 2)
    said = "ok"
    seqs = []
    for ev in evs:
        for n in ev.notifications:
            assert n.status in FP_KEYS
            if n.status == "resolved":
                assert said != "ok"
                said = "ok"
            else:
                assert n.repeat == (n.status == said)
                said = n.status
            seqs.append(int(n.key.split(":")[1]))
    assert seqs == list(range(1, len(seqs) + 1))
