"""The composed AWS collector end to end: real boto3 over HTTP to moto behind the fault-injecting
front door, from settings to a real SQLite store."""

from __future__ import annotations

import fnmatch
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from collectors.aws import AwsCollector, check, from_settings
from collectors.base import CollectorContext
from collectors.runner import run_one
from drift import WindowCounts
from drift.baseline import Baseline, NumericColumn, build_baseline
from drift.cloud import bin_edges_for_cloud
from inferwatch.config import parse_settings
from inferwatch.schema import CollectionBatch, Metric
from inferwatch.store import Store
from tests.collectors.aws_standin import (
    ACCOUNT,
    REGION,
    TEST_ENV,
    boto_client,
    make_function,
    put_log_lines,
    put_values,
    shared,
)
from tests.validators.env import validator

NOW = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
T = datetime(2026, 11, 24, 11, 50, tzinfo=UTC)
POLICY = Path(__file__).parents[2] / "deploy" / "iam" / "aws-collector-policy.json"
PARLIAMENT = Path(__file__).parents[1] / "validators" / "parliament_findings.py"
COLD = ("REPORT RequestId: a Duration: 10.5 ms Billed Duration: 11 ms Memory Size: 512 MB Max Memory Used: 100 MB "
        "Init Duration: 800.0 ms")
IAM_PREFIX = {"monitoring": "cloudwatch"}  # CloudWatch signs as "monitoring"; IAM calls it "cloudwatch"
# resumes at T (complete_until - lateness_s) and skips Cost Explorer (asked recently)
CURSOR = {"complete_until": int((T + timedelta(minutes=5)).timestamp()), "costs_fetched_at": int(NOW.timestamp())}
WARM = "REPORT RequestId: b Duration: 4.0 ms Billed Duration: 4 ms Memory Size: 512 MB Max Memory Used: 101 MB"


@pytest.fixture()
def door() -> Iterator[Any]:
    _, front = shared()
    front.reset()
    yield front
    front.reset()


def seed(fn: str, *, provisioned: int = 0) -> None:
    moto, door = shared()
    make_function(moto.endpoint, fn, versions=1, aliases={"live": "1"}, reserved=10)
    dims = {"FunctionName": fn}
    put_values(moto.endpoint, "AWS/Lambda", "Duration", dims, T + timedelta(seconds=5), [float(v) for v in range(1,
                                                                                                                 101)])
    put_values(moto.endpoint, "AWS/Lambda", "Invocations", dims, T + timedelta(seconds=5), [100.0])
    put_values(moto.endpoint, "AWS/Lambda", "Invocations", {**dims, "Resource": f"{fn}:live"}, T, [60.0])
    put_values(moto.endpoint, "Inferwatch", "Degraded", {"Deployment": fn}, T, [1.0, 0.0, 1.0])
    put_log_lines(moto.endpoint, f"/aws/lambda/{fn}", "2026/11/24/[1]abc",
                  [(T + timedelta(seconds=1), COLD), (T + timedelta(seconds=2), WARM), (T + timedelta(minutes=3),
                                                                                        WARM)])
    if provisioned:
        door.state.provisioned[fn] = [{
            "FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}:live",
            "RequestedProvisionedConcurrentExecutions": provisioned,
            "AllocatedProvisionedConcurrentExecutions": provisioned, "Status": "READY"}]


def settings_for(*functions: str, tag: str | None = None) -> Any:
    return parse_settings({"collect": {"step_s": 60, "lookback_s": 1200, "lateness_s": 300}, "deployments": [
        {"provider": "aws", "region": REGION, "function": fn, "aliases": ["live"], "cost_allocation_tag": tag}
        for fn in functions]})


def build(*functions: str, env: dict[str, str] | None = None, hooks: Any = (), baselines: Any = None) -> AwsCollector:
    ctx = CollectorContext(home=Path("/nonexistent"), env=env or TEST_ENV, endpoints={"aws": shared()[1].endpoint},
                           baselines=baselines)
    [collector] = from_settings(settings_for(*functions), ctx, hooks=hooks)
    return collector


def values(batch: CollectionBatch) -> dict[tuple[str, str, datetime], float]:
    return {(p.deployment, p.metric, p.start): p.value for p in batch.points}


