"""Hypothesis strategies for inferwatch.toml files built from the real schema's sections (their
keys read from the models and parsers that validate them), each key given either a value that
section accepts or a hostile one: a wrong type, a negative, huge, infinite or NaN number, a huge
string, a bad duration, a template that reaches into Python objects, an unknown key.

Deployments stay local with fixed names (collecting from a cloud would need the network; their
names belong to the names validator), so every verb runs offline in well under a second.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from hypothesis import strategies as st

from alerts.rules import KIND_VARIABLES
from alerts.settings import (
    AlertmanagerNotifierConfig,
    AlertsSection,
    EmailNotifierConfig,
    FileNotifierConfig,
    PagerDutyNotifierConfig,
    RuleConfig,
    SlackNotifierConfig,
    WebhookNotifierConfig,
)
from drift.settings import SECTION_KEYS as DRIFT_KEYS
from inferwatch.config import (
    CollectSection,
    DashboardSection,
    LocalDeploymentConfig,
    SloSection,
    StoreSection,
)

HOSTILE_SCALARS: tuple[Any, ...] = (
    float("nan"), float("inf"), float("-inf"), 1e308, -1e308, -1.0, -1, 0, 0.0, 5e-324, 2**63 - 1, -(2**63),
    10**18, True, False, "", "x" * 100_000, "\u0000", "\U0001f600", "1.5", "nan", [], [1], [[]], {}, {"a": 1},
)
BAD_DURATIONS = ("-5m", "forever", "1e9d", "99999999999999d", "5 m", "0s", "1h", "5q", "", "1.5h", 10**15, -60)
TEMPLATES = ("{__class__}", "{value.__class__}", "{value.__class__.__init__.__globals__}", "{", "}", "{0}", "{}",
             "{value:99999999}", "{entity:.2f}", "{value!x}", "{value:{threshold}}", "{value[0]}",
             "{entity}: {value:.1%} over {window}", "{nope}", "x" * 2000)
STATISTICS = ("psi", "wasserstein_sigma", "jensen_shannon", "ks", "g_test", "nope")
STORE_URLS = ("sqlite:///fuzz-store.db", "garbage", "mysql://h/db", "postgresql://h:abc/db", "sqlite://",
              "sqlite:///x.db?timeout=abc", "sqlite:///" + "x" * 300 + "/y.db", "postgresql://127.0.0.1:1/x",
              "sqlite+pysqlcipher:///x.db", "postgresql://u:pw@h/db", "sqlite:///\u0000")
# url_env / secret_env / ...: PATH is set wherever tests run; the other never is
ENV_NAMES = ("PATH", "INFERWATCH_FUZZ_NEVER_SET", "")

hostile = st.sampled_from(HOSTILE_SCALARS) | st.text(max_size=30) | st.integers() | st.floats()
unknown_key = st.sampled_from(["surprise", "window", "lambda_gb_s", "url", "", "x" * 300, "rules2"])


def _choice(*values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


# Values each section accepts (or nearly), per key; a key not listed gets only hostile values.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "step_s": _choice(60, 300, 3600), "lateness_s": _choice(0, 300), "lookback_s": _choice(3600, 60),
    "interval_s": _choice(60, 5), "workers": _choice(1, 4), "p99_ms": _choice(250.0, 1, 1e-9),
    "availability": _choice(0.999, 0.5), "cold_start_rate": _choice(0.1, 0.0, 1.0), "port": _choice(8501, 1),
    "address": _choice("127.0.0.1"), "refresh_s": _choice(30), "url": st.sampled_from(STORE_URLS),
    "numeric_statistic": st.sampled_from(STATISTICS), "categorical_statistic": st.sampled_from(STATISTICS),
    "alpha": _choice(0.01, 0.5), "min_rows": _choice(1, 500), "persistence": _choice([2, 3], [1, 1], [3, 2]),
    "rate_threshold": _choice(0.005, 0), "window_s": _choice(900, 60), "windows": _choice(3, 1, 100),
    "thresholds": _choice({"psi": [0.1, 0.25]}, {"psi": [0.3, 0.1]}, {"nope": [1, 2]}),
    "default_rules": st.booleans(), "disable": _choice([], ["ErrorRateHigh"], ["Nope"]),
    "max_attempts": _choice(1, 10), "flap_threshold": _choice(2, 6), "name": _choice("X", "ErrorRateHigh", "Y_2"),
    "kind": st.sampled_from(sorted(KIND_VARIABLES)), "severity": _choice("page", "ticket", "notice"),
    "summary": st.sampled_from(TEMPLATES), "threshold": _choice(0.05, 0, 1e9), "factor": _choice(14.4, 1),
    "min_requests": _choice(0, 10), "failures": _choice(3, 1, 100), "missing_data": _choice("breaching", "ok"),
    "on_error": _choice("error", "ok"), "labels": _choice({}, {"team": "ml"}), "match": _choice(["*"], ["aws:*"]),
    "severities": _choice(["page"], ["page", "ticket"]), "send_resolved": st.booleans(),
    "url_env": st.sampled_from(ENV_NAMES), "secret_env": st.sampled_from(ENV_NAMES),
    "username_env": st.sampled_from(ENV_NAMES), "password_env": st.sampled_from(ENV_NAMES),
    "host": _choice("127.0.0.1"), "sender": _choice("inferwatch@example.com"), "to": _choice(["a@example.com"]),
    "starttls": st.booleans(), "ca_file": _choice("/nonexistent/ca.pem", "/etc/hostname", "\u0000"),
    "path": _choice("-", "alerts.jsonl", "", "\u0000"), "memory_mb": _choice(512, 128),
    "traffic_weight": _choice(0.5, 1.0), "timeout_s": _choice(10.0, 900), "concurrency": _choice(1, 4),
    "min_instances": _choice(0, 2), "max_instances": _choice(8, 1), "keep_alive_s": _choice(30.0),
    "architecture": _choice("x86_64", "arm64"), "role": _choice("stable", "canary", "shadow"),
    "slo_p99_ms": _choice(250.0), "fault_slow_rate": _choice(0.0, 1.0), "fault_slow_ms": _choice(0.0, 120.0),
    "fault_error_rate": _choice(0.0, 0.5), "routing_key_env": st.sampled_from(ENV_NAMES),
    "dashboard_url": _choice("https://inferwatch.example.com", "ftp://x", "http://user:pw@host", "x" * 600),
    "severity_map": _choice({"page": "critical", "ticket": "warning", "notice": "info"}, {"page": "urgent"}),
}
DURATION_KEYS = {"window", "for", "keep_firing_for", "short_window", "repeat_interval", "flap_window",
                 "dead_letter_after", "backoff_base", "backoff_max", "send_timeout", "run_deadline", "timeout",
                 "hold_for"}


def value_for(key: str) -> st.SearchStrategy[Any]:
    """Three draws in four from the values the key plausibly takes: most files are then valid or
    wrong in one place, so the verbs get past loading and the checks that follow it run too."""
    plausible = PLAUSIBLE.get(key)
    if key in DURATION_KEYS:
        plausible = _choice(300, "5m", "1h", 60, 3600) | st.sampled_from(BAD_DURATIONS)
    if plausible is None:
        return hostile
    return st.integers(0, 3).flatmap(lambda n: hostile if n == 3 else plausible)


def fields(model: Any, *, skip: frozenset[str] = frozenset()) -> list[str]:
    """The keys a pydantic section model reads from the file (aliases such as ``for`` included)."""
    return sorted((f.alias or name) for name, f in model.model_fields.items() if (f.alias or name) not in skip)


@st.composite
def table(draw: st.DrawFn, keys: list[str], *, max_keys: int = 2, base: dict[str, Any] | None = None) -> dict[str, Any]:
    out = dict(base or {})
    for key in draw(st.lists(st.sampled_from(keys), max_size=max_keys, unique=True)):
        out[key] = draw(value_for(key))
    if draw(st.integers(0, 19)) == 0:
        out[draw(unknown_key)] = draw(hostile)
    return out


NOTIFIER_MODELS = {"slack": SlackNotifierConfig, "webhook": WebhookNotifierConfig, "email": EmailNotifierConfig,
                   "file": FileNotifierConfig, "alertmanager": AlertmanagerNotifierConfig,
                   "pagerduty": PagerDutyNotifierConfig}


@st.composite
def notifiers(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = st.sampled_from(["hook", "log", "mail", "ops", "on call", "x" * 70])
    for name in draw(st.lists(names, min_size=1, max_size=2, unique=True)):
        kind = draw(st.sampled_from([*NOTIFIER_MODELS, *NOTIFIER_MODELS, "pager"]))
        keys = fields(NOTIFIER_MODELS.get(kind, FileNotifierConfig), skip=frozenset({"type"}))
        base: dict[str, Any] = {"type": kind}
        if kind == "email":
            base |= {"host": "127.0.0.1", "sender": "inferwatch@example.com", "to": ["oncall@example.com"]}
        out[name] = draw(table(keys, base=base))
    return out


def _price_leaves(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, list price) of every value in the packaged catalogues."""
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _price_leaves(v, (*prefix, k))]
    return [(prefix, node)]


