"""EMF lines written by other tools, through the real local collector into a real store: the real
aws-lambda-powertools Metrics and aws-embedded-metrics packages run a Lambda-style handler in a subprocess
(a fresh process: a real cold start), what they print is the telemetry file, and its invocations, latency,
cold start, errors and score/feature histograms are collected. Valid EMF that carries nothing Inferwatch
reads is counted and reported per file; EMF that is not well-formed is quarantined."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from collectors.emf_tools import ColdStartOnly, NothingUsable, read_tool_line
from collectors.local import LocalCollector
from collectors.local_telemetry import TelemetryLineError
from collectors.runner import run_one
from drift import Baseline, WindowCounts, build_baseline
from inferwatch.schema import Metric
from inferwatch.store import Store

CONTEXT = '''
class Context:  # the platform's context object (what Lambda passes a handler)
    function_name = "scorer-fn"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:scorer-fn"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    function_version = "$LATEST"
'''
POWERTOOLS = CONTEXT + '''
import json, sys
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics(namespace="Shop", service="scorer")


@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    metrics.add_metadata(key="function_name", value=context.function_name)  # the recipe: cold start and
    metrics.add_metadata(key="ModelVersion", value="v1")                    # invocations name one deployment
    metrics.add_metadata(key="InputSummary", value={"age": [event["age"]]})
    metrics.add_dimension(name="environment", value="test")
    metrics.add_metric(name="LatencyMs", unit=MetricUnit.Milliseconds, value=event["latency_ms"])
    if event["error"]:
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="PredictionScore", unit=MetricUnit.NoUnit, value=event["score"])
    metrics.add_metric(name="SuccessfulBooking", unit=MetricUnit.Count, value=1)
    return {"statusCode": 200}


for event in json.load(sys.stdin):
    handler(event, Context())
'''
EMBEDDED = CONTEXT + '''
import json, sys
from aws_embedded_metrics import metric_scope


@metric_scope
def handler(event, context, metrics):
    metrics.set_namespace("Shop")
    metrics.set_property("ModelVersion", "v1")
    metrics.set_property("InputSummary", {"age": [event["age"]]})
    metrics.put_metric("Latency", event["latency_ms"] / 1000, "Seconds")
    if event["error"]:
        metrics.put_metric("ClientError", 1, "Count")
    else:
        metrics.put_metric("PredictionScore", event["score"], "None")
    return {"statusCode": 200}


for event in json.load(sys.stdin):
    handler(event, Context())
'''
LAMBDA_ENV = {"AWS_LAMBDA_FUNCTION_NAME": "scorer-fn", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
              "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/scorer-fn", "AWS_REGION": "eu-west-1",
              "POWERTOOLS_METRICS_NAMESPACE": "Shop"}


def events(n: int = 40) -> list[dict[str, Any]]:
    rng = np.random.default_rng(20261207)
    return [{"latency_ms": round(float(rng.lognormal(2, 0.4)), 3), "score": float(rng.beta(2, 5)),
             "age": float(rng.poisson(30)), "error": i % 10 == 9} for i in range(n)]


def run_handler(script: str, given: list[dict[str, Any]], out: Path) -> list[str]:
    """Run ``script`` in a fresh Python process fed ``given``; what it prints becomes the file ``out``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))} | LAMBDA_ENV
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(given), capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(done.stdout)
    return [line for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    rng = np.random.default_rng(3)
    return build_baseline({"score": rng.beta(2, 5, 5_000), "feature:age": rng.poisson(30, 5_000).astype(float)},
                          categorical=[], model_sha256="a" * 64, version="v1")


@pytest.mark.parametrize("tool", ["powertools", "aws-embedded-metrics"])
def test_lines_of_the_real_packages_are_collected(tmp_path: Path, baseline: Baseline, tool: str) -> None:
    given = events()
    script = POWERTOOLS if tool == "powertools" else EMBEDDED
    printed = run_handler(script, given, tmp_path / "telemetry" / "scorer-fn" / f"{tool}.jsonl")
    assert len(printed) == len(given) + (tool == "powertools")  # Powertools adds its cold-start line
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    found: dict[str, Any] = {}

    def lookup(key: Any) -> tuple[str, Baseline] | None:
        found["key"] = key
        return ("scorer-v1", baseline) if key.model_version == "v1" else None

    collector = LocalCollector(tmp_path, [], grace_s=0, baselines=lookup)
    run = run_one(store, collector, clock=lambda: datetime.now(UTC) + timedelta(minutes=2))
    assert run.status == "ok", run.warnings
    errors = [e for e in given if e["error"]]
    assert _total(store, Metric.INVOCATIONS) == len(given)
    assert _total(store, Metric.DURATION_SUM) == pytest.approx(sum(e["latency_ms"] for e in given))
    assert _total(store, Metric.SERVER_ERRORS if tool == "powertools" else Metric.CLIENT_ERRORS) == len(errors)
    assert _total(store, Metric.COLD_STARTS) == (1 if tool == "powertools" else 0)
    assert _total(store, Metric.ROWS) == len(given) - len(errors)
    [deployment] = store.load_deployments()
    assert (deployment.name, deployment.service) == (("scorer-fn", "scorer") if tool == "powertools"
                                                     else ("scorer-fn", "scorer-fn"))
    histograms = {h.signal: WindowCounts.from_dict(h.counts) for h in store.load_histograms()}
    answered = [e for e in given if not e["error"]]
    expected = {"score": [e["score"] for e in answered], "feature:age": [e["age"] for e in answered]}
    for signal, values in expected.items():
        assert histograms[signal].counts.tolist() == WindowCounts.from_values(baseline.column(signal),
                                                                              values).counts.tolist(), signal
    assert found["key"].service == deployment.service
    store.dispose()


def _total(store: Store, metric: str) -> float:
    return sum(p.value for p in store.load_metrics(metrics=[metric]))


def test_valid_emf_with_nothing_usable_is_counted_and_reported(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    booking = {"Namespace": "Shop", "Dimensions": [["service"]], "Metrics": [{"Name": "SuccessfulBooking",
                                                                             "Unit": "Count"}]}
    line = {"_aws": {"Timestamp": int(now.timestamp() * 1000), "CloudWatchMetrics": [booking]},
            "service": "booking", "SuccessfulBooking": [1.0]}
    nameless = {"_aws": line["_aws"] | {"CloudWatchMetrics": [{"Namespace": "Shop", "Dimensions": [[]], "Metrics": [
        {"Name": "Latency", "Unit": "Milliseconds"}]}]}, "Latency": 3.0}
    path = tmp_path / "telemetry" / "shop" / "i.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text((json.dumps(line) + "\n") * 3 + json.dumps(nameless) + "\n")
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    collector = LocalCollector(tmp_path, [], grace_s=0)
    run = run_one(store, collector, clock=lambda: now + timedelta(minutes=2))
    assert f"3 EMF lines from {path} carried no metric Inferwatch reads (names: SuccessfulBooking)" in run.warnings
    assert any(w.startswith(f"1 EMF lines from {path} named no deployment") for w in run.warnings)
    assert store.quarantine_counts() == {}
    again = run_one(store, collector, clock=lambda: now + timedelta(minutes=3))
    assert not any("EMF lines" in w for w in again.warnings)  # counted once, though the file is read again
    store.dispose()


def _emf(metrics: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    return {"_aws": {"Timestamp": 1_796_000_000_000, "CloudWatchMetrics": [
        {"Namespace": "X", "Dimensions": [["service"]], "Metrics": metrics}]}, "service": "scorer", **members}


def test_names_units_and_arrays_map_onto_invocations() -> None:
    got = read_tool_line(_emf([{"Name": "duration", "Unit": "Seconds"}, {"Name": "Faults", "Unit": "Count"},
                               {"Name": "batch_size", "Unit": "Count"}], duration=[0.002, 0.004, 0.5], Faults=1,
                              batch_size=[8], model_version="m7"))
    assert isinstance(got, tuple) and [r.latency_ms for r in got] == [2.0, 4.0, 500.0]
    assert [r.status for r in got] == ["ok", "ok", "error"] and [r.rows for r in got] == [8, 0, 0]
    assert {(r.deployment, r.service, r.model_version) for r in got} == {("scorer", "scorer", "m7")}
    cold = read_tool_line(_emf([{"Name": "ColdStart", "Unit": "Count"}], ColdStart=[1.0], function_name="fn"))
    assert cold == ColdStartOnly(1_796_000_000_000, "fn", "scorer")
    assert read_tool_line(_emf([{"Name": "Orders"}], Orders=2)) == NothingUsable(("Orders",), "no_metric")


@pytest.mark.parametrize(("doc", "field"), [
    (_emf([{"Name": "Latency"}]), "Latency"),  # declared, no value
    (_emf([{"Name": "Latency"}], Latency="fast"), "Latency"),
    (_emf([{"Name": "Latency"}], Latency=[1.0] * 101), "Latency"),
    ({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "X", "Dimensions": [["env"]],
                                                       "Metrics": [{"Name": "Latency"}]}]}, "Latency": 1}, "env"),
    ({"_aws": {"Timestamp": 1}, "Latency": 1}, "_aws.CloudWatchMetrics"),
    (_emf([{"Name": "Latency"}], Latency=1, Deployment=5), "Deployment"),
    (_emf([{"Name": "Latency"}], Latency=-3), "Latency"),
])
def test_emf_that_is_not_well_formed_names_its_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(TelemetryLineError) as info:
        read_tool_line(doc)
    assert info.value.field == field