def test_collects_metrics_logs_config_and_costs(door: Any) -> None:
    fn = "e2e-main"
    seed(fn, provisioned=3)
    shared()[0].seed_cost_results([{"ResultsByTime": [{"TimePeriod": {"Start": "2026-11-23", "End": "2026-11-24"},
        "Groups": [{"Keys": ["EU-Request"], "Metrics": {"UnblendedCost": {"Amount": "0.2", "Unit": "USD"},
                    "UsageQuantity": {"Amount": "1000000", "Unit": "Requests"}}}], "Estimated": False}]}])
    batch = build(fn).collect(NOW, None)
    whole, live = f"aws:{REGION}:{fn}", f"aws:{REGION}:{fn}:live"
    assert [d.id for d in batch.deployments] == [whole, live]
    assert batch.deployments[1].provisioned_concurrency == 3 and batch.deployments[0].max_instances == 10
    got = values(batch)
    assert got[(whole, Metric.LATENCY_P99, T)] == 99 and got[(whole, Metric.INVOCATIONS, T)] == 100
    assert got[(live, Metric.INVOCATIONS, T)] == 60 and got[(whole, Metric.DEGRADED, T)] == 2
    assert got[(whole, Metric.COLD_STARTS, T)] == 1 and got[(live, Metric.COLD_STARTS, T)] == 1
    assert got[(whole, Metric.BILLED_DURATION_SUM, T)] == 15 and got[(whole, Metric.INIT_MAX, T)] == 800
    assert got[(whole, Metric.COLD_STARTS, T + timedelta(minutes=3))] == 0
    assert got[(live, Metric.PROVISIONED_CONCURRENCY, T)] == 3
    assert (live, Metric.PROVISIONED_UTILIZATION, T) not in got  # no datapoint: missing, never invented
    steps = {p.start for p in batch.points}
    assert min(steps) == datetime(2026, 11, 24, 11, 40, tzinfo=UTC) and max(steps) < NOW.replace(second=0)
    assert batch.cursor is not None and set(batch.cursor.pop("configs")) == {fn}
    assert batch.cursor == {"complete_until": int(datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()),
                            "costs_fetched_at": int(NOW.timestamp()),
                            "histograms_complete_until": int(datetime(2026, 11, 24, 11, 0, tzinfo=UTC).timestamp())}
    assert [(c.scope, c.cost_usd) for c in batch.costs] == [(f"aws:{ACCOUNT}:{REGION}", 0.2)]
    assert batch.warnings == ()


def test_recollecting_a_window_yields_identical_records(door: Any) -> None:
    fn = "e2e-idem"
    seed(fn)
    collector = build(fn)
    cursor = CURSOR
    first, second = collector.collect(NOW, cursor), collector.collect(NOW, cursor)
    assert (f"aws:{REGION}:{fn}", Metric.LATENCY_P95, T) in values(first)
    assert first.points and sorted(map(repr, first.points)) == sorted(map(repr, second.points))
    assert first.deployments == second.deployments and first.costs == second.costs == ()


def test_incremental_window_resumes_with_lateness(door: Any) -> None:
    fn = "e2e-incr"
    seed(fn)
    collector = build(fn)
    first = collector.collect(NOW, None)
    later = NOW + timedelta(minutes=2)
    second = collector.collect(later, first.cursor)
    starts = sorted({p.start for p in second.points})
    assert starts[0] == datetime(2026, 11, 24, 11, 55, tzinfo=UTC)  # complete_until - lateness_s
    assert starts[-1] == datetime(2026, 11, 24, 12, 1, tzinfo=UTC)
    assert second.costs == ()  # Cost Explorer is asked at most every few hours
    assert first.cursor is not None and second.cursor is not None
    assert second.cursor["costs_fetched_at"] == first.cursor["costs_fetched_at"]


def test_function_configurations_are_kept_in_the_cursor_from_one_process_to_the_next(door: Any) -> None:
    fns = ["e2e-cfg-a", "e2e-cfg-b"]
    for fn in fns:
        seed(fn)
    first = build(*fns).collect(NOW, CURSOR)
    door.reset()
    second = build(*fns).collect(NOW + timedelta(minutes=1), first.cursor)  # each `collect` builds anew
    assert [a for a in door.actions() if a.startswith("lambda:")] == []
    assert second.deployments == first.deployments and second.warnings == ()
    boto_client("lambda", shared()[0].endpoint).update_function_configuration(FunctionName=fns[0], MemorySize=1024)
    door.reset()
    later = build(*fns).collect(NOW + timedelta(minutes=13), second.cursor)  # older than 10 min + 25 %
    assert door.actions().count("lambda:ListVersionsByFunction") == 2
    assert {d.id: d.memory_mb for d in later.deployments}[f"aws:{REGION}:{fns[0]}"] == 1024


