"""Rule tests for users, in the spirit of ``promtool test rules``: ``inferwatch alerts test FILE``.

A TOML file gives input series and the alerts expected at given times; the rules are evaluated
every ``evaluation_interval`` from the start (state carried over, exactly as the job does) and
each ``alert_rule_test`` lists every alert of ``alertname`` that is not ok at ``eval_time``::

    evaluation_interval = "1m"
    default_rules = true                  # also load the shipped rules
    rule_files = ["my_rules.toml"]        # [[rules]] tables, relative to this file

    [[tests]]
    name = "slow canary pages"
    interval = "1m"                       # one series value per interval, from 2026-01-01T00:00Z
    deployments = [{ id = "local:local:scorer-v1", slo_p99_ms = 250 }]
    [tests.series."local:local:scorer-v1"]
    invocations_count = "100x60"          # promtool notation: a+bxN, a-bxN, axN (N+1 values), _ , _xN
    latency_p99_ms = "100x20 400x40"
    [[tests.alert_rule_test]]
    eval_time = "30m"
    alertname = "LatencyP99AboveSLO"
    exp_alerts = [{ deployment = "local:local:scorer-v1", state = "firing" }]

Optional per test: ``collectors = { aws = "ok failedx3" }`` (one run status per interval),
``drift = { "<deployment>" = { score = "drift" } }``, ``cost_per_prediction_usd = { "<deployment>" = 2e-5 }``,
``slo = { p99_ms = 250, availability = 0.999, cold_start_rate = 0.1 }``, and model quality as every
``quality_below`` rule's window sees it::

    [tests.quality."local:local:scorer-v1"]
    kind = "binary"                                  # binary | multiclass | regressor
    baseline = { accuracy = 0.97 }                   # the baseline's level
    estimated = { accuracy = [0.85, 0.83, 0.87] }    # value, or [value, low, high]
    estimated_rows = 5000
    realised = { accuracy = 0.84 }
    realised_rows = 300
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.errors import AlertConfigError
from alerts.evaluate import Policy, evaluate
from alerts.rules import Rule
from alerts.series import DriftDecision, EvalData, MetricReading, QualityReading, SloDefaults
from alerts.settings import default_rules, parse_duration, parse_rules
from inferwatch.schema import (
    AlertState,
    AlertStatus,
    CollectionRun,
    Deployment,
    MetricPoint,
    Provider,
    Role,
    RunStatus,
    split_deployment_id,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
_TOKEN = re.compile(r"^(?P<a>-?[\d.]+(?:e-?\d+)?|_|[a-z]+)(?:(?P<op>[+-])(?P<b>[\d.]+(?:e-?\d+)?))?x(?P<n>\d+)$")
_DEPLOYMENT_FIELDS = ("service", "role", "traffic_weight", "slo_p99_ms", "provisioned_concurrency",
                      "min_instances", "model_version")


@dataclass(frozen=True, slots=True)
class TestOutcome:
    name: str
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def expand(notation: str) -> list[float | str | None]:
    """``"1+2x3 _ 5"`` -> ``[1, 3, 5, 7, None, 5]`` (``axN`` and ``a+bxN`` give N+1 values)."""
    out: list[float | str | None] = []
    for token in notation.split():
        m = _TOKEN.match(token)
        if m is None:
            out.append(None if token == "_" else _scalar(token, notation))
            continue
        a, op, b, n = m.group("a"), m.group("op"), m.group("b"), int(m.group("n"))
        if a == "_":
            out.extend([None] * n)
        elif a.isalpha():
            out.extend([a] * (n + 1))
        else:
            step = float(b or 0) * (-1 if op == "-" else 1)
            out.extend(float(a) + i * step for i in range(n + 1))
    return out


def _scalar(token: str, notation: str) -> float | str:
    if token.isalpha():
        return token
    try:
        return float(token)
    except ValueError as exc:
        raise AlertConfigError(f"series {notation!r}: cannot read {token!r}", field="series") from exc


def _deployments(raw: list[Mapping[str, Any]], where: str) -> tuple[Deployment, ...]:
    out = []
    for i, d in enumerate(raw):
        try:
            provider, region, name = split_deployment_id(str(d["id"]))
        except (KeyError, ValueError) as exc:
            raise AlertConfigError(f"{where}.deployments[{i}].id: {exc}", field=f"{where}.deployments[{i}].id") from exc
        unknown = set(d) - {"id", *_DEPLOYMENT_FIELDS}
        if unknown:
            raise AlertConfigError(f"{where}.deployments[{i}]: unknown field {min(unknown)}",
                                   field=f"{where}.deployments[{i}]")
        extra = {k: d[k] for k in _DEPLOYMENT_FIELDS if k in d}
        extra.setdefault("service", name)
        if provider not in Provider.__members__.values():
            raise AlertConfigError(f"{where}.deployments[{i}].id: unknown provider {provider!r} (known: "
                                   f"{', '.join(Provider)})", field=f"{where}.deployments[{i}].id")
        if "role" in extra and extra["role"] not in Role.__members__.values():
            raise AlertConfigError(f"{where}.deployments[{i}].role: unknown role {extra['role']!r}",
                                   field=f"{where}.deployments[{i}].role")
        out.append(Deployment(id=str(d["id"]), provider=Provider(provider), region=region, name=name, **extra))
    return tuple(out)


def _reading(raw: Any, field: str) -> MetricReading:
    values = raw if isinstance(raw, list) else [raw]
    if len(values) not in (1, 3) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise AlertConfigError(f"{field}: expected a number or [value, low, high]", field=field)
    return MetricReading(*(float(v) for v in values))


def _quality(raw: Mapping[str, Any], windows: tuple[int, ...]) -> dict[int, dict[str, QualityReading]]:
    """A test's quality readings, the same for every window a quality_below rule reads."""
    readings = {}
    for dep, q in raw.items():
        where = f"quality.{dep}"
        readings[dep] = QualityReading(
            kind=str(q.get("kind", "binary")),
            estimated={m: _reading(v, f"{where}.estimated.{m}") for m, v in q.get("estimated", {}).items()},
            realised={m: _reading(v, f"{where}.realised.{m}") for m, v in q.get("realised", {}).items()},
            estimated_rows=int(q.get("estimated_rows", 0)), realised_rows=int(q.get("realised_rows", 0)),
            baseline={m: float(v) for m, v in q.get("baseline", {}).items()})
    return {window: readings for window in windows}


