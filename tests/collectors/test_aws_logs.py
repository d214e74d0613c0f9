"""REPORT records (text and JSON: cold starts of both kinds, timeouts, out-of-memory kills, INIT_REPORT) and
FilterLogEvents paging against moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from collectors.aws_logs import (
    LogRecordError,
    LogsReader,
    merge_log_counts,
    parse_event,
    step_metrics,
    to_points,
    version_of_stream,
)
from collectors.errors import ProviderThrottledError
from inferwatch.schema import Metric, MetricPoint
from tests.collectors.aws_standin import boto_client, put_log_lines, shared

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)
COLD_TEXT = ("REPORT RequestId: 3f0c Duration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 512 MB\t"
             "Max Memory Used: 131 MB\tInit Duration: 812.40 ms\t")
WARM_TEXT = "REPORT RequestId: 3f0d Duration: 4.10 ms Billed Duration: 5 ms Memory Size: 512 MB Max Memory Used: 140 MB"
SNAP_TEXT = ("REPORT RequestId: 3f0e Duration: 2.01 ms Billed Duration: 3 ms Memory Size: 1024 MB "
             "Max Memory Used: 98 MB Restore Duration: 290.43 ms Billed Restore Duration: 98 ms")
TIMEOUT_TEXT = ("REPORT RequestId: 3f0f\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
                "Max Memory Used: 58 MB\tStatus: timeout")
OOM_TEXT = ("REPORT RequestId: 3f10\tDuration: 40.12 ms\tBilled Duration: 41 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory")
ERROR_TEXT = ("REPORT RequestId: 3f11 Duration: 5.00 ms Billed Duration: 5 ms Memory Size: 128 MB "
              "Max Memory Used: 60 MB Status: error Error Type: Runtime.Unknown")


def json_report(metrics: dict[str, float], status: str = "success", error_type: str | None = None) -> str:
    record: dict[str, object] = {"requestId": "r", "metrics": metrics, "status": status}
    if error_type is not None:
        record["errorType"] = error_type
    return json.dumps({"time": "2026-11-24T12:00:01.000Z", "type": "platform.report", "record": record})


BASE = {"durationMs": 3000.0, "billedDurationMs": 3000, "memorySizeMB": 128, "maxMemoryUsedMB": 58}
# (line, cold start, restored, timed out, out of memory, init ms, restore ms, billed restore ms)
REPORT_FORMS = {
    "text on-demand cold start": (COLD_TEXT, True, False, False, False, 812.4, None, None),
    "text warm": (WARM_TEXT, False, False, False, False, None, None, None),
    "text SnapStart restore": (SNAP_TEXT, True, True, False, False, None, 290.43, 98.0),
    "text timeout": (TIMEOUT_TEXT, False, False, True, False, None, None, None),
    "text out of memory": (OOM_TEXT, False, False, False, True, None, None, None),
    "text other error": (ERROR_TEXT, False, False, False, False, None, None, None),
    "text error before Lambda named OOM": (OOM_TEXT.replace("\tError Type: Runtime.OutOfMemory", ""),
                                           False, False, False, True, None, None, None),
    "json on-demand cold start": (json_report({**BASE, "initDurationMs": 250.33}), True, False, False, False,
                                  250.33, None, None),
    "json warm": (json_report(BASE), False, False, False, False, None, None, None),
    "json SnapStart restore": (json_report({**BASE, "restoreDurationMs": 500.795, "billedRestoreDurationMs": 53}),
                               True, True, False, False, None, 500.795, 53.0),
    "json timeout": (json_report(BASE, "timeout"), False, False, True, False, None, None, None),
    "json timeout of a cold start": (json_report({**BASE, "initDurationMs": 90.0}, "timeout"),
                                     True, False, True, False, 90.0, None, None),
    "json out of memory": (json_report({**BASE, "maxMemoryUsedMB": 128}, "error", "Runtime.OutOfMemory"),
                           False, False, False, True, None, None, None),
    "json other error": (json_report(BASE, "error", "Runtime.Unknown"), False, False, False, False, None, None, None),
}


@pytest.mark.parametrize("form", sorted(REPORT_FORMS))
def test_report_forms(form: str) -> None:
    line, cold, restored, timed_out, oom, init_ms, restore_ms, billed_restore_ms = REPORT_FORMS[form]
    rec = parse_event(line, MS, "2026/11/24/[5]abc")
    assert rec is not None and rec.kind == "report" and rec.version == "5"
    assert (rec.cold_start, rec.restored, rec.timed_out, rec.out_of_memory) == (cold, restored, timed_out, oom)
    assert (rec.init_ms, rec.restore_ms, rec.billed_restore_ms) == (init_ms, restore_ms, billed_restore_ms)


def test_a_step_counts_each_kind_of_record_apart() -> None:
    lines = [COLD_TEXT, WARM_TEXT, SNAP_TEXT, TIMEOUT_TEXT, OOM_TEXT, ERROR_TEXT,
             json_report({**BASE, "restoreDurationMs": 500.0, "billedRestoreDurationMs": 53}),
             json_report(BASE, "timeout"), json_report({**BASE, "initDurationMs": 187.6})]
    records = [parse_event(line, MS, "s/[1]x") for line in lines]
    metrics = step_metrics([r for r in records if r is not None])
    assert metrics[Metric.COLD_STARTS] == 4 and metrics[Metric.RESTORES] == 2
    assert metrics[Metric.INIT_AVG] == pytest.approx((812.4 + 187.6) / 2)  # restores are not inits
    assert metrics[Metric.INIT_SUM] == pytest.approx(1000.0) and metrics[Metric.INIT_MAX] == 812.4
    assert metrics[Metric.RESTORE_AVG] == pytest.approx((290.43 + 500.0) / 2) and metrics[Metric.RESTORE_MAX] == 500.0
    assert metrics[Metric.BILLED_RESTORE_SUM] == 98 + 53
    assert metrics[Metric.TIMEOUTS] == 2 and metrics[Metric.OOM_KILLS] == 1


def test_timeouts_join_the_emf_count_and_leave_lambdas_errors() -> None:
    at = T0
    cloudwatch = [MetricPoint("fn", Metric.TIMEOUTS, at, 60, 1.0), MetricPoint("fn", Metric.SERVER_ERRORS, at, 60, 5.0),
                  MetricPoint("fn:live", Metric.SERVER_ERRORS, at, 60, 1.0),
                  MetricPoint("fn", Metric.SERVER_ERRORS, at + timedelta(minutes=1), 60, 0.0)]
    logs = [MetricPoint("fn", Metric.TIMEOUTS, at, 60, 2.0), MetricPoint("fn:live", Metric.TIMEOUTS, at, 60, 2.0),
            MetricPoint("fn", Metric.TIMEOUTS, at + timedelta(minutes=1), 60, 0.0),
            MetricPoint("fn", Metric.COLD_STARTS, at, 60, 1.0)]
    merged = {(p.deployment, p.metric, p.start): p.value for p in merge_log_counts(cloudwatch, logs)}
    assert len(merged) == 7
    assert merged[("fn", Metric.TIMEOUTS, at)] == 3 and merged[("fn", Metric.SERVER_ERRORS, at)] == 3
    assert merged[("fn:live", Metric.TIMEOUTS, at)] == 2 and merged[("fn:live", Metric.SERVER_ERRORS, at)] == 0
    assert merged[("fn", Metric.COLD_STARTS, at)] == 1


def test_text_report_cold_start() -> None:
    rec = parse_event(COLD_TEXT, MS, "2026/11/24/[7]abcdef")
    assert rec is not None and rec.cold_start
    assert (rec.version, rec.duration_ms, rec.billed_ms, rec.memory_mb, rec.max_memory_mb, rec.init_ms) == (
        "7", 102.25, 103.0, 512.0, 131.0, 812.4)


def test_text_report_warm_and_latest_stream() -> None:
    rec = parse_event(WARM_TEXT, MS, "2026/11/24/[$LATEST]abcdef")
    assert rec is not None and not rec.cold_start and rec.version == "$LATEST" and rec.init_ms is None


def test_snapstart_restore_is_a_cold_start_and_billed_restore_is_not_the_duration() -> None:
    rec = parse_event(SNAP_TEXT, MS, "s/[3]x")
    assert rec is not None and rec.cold_start and rec.restored and rec.init_ms is None
    assert rec.restore_ms == 290.43 and rec.billed_restore_ms == 98.0 and rec.billed_ms == 3.0


def test_json_platform_report() -> None:
    rec = parse_event(json_report({"durationMs": 102.25, "billedDurationMs": 103, "memorySizeMB": 512,
                                   "maxMemoryUsedMB": 131, "initDurationMs": 812.4}), MS, "s/[2]x")
    assert rec is not None and rec.cold_start and rec.init_ms == 812.4 and rec.version == "2"
    warm = parse_event(json_report({"durationMs": 1.0, "billedDurationMs": 2, "memorySizeMB": 512,
                                    "maxMemoryUsedMB": 99}), MS, "s/[2]x")
    assert warm is not None and not warm.cold_start


def test_init_reports_are_init_time_not_invocations() -> None:
    text = parse_event("INIT_REPORT Init Duration: 1234.56 ms Phase: init Status: success", MS, "s/[4]x")
    js = parse_event(json.dumps({"type": "platform.initReport", "record": {
        "initializationType": "snap-start", "phase": "init", "metrics": {"durationMs": 999.0}}}), MS, "s/[4]x")
    assert text is not None and text.kind == "init" and text.init_ms == 1234.56 and not text.cold_start
    assert js is not None and js.kind == "init" and js.init_ms == 999.0
    metrics = step_metrics([text, js])
    assert metrics[Metric.COLD_STARTS] == 0 and metrics[Metric.INIT_SUM] == pytest.approx(2233.56)
    assert Metric.BILLED_DURATION_SUM not in metrics  # no invocation in the step


@pytest.mark.parametrize("line", ["START RequestId: x Version: $LATEST", "END RequestId: x", "hello",
                                  '{"_aws": {"Timestamp": 1}, "LatencyMs": 3}', "{not json"])
def test_other_lines_are_ignored(line: str) -> None:
    assert parse_event(line, MS, "s") is None


@pytest.mark.parametrize("line", ["REPORT RequestId: x Duration: 1 ms", json.dumps({"type": "platform.report",
                                  "record": {}}), "INIT_REPORT Phase: init"])
def test_truncated_records_raise_naming_the_problem(line: str) -> None:
    with pytest.raises(LogRecordError):
        parse_event(line, MS, "s")


def test_version_of_stream() -> None:
    assert version_of_stream("2026/11/24/[12]0123abc") == "12"
    assert version_of_stream("no-brackets") == "$LATEST"


def test_step_metrics_mix() -> None:
    recs = [parse_event(m, MS, "s/[1]x") for m in (COLD_TEXT, WARM_TEXT, SNAP_TEXT)]
    metrics = step_metrics([r for r in recs if r is not None])
    assert metrics[Metric.COLD_STARTS] == 2 and metrics[Metric.RESTORES] == 1
    assert metrics[Metric.INIT_MAX] == 812.4 and metrics[Metric.INIT_AVG] == 812.4
    assert metrics[Metric.BILLED_DURATION_SUM] == 103 + 5 + 3
    assert metrics[Metric.MEMORY_CONFIGURED] == 1024 and metrics[Metric.MEMORY_MAX_USED] == 140


def test_to_points_whole_function_and_versions_with_zero_cold_starts() -> None:
    recs = [parse_event(COLD_TEXT, MS + 1000, "s/[1]x"), parse_event(WARM_TEXT, MS + 61_000, "s/[2]x")]
    steps = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    points = to_points([r for r in recs if r is not None], {"1": ["fn:live"]}, "fn", steps, 60)
    cold = {(p.deployment, p.start): p.value for p in points if p.metric == Metric.COLD_STARTS}
    assert cold == {("fn", steps[0]): 1, ("fn", steps[1]): 0, ("fn", steps[2]): 0,
                    ("fn:live", steps[0]): 1, ("fn:live", steps[1]): 0, ("fn:live", steps[2]): 0}


def test_filter_log_events_pages_over_moto_and_keeps_the_window() -> None:
    moto, door = shared()
    group = "/aws/lambda/logs-paging"
    events = [(T0 + timedelta(seconds=i), WARM_TEXT) for i in range(10)]
    events += [(T0 + timedelta(seconds=5), "START RequestId: x"), (T0 + timedelta(minutes=2), COLD_TEXT)]
    put_log_lines(moto.endpoint, group, "2026/11/24/[1]aaa", events)
    put_log_lines(moto.endpoint, group, "2026/11/24/[2]bbb", [(T0 + timedelta(seconds=30), COLD_TEXT)])
    reader = LogsReader(boto_client("logs", door.endpoint), page_size=3)
    warnings: list[str] = []
    records = reader.fetch_records(group, T0, T0 + timedelta(minutes=1), warnings)
    assert len(records) == 11 and warnings == []  # the minute-2 record is outside [start, end)
    assert reader.calls >= 4  # 12 events in pages of 3
    assert sorted({r.version for r in records}) == ["1", "2"]


def test_missing_log_group_is_no_data() -> None:
    _, door = shared()
    reader = LogsReader(boto_client("logs", door.endpoint))
    assert reader.fetch_records("/aws/lambda/never-ran", T0, T0 + timedelta(minutes=1), []) == []


def test_throttling_is_translated_with_cause() -> None:
    # Stubber: the real client, its model checks the request; the error shape is the one Logs sends.
    _, door = shared()
    client = boto_client("logs", door.endpoint)
    with Stubber(client) as stub:
        stub.add_client_error("filter_log_events", service_error_code="ThrottlingException", http_status_code=400)
        with pytest.raises(ProviderThrottledError) as info:
            LogsReader(client).fetch_records("/aws/lambda/x", T0, T0 + timedelta(minutes=1), [])
    assert isinstance(info.value.__cause__, ClientError)