def test_half_the_calls_throttled_still_completes_with_the_same_records(door: Any) -> None:
    fn = "e2e-throttle"
    seed(fn)
    cursor = CURSOR
    clean = build(fn).collect(NOW, cursor)
    plan = door.inject(every=2)
    throttled = build(fn).collect(NOW, cursor)
    assert plan.injected >= 3 and plan.seen >= 2 * plan.injected - 1
    assert sorted(map(repr, throttled.points)) == sorted(map(repr, clean.points))
    assert values(throttled)[(f"aws:{REGION}:{fn}", Metric.COLD_STARTS, T)] == 1


def test_server_errors_are_retried_too(door: Any) -> None:
    fn = "e2e-5xx"
    seed(fn)
    cursor = CURSOR
    plan = door.inject(every=3, kind="5xx")
    batch = build(fn).collect(NOW, cursor)
    assert plan.injected >= 1 and values(batch)[(f"aws:{REGION}:{fn}", Metric.INVOCATIONS, T)] == 100


def resource_arn(action: str, params: dict[str, Any]) -> str:
    """The ARN IAM authorises ``action`` on, from the call's parameters (``*`` where the action has
    no resource-level permissions)."""
    if action.startswith("lambda:"):
        name = str(params["FunctionName"])
        return name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    if action == "logs:FilterLogEvents":
        return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{params['logGroupName']}"
    return "*"


def test_every_call_is_allowed_by_the_policy_scoped_and_the_policy_allows_no_other(door: Any) -> None:
    fn = "e2e-iam"
    seed(fn)
    called: dict[str, set[str]] = {}

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        prefix = model.service_model.signing_name
        action = f"{IAM_PREFIX.get(prefix, prefix)}:{model.name}"
        called.setdefault(action, set()).add(resource_arn(action, params))

    hooks = [("before-parameter-build", record)]
    build(fn, hooks=hooks, baselines=lambda key: None).collect(NOW, None)
    ctx = CollectorContext(home=Path("/nonexistent"), env=TEST_ENV, endpoints={"aws": door.endpoint})
    check(settings_for(fn), ctx, hooks=hooks)
    statements = json.loads(POLICY.read_text())["Statement"]
    allowed: dict[str, list[str]] = {}
    for st in statements:
        assert st["Effect"] == "Allow" and all(":Get" in a or ":List" in a or ":Filter" in a for a in st["Action"])
        for action in st["Action"]:
            allowed.setdefault(action, []).append(st["Resource"])
    assert set(called) == set(allowed)
    for action, arns in called.items():
        for arn in arns:
            assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in allowed[action]), (action, arn)
    # Resource "*" only where IAM has no resource to scope to (parliament checks that too).
    scoped = {a for a, resources in allowed.items() if "*" not in resources}
    assert scoped == {a for a in allowed if a.startswith(("lambda:", "logs:"))}


