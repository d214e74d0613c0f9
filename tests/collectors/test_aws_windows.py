"""The probe's window lines through CloudWatch Logs (moto over real HTTP) to class and input-feature drift:
real lines from a real skl2onnx model served inside a handler the real probe wraps, in a log group beside
Lambda's REPORT records, Powertools EMF lines and the application's own lines."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from collectors.aws import AwsCollector, from_settings
from collectors.aws_windows import LINE_TERMS, LINES_PATTERN
from collectors.base import CollectorContext
from drift import Status, WindowCounts, compare, merge_all
from inferwatch.config import parse_settings
from inferwatch.schema import CollectionBatch, Metric, ModelKey
from tests.collectors.aws_standin import REGION, TEST_ENV, boto_client, make_function, put_log_lines, put_values, shared
from tests.collectors.probe_lines import (
    BASELINE_ID,
    SERVICE,
    VERSION,
    lambda_lines,
    model,
    regression_model,
    shifted,
)
from tests.collectors.test_emf_tools import POWERTOOLS as POWERTOOLS_HANDLER
from tests.collectors.test_emf_tools import events, run_handler

POWERTOOLS = [  # aws-lambda-powertools Metrics: values as arrays, a service dimension, the ColdStart blob apart
    '{"_aws":{"Timestamp":1796600000000,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[["service"]],'
    '"Metrics":[{"Name":"LatencyMs","Unit":"Milliseconds"}]}]},"service":"payment","LatencyMs":[3.21],'
    '"request":"timeout handling enabled"}',
    '{"_aws":{"Timestamp":1796600000000,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[["function_name",'
    '"service"]],"Metrics":[{"Name":"ColdStart","Unit":"Count"}]}]},"function_name":"fn","service":"payment",'
    '"ColdStart":[1.0]}',
]
COLD = ("REPORT RequestId: r0 Duration: 10.5 ms Billed Duration: 612 ms Memory Size: 1024 MB Max Memory Used: 300 MB "
        "Init Duration: 601.0 ms")
WARM = "REPORT RequestId: r1 Duration: 4.0 ms Billed Duration: 4 ms Memory Size: 1024 MB Max Memory Used: 301 MB"


def _ctx(endpoint: str) -> CollectorContext:
    m = model()

    def baselines(key: ModelKey) -> tuple[str, Any] | None:
        return (BASELINE_ID, m.baseline) if (key.service, key.model_version) == (SERVICE, VERSION) else None

    def probe_bins(sha256: str) -> dict[str, Any] | None:
        return {"baseline_id": BASELINE_ID, "content": m.bins} if sha256 == m.bins_sha256 else None

    return CollectorContext(home=Path("/nonexistent"), env=TEST_ENV, endpoints={"aws": endpoint},
                            baselines=baselines, probe_bins=probe_bins)


@pytest.fixture(scope="module")
def bins_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bins") / "bins.json"
    path.write_bytes(model().bins)
    return path


@pytest.fixture()
def door() -> Iterator[Any]:
    _, front = shared()
    front.reset()
    yield front
    front.reset()


def _seed(fn: str, lines: Sequence[str], *, extra: Sequence[str] = ()) -> datetime:
    """The function in moto, its lines at their own end times, Lambda's REPORT records, other tools' lines,
    and CloudWatch's count of its invocations; returns the step of the lines."""
    moto, _ = shared()
    make_function(moto.endpoint, fn, memory_mb=1024)
    events = [(datetime.fromtimestamp(json.loads(line)["end_ms"] / 1000, UTC), line) for line in lines]
    first = min(ts for ts, _ in events)
    events += [(first, COLD), (first, WARM)] + [(first, text) for text in (*POWERTOOLS, *extra)]
    put_log_lines(moto.endpoint, f"/aws/lambda/{fn}", "2026/12/07/[$LATEST]0a1b2c", events)
    step = first.replace(second=0, microsecond=0)
    put_values(moto.endpoint, "AWS/Lambda", "Invocations", {"FunctionName": fn}, step + timedelta(seconds=1),
               [float(sum(sum(json.loads(line)["invocations"].values()) for line in lines))])
    return step


def _collect(fn: str, *, interval_s: int = 0, cursor: dict[str, Any] | None = None,
             now: datetime | None = None) -> CollectionBatch:
    _, door = shared()
    settings = parse_settings({"collect": {"lookback_s": 900, "cloud_metrics_interval_s": interval_s},
                               "deployments": [{"provider": "aws", "region": REGION, "function": fn}]})
    [collector] = from_settings(settings, _ctx(door.endpoint))
    assert isinstance(collector, AwsCollector)
    at = now or datetime.now(UTC) + timedelta(minutes=2)
    return collector.collect(at, cursor or {"costs_fetched_at": int(at.timestamp())})


def _drifted(results: Sequence[Any]) -> dict[str, Status]:
    """Per signal: DRIFT when any of its checks (distribution, null rate, range) drifts, else OK."""
    out: dict[str, Status] = defaultdict(lambda: Status.OK)
    for r in results:
        out[r.signal] = Status.DRIFT if r.status is Status.DRIFT else out[r.signal]
    return out