PRICE_LEAVES = [leaf for name in ("aws_lambda", "gcp_cloud_run") for leaf in _price_leaves(
    {name: json.loads(resources.files("costs").joinpath("catalogues", f"{name}.json").read_text(encoding="utf-8"))})]


@st.composite
def prices(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, listed in draw(st.lists(st.sampled_from(PRICE_LEAVES), max_size=2, unique_by=lambda leaf: leaf[0])):
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        plausible = hostile if "null" in json.dumps(listed) else _choice(listed)  # TOML has no null
        node[path[-1]] = draw(st.integers(0, 3).flatmap(lambda n, p=plausible: hostile if n == 3 else p))
    if draw(st.integers(0, 19)) == 0:
        out[draw(unknown_key)] = draw(hostile)
    return out


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """A whole inferwatch.toml: some of its sections, each with a few keys set."""
    rule_keys = fields(RuleConfig)
    sections: dict[str, st.SearchStrategy[Any]] = {
        "store": table(fields(StoreSection), max_keys=1),
        "collect": table(fields(CollectSection)),
        "slo": table(fields(SloSection)),
        "dashboard": table(fields(DashboardSection)),
        "deployments": st.lists(table(fields(LocalDeploymentConfig, skip=frozenset(
            {"provider", "name", "service", "model_version", "shadow_version"})),
            base={"provider": "local", "name": "scorer-v1"}), max_size=1),
        "drift": table(sorted(DRIFT_KEYS)),
        "alerts": table([*fields(AlertsSection), "rules"]),
        "notifiers": notifiers(),
        "prices": prices(),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(sections)), min_size=1, max_size=3, unique=True))
    doc = {name: draw(sections[name]) for name in chosen}
    if isinstance(doc.get("alerts"), dict) and "rules" in doc["alerts"] and draw(st.booleans()):
        doc["alerts"]["rules"] = draw(st.lists(table(rule_keys, max_keys=5, base={
            "name": "Fuzz", "kind": draw(st.sampled_from(sorted(KIND_VARIABLES))), "summary": "{entity}"}),
            max_size=2))
    if draw(st.integers(0, 19)) == 0:
        doc[draw(unknown_key)] = draw(hostile)
    return doc