def test_parliament_finds_nothing_in_the_collector_policy() -> None:
    result = subprocess.run([validator("python"), str(PARLIAMENT), str(POLICY)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    findings = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert findings == []


def test_check_reports_denied_actions_without_raising(door: Any) -> None:
    fn = "e2e-denied"
    make_function(door.endpoint, fn)
    door.state.denied.update({"logs:FilterLogEvents", "ce:GetCostAndUsage"})
    ctx = CollectorContext(home=Path("/nonexistent"), env=TEST_ENV, endpoints={"aws": door.endpoint})
    [result] = check(settings_for(fn), ctx)
    assert not result.ok and set(result.missing_permissions) == {"logs:FilterLogEvents", "ce:GetCostAndUsage"}
    assert "access denied" in result.detail and "Traceback" not in result.detail


def test_check_reports_missing_credentials(door: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3's default chain reads the process environment and files: point it at empty ones.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    ctx = CollectorContext(home=Path("/nonexistent"), env={}, endpoints={"aws": door.endpoint})
    [result] = check(settings_for("e2e-nocreds"), ctx)
    assert not result.ok and "no usable AWS credentials" in result.detail
    assert "Unable to locate credentials" in result.detail


def test_a_denied_collection_is_recorded_and_writes_nothing(door: Any, tmp_path: Path) -> None:
    fn = "e2e-store"
    seed(fn)
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    collector = build(fn)
    door.state.denied.add("cloudwatch:GetMetricData")
    failed = run_one(store, collector, clock=lambda: NOW)
    assert failed.status == "failed" and failed.error is not None and "cloudwatch:GetMetricData" in failed.error
    assert store.load_cursor(collector.name) is None and store.load_metrics() == []
    door.state.denied.clear()
    runs = [run_one(store, collector, clock=lambda: NOW) for _ in range(2)]
    assert [r.status for r in runs] == ["ok", "ok"]
    rows = store.load_metrics(metrics=[Metric.INVOCATIONS])
    assert len(rows) == len({(p.deployment, p.start) for p in rows}) == 2 * 20  # two deployments, 20 steps


def score_baseline(version: str) -> tuple[str, Baseline]:
    reference = np.random.default_rng(7).beta(5, 2, size=5000)
    baseline = build_baseline({"score": reference}, categorical=[], model_sha256="ab" * 32, version=version)
    return f"bl-{version}", baseline


def test_prediction_histogram_comes_from_percentile_ranks_and_equals_local_binning(door: Any) -> None:
    fn = "e2e-hist"
    seed(fn)
    bid, baseline = score_baseline("v1")
    current = np.round(np.random.default_rng(11).beta(4, 2, size=300), 3)  # shifted, with ties
    put_values(shared()[0].endpoint, "Inferwatch", "PredictionScore", {"Deployment": fn, "ModelVersion": "v1"},
               T + timedelta(seconds=3), [float(v) for v in current])
    put_values(shared()[0].endpoint, "Inferwatch", "PredictionScore", {"Deployment": fn, "ModelVersion": "v0"},
               T + timedelta(seconds=3), [0.5])  # a version without a baseline: no histogram
    baselines = {"v1": (bid, baseline)}
    later = NOW + timedelta(minutes=6)  # an hour is read once it ended lateness_s (5 min) ago
    batch = build(fn, baselines=lambda key: baselines.get(key.model_version)).collect(later, CURSOR)
    [hist] = batch.histograms  # per complete hour: ~200 metrics per call, so not per step
    hour = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    assert (hist.deployment, hist.signal, hist.start, hist.step_s, hist.baseline_id) == (
        f"aws:{REGION}:{fn}", "score", hour, 3600, bid)
    column = baseline.column("score")
    assert isinstance(column, NumericColumn)
    bins = bin_edges_for_cloud(column)
    cloud = WindowCounts.from_dict(hist.counts)
    local = WindowCounts.from_values(column, current)
    assert cloud.total_count == 300
    assert np.array_equal(cloud.counts, local.coarsened(np.asarray(bins.layout)))
    assert batch.warnings == ()
    assert batch.cursor is not None
    assert batch.cursor["histograms_complete_until"] == int((hour + timedelta(hours=1)).timestamp())
    again = build(fn, baselines=lambda key: baselines.get(key.model_version)).collect(later + timedelta(minutes=5),
                                                                                    batch.cursor)
    assert again.histograms == ()  # the next hour is not complete yet: no PR queries this run


def test_one_listing_finds_the_model_versions_of_every_function(door: Any) -> None:
    fns = ["e2e-list-a", "e2e-list-b", "e2e-list-c"]
    for i, fn in enumerate(fns):
        seed(fn)
        put_values(shared()[0].endpoint, "Inferwatch", "PredictionScore", {"Deployment": fn, "ModelVersion": f"w{i}"},
                   T + timedelta(seconds=3), [0.2, 0.6, 0.9])
    door.reset()
    found = {f"w{i}": score_baseline(f"w{i}") for i in range(len(fns))}
    batch = build(*fns, baselines=lambda key: found.get(key.model_version)).collect(NOW + timedelta(minutes=6), CURSOR)
    assert sorted((h.deployment, h.baseline_id) for h in batch.histograms) == [
        (f"aws:{REGION}:{fn}", f"bl-w{i}") for i, fn in enumerate(fns)]
    assert door.actions().count("cloudwatch:ListMetrics") == 1  # not one per function


def test_an_unreadable_baseline_costs_its_histograms_only(door: Any) -> None:
    from drift.errors import UnreadableBaselineError

    fn = "e2e-bad-baseline"
    seed(fn)
    put_values(shared()[0].endpoint, "Inferwatch", "PredictionScore", {"Deployment": fn, "ModelVersion": "v1"},
               T + timedelta(seconds=3), [0.5, 0.7])

    def unreadable(key: Any) -> Any:
        raise UnreadableBaselineError("bl-v1", "format: unsupported format None (expected 1)",
                                      "inferwatch baseline create --version v1")

    batch = build(fn, baselines=unreadable).collect(NOW + timedelta(minutes=6), CURSOR)
    assert batch.histograms == ()
    assert values(batch)[(f"aws:{REGION}:{fn}", Metric.INVOCATIONS, T)] == 100  # the metrics still land
    assert any("baseline bl-v1 is unreadable" in w and "inferwatch baseline create --version v1" in w
               for w in batch.warnings), batch.warnings


# REPORT records of each kind, as Lambda writes them since the 2025-08-01 INIT billing rule (the cold
# start's Billed Duration holds its init), in the text and the JSON log formats.
KINDS_TEXT = [
    ("REPORT RequestId: c1\tDuration: 10.5 ms\tBilled Duration: 811 ms\tMemory Size: 512 MB\tMax Memory Used: 100 MB\t"
     "Init Duration: 800.0 ms"),
    ("REPORT RequestId: t1\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 512 MB\t"
     "Max Memory Used: 90 MB\tStatus: timeout"),
    ("REPORT RequestId: m1\tDuration: 40.1 ms\tBilled Duration: 41 ms\tMemory Size: 512 MB\tMax Memory Used: 512 MB\t"
     "Status: error\tError Type: Runtime.OutOfMemory"),
    ("REPORT RequestId: r1\tDuration: 2.0 ms\tBilled Duration: 2 ms\tMemory Size: 512 MB\tMax Memory Used: 98 MB\t"
     "Restore Duration: 300.0 ms\tBilled Restore Duration: 100 ms"),
]
KINDS_JSON = [json.dumps({"time": "2026-11-24T11:50:09.000Z", "type": "platform.report", "record": record})
              for record in (
    {"requestId": "t2", "status": "timeout", "metrics": {"durationMs": 3000.0, "billedDurationMs": 3000,
                                                         "memorySizeMB": 512, "maxMemoryUsedMB": 91}},
    {"requestId": "r2", "status": "success", "metrics": {"durationMs": 3.0, "billedDurationMs": 3, "memorySizeMB": 512,
                                                         "maxMemoryUsedMB": 99, "restoreDurationMs": 500.0,
                                                         "billedRestoreDurationMs": 60}},
)]


def test_report_records_of_every_kind_through_moto_to_the_cost(door: Any) -> None:
    from costs.catalogue import load_catalogue
    from costs.per_prediction import estimate_costs

    fn = "e2e-kinds"
    make_function(shared()[0].endpoint, fn, versions=1, aliases={"live": "1"})
    dims = {"FunctionName": fn}
    put_values(shared()[0].endpoint, "AWS/Lambda", "Invocations", dims, T + timedelta(seconds=5), [8.0])
    put_values(shared()[0].endpoint, "AWS/Lambda", "Errors", dims, T + timedelta(seconds=5), [3.0])  # 2 timeouts, 1 OOM
    put_values(shared()[0].endpoint, "Inferwatch", "Timeout", {"Deployment": fn}, T, [1.0])  # the service's own
    lines = [*KINDS_TEXT, *KINDS_JSON, WARM]
    put_log_lines(shared()[0].endpoint, f"/aws/lambda/{fn}", "2026/11/24/[1]abc",
                  [(T + timedelta(seconds=1 + i), line) for i, line in enumerate(lines)])
    batch = build(fn).collect(NOW, CURSOR)
    whole, live = f"aws:{REGION}:{fn}", f"aws:{REGION}:{fn}:live"
    got = values(batch)
    for dep in (whole, live):  # version 1 is the live alias's: its records are the alias's too
        assert got[(dep, Metric.TIMEOUTS, T)] == (3 if dep == whole else 2)  # the killed ones wrote no EMF
        assert got[(dep, Metric.OOM_KILLS, T)] == 1
        assert got[(dep, Metric.COLD_STARTS, T)] == 3 and got[(dep, Metric.RESTORES, T)] == 2
        assert got[(dep, Metric.INIT_AVG, T)] == 800  # restores are not inits
        assert got[(dep, Metric.RESTORE_AVG, T)] == 400 and got[(dep, Metric.RESTORE_MAX, T)] == 500
        assert got[(dep, Metric.BILLED_RESTORE_SUM, T)] == 160
    assert got[(whole, Metric.SERVER_ERRORS, T)] == 1  # Lambda's Errors counted the 2 timeouts: not twice
    billed_ms = 811 + 3000 + 41 + 2 + 3000 + 3 + 4
    assert got[(whole, Metric.BILLED_DURATION_SUM, T)] == billed_ms
    rate = load_catalogue().lambda_prices("x86_64").duration_usd_per_gb_s * 0.5  # 512 MB
    cost = {w.key: w.cost for w in estimate_costs(batch.deployments, batch.points, load_catalogue()).windows
            if w.start == T}[whole]
    assert cost.compute_usd + cost.init_usd == pytest.approx(billed_ms / 1000 * rate)  # init inside, once
    assert cost.init_usd == pytest.approx(0.8 * rate) and cost.restore_usd == pytest.approx(0.16 * rate)