def _rows(n: int) -> Any:
    """``n`` rows of the reference population (drift checks need at least 500)."""
    x = model().x
    return np.concatenate([x] * (n // len(x) + 1))[:n]


def _merged(batch: CollectionBatch) -> dict[str, WindowCounts]:
    return _merged_any(batch, BASELINE_ID)


def _merged_any(batch: CollectionBatch, baseline_id: str) -> dict[str, WindowCounts]:
    """Every histogram of the batch merged per signal (the whole function's: no alias is configured)."""
    parts: dict[str, list[WindowCounts]] = defaultdict(list)
    for h in batch.histograms:
        assert h.baseline_id == baseline_id
        parts[h.signal].append(WindowCounts.from_dict(h.counts))
    return {signal: merge_all(items) for signal, items in parts.items()}


def test_class_and_every_input_feature_drift_from_window_lines_in_a_log_group(bins_path: Path, door: Any,
                                                                             tmp_path: Path) -> None:
    m = model()
    fn = f"cancer-{uuid.uuid4().hex[:8]}"
    lines = lambda_lines(bins_path, shifted(_rows(600)), function=fn, windows=3)
    # the same group also holds what aws-lambda-powertools' Metrics writes (run for real), cold-start blob included
    powertools = run_handler(POWERTOOLS_HANDLER, events(12), tmp_path / "powertools.jsonl")
    assert any('"ColdStart"' in line for line in powertools)
    step = _seed(fn, lines, extra=powertools)
    batch = _collect(fn)
    got = {(p.deployment, p.metric, p.start): p.value for p in batch.points}
    assert got[(f"aws:{REGION}:{fn}", Metric.COLD_STARTS, step)] == 1  # REPORT's; Powertools' blob adds none
    windows = _merged(batch)
    assert set(windows) == {"score", "class", *(f"feature:{n}" for n in m.feature_names)}
    assert {w.total_count for w in windows.values()} == {600}  # every row, not a sample
    status = _drifted(compare(m.baseline, [windows]).results)
    assert status["class"] is Status.DRIFT
    drifted = [n for n in m.feature_names if status[f"feature:{n}"] is Status.DRIFT]
    assert len(drifted) >= 25, status
    assert not [w for w in batch.warnings if "unreadable" in w], batch.warnings


def test_unshifted_traffic_does_not_drift_and_the_clouds_own_numbers_win(bins_path: Path, door: Any) -> None:
    m = model()
    fn = f"cancer-{uuid.uuid4().hex[:8]}"
    lines = lambda_lines(bins_path, _rows(600), function=fn, windows=2)
    step = _seed(fn, lines, extra=["[ERROR] upstream timeout while warming the cache"])
    batch = _collect(fn)
    whole = f"aws:{REGION}:{fn}"
    got = {(p.deployment, p.metric, p.start): p.value for p in batch.points}
    status = _drifted(compare(m.baseline, [_merged(batch)]).results)
    assert set(status.values()) == {Status.OK}, [s for s, v in status.items() if v is not Status.OK]
    assert got[(whole, Metric.INVOCATIONS, step)] == 600  # CloudWatch's count (the window lines say the same)
    assert got[(whole, Metric.COLD_STARTS, step)] == 1 and got[(whole, Metric.INIT_MAX, step)] == 601  # REPORT
    assert got[(whole, Metric.ROWS, step)] == 600  # the window lines
    # only cold starts and failures were read of the REPORTs: the every-invocation sums are not claimed
    assert (whole, Metric.BILLED_DURATION_SUM, step) not in got
    actions = door.actions()
    assert "cloudwatch:ListMetrics" not in actions  # no PR(:edge) histograms for a probe-instrumented function
    assert actions.count("logs:FilterLogEvents") == 1  # one pass: window lines and the exceptional REPORTs


def test_cloud_metrics_wait_for_their_interval_and_window_lines_stand_in(bins_path: Path, door: Any) -> None:
    m = model()
    fn = f"cancer-{uuid.uuid4().hex[:8]}"
    step = _seed(fn, lambda_lines(bins_path, m.x[:30], function=fn, windows=1))
    now = datetime.now(UTC) + timedelta(minutes=2)
    recent = {"costs_fetched_at": int(now.timestamp()), "complete_until": int(step.timestamp()),
              "cloud_complete_until": int(step.timestamp()), "window_lines_seen": {fn: int(step.timestamp())}}
    batch = _collect(fn, interval_s=3600, cursor=recent, now=now)
    assert "cloudwatch:GetMetricData" not in door.actions()
    whole = f"aws:{REGION}:{fn}"
    got = {(p.deployment, p.metric, p.start): p.value for p in batch.points}
    assert got[(whole, Metric.INVOCATIONS, step)] == 30  # the probe's count until CloudWatch is read
    assert batch.cursor["cloud_complete_until"] == int(step.timestamp())
    door.reset()
    idle = _collect(fn, interval_s=3600, cursor=dict(batch.cursor), now=now + timedelta(minutes=20))
    assert "cloudwatch:GetMetricData" not in door.actions()  # idle, still known to write window lines
    door.reset()
    _collect(fn, interval_s=3600, cursor=dict(idle.cursor), now=now + timedelta(hours=1))
    assert "cloudwatch:GetMetricData" in door.actions()  # its hour has come


def test_a_function_without_window_lines_keeps_every_report() -> None:
    from collectors.aws_windows import selected

    assert LINES_PATTERN.count("?") == len(LINE_TERMS)
    assert selected(COLD) and not selected(WARM) and selected('{"schema":"inferwatch.window/1"}')
    assert not selected(POWERTOOLS[1])


def test_config_check_names_the_missing_log_group_then_the_missing_window_lines(bins_path: Path, door: Any) -> None:
    from collectors.aws import check

    moto, _ = shared()
    fn = f"cancer-{uuid.uuid4().hex[:8]}"
    make_function(moto.endpoint, fn, memory_mb=1024)
    settings = parse_settings({"deployments": [{"provider": "aws", "region": REGION, "function": fn}]})
    ctx = _ctx(door.endpoint)
    [no_group] = check(settings, ctx)
    assert not no_group.ok and f"log group /aws/lambda/{fn} does not exist" in no_group.detail
    now = datetime.now(UTC)
    put_log_lines(moto.endpoint, f"/aws/lambda/{fn}", "2026/12/07/[$LATEST]0a", [(now, WARM), (now, POWERTOOLS[0])])
    [no_lines] = check(settings, ctx)
    assert not no_lines.ok and f"no probe window line for aws:{REGION}:{fn}" in no_lines.detail
    other = lambda_lines(bins_path, _rows(3), function="another-function", windows=1)  # a shared group's
    put_log_lines(moto.endpoint, f"/aws/lambda/{fn}", "2026/12/07/[$LATEST]0a", [(now, line) for line in other])
    assert not check(settings, ctx)[0].ok
    put_log_lines(moto.endpoint, f"/aws/lambda/{fn}", "2026/12/07/[$LATEST]0a",
                  [(now, line) for line in lambda_lines(bins_path, _rows(3), function=fn, windows=1)])
    [ok] = check(settings, ctx)
    assert ok.ok and "window lines arrive" in ok.detail


def test_pages_are_followed_and_a_bad_window_line_costs_only_itself(bins_path: Path) -> None:
    from collectors.aws_logs import LogsReader
    from collectors.aws_windows import read_function_logs

    moto, _ = shared()
    fn = f"cancer-{uuid.uuid4().hex[:8]}"
    lines = lambda_lines(bins_path, _rows(40), function=fn, windows=4)
    stamps = [datetime.fromtimestamp(json.loads(line)["end_ms"] / 1000, UTC) for line in lines]
    poison = '{"schema":"inferwatch.window/1","kind":"window","invocations":'  # cut short
    put_log_lines(moto.endpoint, f"/aws/lambda/{fn}", "2026/12/07/[$LATEST]0a",
                  [*zip(stamps, lines, strict=True), (stamps[0], poison), (stamps[0], COLD)])
    reader = LogsReader(boto_client("logs", moto.endpoint), page_size=2)
    warnings: list[str] = []
    start = min(stamps) - timedelta(minutes=1)
    logs = read_function_logs(reader, f"/aws/lambda/{fn}", f"aws:{REGION}:{fn}", start, max(stamps)
                              + timedelta(minutes=1), warnings)
    assert reader.calls == 3 and len(logs.lines) == 4 and sum(line.rows for line in logs.lines) == 40
    assert len(logs.reports) == 1 and logs.reports[0].cold_start and not logs.every_report
    assert len(warnings) == 1 and "1 unreadable window line(s)" in warnings[0]


def test_a_regressor_predicting_negative_values_gets_drift_on_aws(tmp_path: Path, door: Any) -> None:
    r = regression_model()
    assert (r.baseline.columns["value"].edges < 0).any()  # half its predictions are negative
    bins = tmp_path / "dose-bins.json"
    bins.write_bytes(r.bins)
    fn = f"dose-{uuid.uuid4().hex[:8]}"
    rows = np.concatenate([r.x, r.x])[:600] + np.float32(0.05)  # every (scaled) input moved up
    _seed(fn, lambda_lines(bins, rows, function=fn, windows=2, served=r))
    settings = parse_settings({"collect": {"lookback_s": 900},
                               "deployments": [{"provider": "aws", "region": REGION, "function": fn}]})
    ctx = CollectorContext(home=Path("/nonexistent"), env=TEST_ENV, endpoints={"aws": door.endpoint},
                           baselines=lambda key: (r.baseline_id, r.baseline) if key.model_version == r.version
                           else None, probe_bins=lambda sha: {"baseline_id": r.baseline_id, "content": r.bins})
    [collector] = from_settings(settings, ctx)
    at = datetime.now(UTC) + timedelta(minutes=2)
    batch = collector.collect(at, {"costs_fetched_at": int(at.timestamp())})
    windows = _merged_any(batch, r.baseline_id)
    assert windows["value"].total_count == 600
    status = _drifted(compare(r.baseline, [windows]).results)
    assert status["value"] is Status.DRIFT and status["feature:bmi"] is Status.DRIFT