def _data(test: Mapping[str, Any], deployments: tuple[Deployment, ...], step_s: int,
          quality_windows: tuple[int, ...] = ()) -> EvalData:
    """All of a test's input; windows end at the evaluation time, so later points are never read."""
    points = []
    for dep, metrics in test.get("series", {}).items():
        for metric, notation in metrics.items():
            for i, v in enumerate(expand(str(notation))):
                at = START + timedelta(seconds=i * step_s)
                if isinstance(v, float):
                    points.append(MetricPoint(dep, metric, at, step_s, v))
    runs = []
    for collector, notation in test.get("collectors", {}).items():
        for i, status in enumerate(expand(str(notation))):
            at = START + timedelta(seconds=i * step_s)
            if isinstance(status, str):
                if status not in RunStatus.__members__.values():
                    raise AlertConfigError(f"collectors.{collector}: run status {status!r} is not one of "
                                           f"{', '.join(RunStatus)}", field=f"collectors.{collector}")
                runs.append(CollectionRun(f"{collector}-{i}", collector, at, at, RunStatus(status),
                                          error="simulated failure" if status == "failed" else None))
    drift = {d: DriftDecision(signals=dict(s)) for d, s in test.get("drift", {}).items()} if "drift" in test else None
    cost = dict(test["cost_per_prediction_usd"]) if "cost_per_prediction_usd" in test else None
    quality = _quality(test["quality"], quality_windows) if "quality" in test else None
    return EvalData.from_records(deployments, points, runs, step_s=step_s, slo=SloDefaults(**test.get("slo", {})),
                                 drift=drift, cost_per_prediction_usd=cost, quality=quality)


def _compare(case: Mapping[str, Any], states: Mapping[str, AlertState]) -> list[str]:
    name = case.get("alertname", "?")
    actual = sorted((s.labels.get("deployment") or s.labels.get("collector", s.entity), str(s.state))
                    for s in states.values()
                    if s.rule == name and s.state not in (AlertStatus.OK, AlertStatus.RESOLVED))
    expected = sorted((str(e.get("deployment") or e.get("collector")), str(e.get("state", "firing")))
                      for e in case.get("exp_alerts", []))
    if actual == expected:
        return []
    return [f"{name} at {case.get('eval_time')}: expected {expected or 'no alerts'}, got {actual or 'no alerts'}"]


def run_test(test: Mapping[str, Any], rules: tuple[Rule, ...], interval_s: int, policy: Policy) -> TestOutcome:
    name = str(test.get("name", "unnamed"))
    step_s = parse_duration(test.get("interval", "1m"))
    deployments = _deployments(list(test.get("deployments", [])), f"tests[{name}]")
    cases = sorted(test.get("alert_rule_test", []), key=lambda c: parse_duration(c["eval_time"]))
    if not cases:
        return TestOutcome(name, ("no alert_rule_test cases",))
    data = _data(test, deployments, step_s, tuple({r.window_s for r in rules if r.kind == "quality_below"}))
    states: Mapping[str, AlertState] = {}
    failures: list[str] = []
    t, index = 0, 0
    last = parse_duration(cases[-1]["eval_time"])
    while t <= last:
        now = START + timedelta(seconds=t)
        runs = {c: tuple(r for r in rs if r.started_at < now) for c, rs in data.collector_runs.items()}
        states = evaluate(rules, replace(data, collector_runs=runs), states, now, policy).states
        while index < len(cases) and parse_duration(cases[index]["eval_time"]) <= t:
            failures.extend(_compare(cases[index], states))
            index += 1
        t += interval_s
    return TestOutcome(name, tuple(failures))


def run_file(path: Path) -> list[TestOutcome]:
    """Run every test of a rule-test file; raises :class:`AlertConfigError` if the file is invalid."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AlertConfigError(f"{path}: {exc}", field=str(path)) from exc
    rules = {r.name: r for r in (default_rules() if raw.get("default_rules", True) else ())}
    for rel in raw.get("rule_files", []):
        rule_path = path.parent / rel
        try:
            loaded = tomllib.loads(rule_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AlertConfigError(f"{rule_path}: {exc}", field="rule_files") from exc
        rules.update({r.name: r for r in parse_rules(loaded.get("rules", []), f"{rel}:rules")})
    try:
        interval_s = parse_duration(raw.get("evaluation_interval", "1m"))
        policy = replace(Policy(), **{k: parse_duration(v) for k, v in raw.get("policy", {}).items()})
        return [run_test(t, tuple(rules.values()), parse_duration(t.get("evaluation_interval", interval_s)), policy)
                for t in raw.get("tests", [])]
    except (ValueError, KeyError, TypeError) as exc:
        raise AlertConfigError(f"{path}: {type(exc).__name__}: {exc}", field=str(path)) from exc
