"""[alerts] and [notifiers] validation: errors name the field; secrets cannot live in the file."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.errors import AlertConfigError
from alerts.rules import KIND_VARIABLES, Severity
from alerts.settings import default_rules, parse_alert_settings, parse_duration


def test_default_rules_cover_every_kind_the_issue_lists() -> None:
    rules = default_rules()
    assert {r.kind for r in rules} == set(KIND_VARIABLES)
    assert len(rules) == 12
    fast = next(r for r in rules if r.name == "SLOBurnRateFast")
    slow = next(r for r in rules if r.name == "SLOBurnRateSlow")
    assert (fast.window_s, fast.short_window_s, fast.factor) == (3600, 300, 14.4)
    assert (slow.window_s, slow.short_window_s, slow.factor) == (21600, 1800, 6.0)
    warm = next(r for r in rules if r.kind == "warm_utilization")
    assert (warm.severity, warm.threshold, warm.for_s) == (Severity.NOTICE, 0.30, 86_400)


@pytest.mark.parametrize(("text", "seconds"), [(90, 90), ("45s", 45), ("5m", 300), ("6h", 21600), ("1d", 86400)])
def test_durations(text: Any, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("alerts", "notifiers", "message"), [
    ({"rules": [{"name": "X", "kind": "burn_rate", "summary": "s", "window": "1h"}]}, {},
     "alerts.rules[0]: a burn_rate rule needs factor and short_window"),
    ({"rules": [{"name": "X", "kind": "latency_p99", "summary": "{nope}"}]}, {},
     "alerts.rules[0].summary: uses {nope}; a latency_p99 rule offers entity, invocations, threshold, value, window"),
    # templates that passed the name check but failed, or built huge strings, at every evaluation
    ({"rules": [{"name": "X", "kind": "error_rate", "summary": "{value.__class__}"}]}, {},
     "alerts.rules[0].summary: uses {value.__class__}: name a variable"),
    ({"rules": [{"name": "X", "kind": "error_rate", "summary": "{entity:.2f}"}]}, {},
     "alerts.rules[0].summary: does not format: Unknown format code 'f'"),
    ({"rules": [{"name": "X", "kind": "error_rate", "summary": "{value:999999999}"}]}, {},
     "alerts.rules[0].summary: the format {value:999999999} is not allowed"),
    ({"rules": [{"name": "X", "kind": "error_rate", "summary": "{value:{threshold}}"}]}, {},
     "alerts.rules[0].summary: the format {value:{threshold}} is not allowed"),
    ({"rules": [{"name": "X", "kind": "error_rate", "summary": "x" * 1001}]}, {},
     "alerts.rules[0].summary: String should have at most 1000 characters"),
    ({"rules": {"name": "X"}}, {}, "alerts.rules: expected an array of tables"),
    ({"repeat_interval": "forever"}, {}, "alerts.repeat_interval: 'forever' is not a duration"),
    ({"backoff_max": "999999d"}, {}, "alerts.backoff_max: '999999d' is longer than the longest duration"),
    ({"dead_letter_after": 1e300}, {}, "alerts.dead_letter_after: 1e+300 is longer than the longest duration"),
    ({}, {"on call": {"type": "file"}}, "notifiers: notifier name 'on call': use 1 to 64 letters"),
    ({"rules": [{"name": "X", "kind": "latency", "summary": "s"}]}, {}, "alerts.rules[0].kind: Input should be"),
    ({"rules": [{"name": "X", "kind": "error_rate", "summary": "s", "for": "soon"}]}, {},
     "alerts.rules[0].for: 'soon' is not a duration"),
    ({"rules": [{"name": "X", "kind": "error_rate", "summary": "s"}] * 2}, {}, "alerts.rules: rule X is defined twice"),
    ({"disable": ["Nope"]}, {}, "alerts.disable: no rule named Nope"),
    ({"rules": [{"name": "X", "kind": "error_rate", "summary": "s", "window": "8d"}]}, {},
     "alerts.rules[0].window: Input should be less than or equal to 604800"),
    ({"max_attempts": 0}, {}, "alerts.max_attempts: Input should be greater than or equal to 1"),
    ({}, {"ops": {"type": "webhook", "url": "https://hooks.example/x"}},
     "notifiers.ops: url must not be in the file: name an environment variable with url_env"),
    ({}, {"mail": {"type": "email", "host": "h", "sender": "a@b", "to": ["c@d"], "password": "x"}},
     "notifiers.mail: password must not be in the file"),
    ({}, {"mail": {"type": "email", "host": "h", "sender": "a@b"}}, "notifiers.mail.to: Field required"),
    ({}, {"x": {"type": "pager"}}, "notifiers.x: Input tag 'pager' found using 'type' does not match"),
])
def test_errors_name_the_field(alerts: dict[str, Any], notifiers: dict[str, Any], message: str) -> None:
    with pytest.raises(AlertConfigError) as info:
        parse_alert_settings(alerts, notifiers)
    assert str(info.value).startswith(message), str(info.value)
    assert info.value.field and str(info.value).startswith(info.value.field)


def test_user_rules_replace_defaults_and_disable_removes() -> None:
    mine = {"name": "ErrorRateHigh", "kind": "error_rate", "summary": "{entity} {value:.1%}", "threshold": 0.01,
            "severity": "ticket", "labels": {"team": "ml"}, "match": ["aws:*"]}
    s = parse_alert_settings({"rules": [mine], "disable": ["WarmCapacityUnderused"]}, {})
    names = [r.name for r in s.rules]
    assert "WarmCapacityUnderused" not in names and len(names) == 11
    rule = next(r for r in s.rules if r.name == "ErrorRateHigh")
    assert (rule.threshold, rule.severity, dict(rule.labels), rule.match) == (0.01, Severity.TICKET, {"team": "ml"},
                                                                              ("aws:*",))
    assert parse_alert_settings({"default_rules": False}, {}).rules == ()
