"""The probe's window lines through Cloud Logging (the real LoggingServiceV2Client over gRPC to the
in-process stand-in) to class and input-feature drift per Cloud Run revision: real lines from a real
skl2onnx model served inside the real probe, as Cloud Run's stdout makes them structured entries."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from collectors.base import CollectorContext
from collectors.gcp import check
from collectors.gcp_logging import plain
from drift import Status, WindowCounts, compare, merge_all
from inferwatch.config import parse_settings
from inferwatch.schema import Metric, ModelKey
from tests.collectors.gcp_standin import (
    FAST_RETRY,
    LIST_LOG_ENTRIES,
    PROJECT,
    REGION,
    REV_A,
    SERVICE,
    STEP,
    TARGET,
    GcpStandIn,
    make_collector,
    running,
    seed,
)
from tests.collectors.probe_lines import BASELINE_ID, VERSION, cloud_run_lines, model, shifted


def _lookups() -> dict[str, Any]:
    m = model()

    def baselines(key: ModelKey) -> tuple[str, Any] | None:
        return (BASELINE_ID, m.baseline) if key.model_version == VERSION else None

    def probe_bins(sha256: str) -> dict[str, Any] | None:
        return {"baseline_id": BASELINE_ID, "content": m.bins} if sha256 == m.bins_sha256 else None

    return {"baselines": baselines, "probe_bins": probe_bins}


def _entries(standin: GcpStandIn, lines: list[str], revision: str, at: datetime) -> None:
    for i, line in enumerate(lines):
        doc = json.loads(line)
        assert doc["severity"] and doc["message"]  # what makes Cloud Logging keep it as a jsonPayload
        standin.add_entry(at + timedelta(seconds=i), revision, doc, service=SERVICE, region=REGION)


def test_class_and_every_feature_drift_per_revision_from_cloud_logging(tmp_path: Path) -> None:
    m = model()
    bins = tmp_path / "bins.json"
    bins.write_bytes(m.bins)
    rows = np.concatenate([m.x, m.x])[:600]
    now = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=3, seconds=5)
    step = now.replace(second=0) - timedelta(minutes=3)
    with running(GcpStandIn(page_size=2)) as standin:
        seed(standin)
        _entries(standin, cloud_run_lines(bins, shifted(rows), service=SERVICE, revision=REV_A, windows=3),
                 REV_A, step + timedelta(seconds=5))
        _entries(standin, ['{"severity":"INFO","message":"GET /predict 200"}'], REV_A, step)  # not a window line
        batch = make_collector(standin, lookback_s=600, **_lookups()).collect(now, None)
        request = standin.calls_of(LIST_LOG_ENTRIES)[0]
    parts: dict[str, list[WindowCounts]] = defaultdict(list)
    revision = TARGET.revision_id(REV_A)
    for h in batch.histograms:
        if h.deployment == revision:
            parts[h.signal].append(WindowCounts.from_dict(h.counts))
    windows = {signal: merge_all(items) for signal, items in parts.items()}
    assert set(windows) == {"score", "class", *(f"feature:{n}" for n in m.feature_names)}
    assert {w.total_count for w in windows.values()} == {600}
    drifted = {r.signal for r in compare(m.baseline, [windows]).results if r.status is Status.DRIFT}
    assert "class" in drifted and len([s for s in drifted if s.startswith("feature:")]) >= 25
    got = {(p.deployment, p.metric, p.start): p.value for p in batch.points}
    assert got[(revision, Metric.ROWS, step)] == 600  # from the window lines
    assert 'jsonPayload.schema="inferwatch.window/1"' in request.filter and request.resource_names == [
        f"projects/{PROJECT}"]
    assert not [w for w in batch.warnings if "unreadable" in w]


def test_config_check_says_whether_window_lines_arrived(tmp_path: Path) -> None:
    settings = parse_settings({"deployments": [
        {"provider": "gcp", "project": PROJECT, "region": REGION, "service_name": SERVICE}]})
    with running(GcpStandIn()) as standin:
        seed(standin)
        ctx = CollectorContext(home=tmp_path, endpoints={"gcp": standin.address})
        [before] = check(settings, ctx, retry=FAST_RETRY)
        standin.add_entry(datetime.now(UTC) - timedelta(minutes=5), REV_A,
                          {"schema": "inferwatch.window/1", "kind": "window"}, service=SERVICE, region=REGION)
        [after] = check(settings, ctx, retry=FAST_RETRY)
    assert before.ok and "no probe window line in the last hour" in before.detail
    assert after.ok and "1 probe window line(s) in the last hour" in after.detail


def test_struct_numbers_come_back_as_the_probe_wrote_them() -> None:
    assert plain({"a": 3.0, "b": [1.0, 0.5], "c": {"d": 2.0}}) == {"a": 3, "b": [1, 0.5], "c": {"d": 2}}
    assert STEP == 60


def test_cloud_monitoring_waits_for_its_interval_when_window_lines_arrive(tmp_path: Path) -> None:
    m = model()
    bins = tmp_path / "bins.json"
    bins.write_bytes(m.bins)
    now = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=3, seconds=5)
    step = now.replace(second=0) - timedelta(minutes=3)
    recent = {"complete_until": int(step.timestamp()), "cloud_complete_until": int(step.timestamp()),
              "window_lines_seen_at": int(step.timestamp())}
    with running(GcpStandIn()) as standin:
        seed(standin)
        _entries(standin, cloud_run_lines(bins, m.x[:40], service=SERVICE, revision=REV_A, windows=1), REV_A,
                 step + timedelta(seconds=5))
        collector = make_collector(standin, lookback_s=600, cloud_metrics_interval_s=3600, **_lookups())
        batch = collector.collect(now, recent)
        skipped = len(standin.calls_of("/google.monitoring.v3.MetricService/ListTimeSeries"))
        standin.calls.clear()
        later = collector.collect(now + timedelta(hours=1), batch.cursor)
        read = len(standin.calls_of("/google.monitoring.v3.MetricService/ListTimeSeries"))
    got = {(p.deployment, p.metric, p.start): p.value for p in batch.points}
    assert skipped == 0 and got[(TARGET.revision_id(REV_A), Metric.INVOCATIONS, step)] == 40  # the probe's count
    assert batch.cursor["cloud_complete_until"] == int(step.timestamp())
    assert read > 0 and later.cursor["cloud_complete_until"] > batch.cursor["cloud_complete_until"]
    assert later.cursor["window_lines_seen_at"] == batch.cursor["window_lines_seen_at"]  # idle, still remembered


def test_pages_are_followed_a_bad_line_costs_itself_and_a_denied_read_names_its_permission(tmp_path: Path) -> None:
    from collectors.errors import ProviderAuthError
    from collectors.gcp_client import connect
    from collectors.gcp_logging import fetch_window_entries

    m = model()
    bins = tmp_path / "bins.json"
    bins.write_bytes(m.bins)
    now = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=3, seconds=5)
    step = now.replace(second=0) - timedelta(minutes=3)
    with running(GcpStandIn()) as standin:
        seed(standin)
        standin.log_page_cap = 2
        _entries(standin, cloud_run_lines(bins, m.x[:50], service=SERVICE, revision=REV_A, windows=5), REV_A,
                 step + timedelta(seconds=5))
        standin.add_entry(step + timedelta(seconds=30), REV_A, {"schema": "inferwatch.window/1", "kind": "window"},
                          service=SERVICE, region=REGION)  # off the contract: members missing
        batch = make_collector(standin, lookback_s=600, **_lookups()).collect(now, None)
        pages = len(standin.calls_of(LIST_LOG_ENTRIES))
        standin.denied.add(LIST_LOG_ENTRIES)
        clients = connect(CollectorContext(home=tmp_path, endpoints={"gcp": standin.address}))
        with pytest.raises(ProviderAuthError) as denied:
            fetch_window_entries(clients.logging, TARGET, step, now, retry=FAST_RETRY, timeout_s=5.0)
    assert pages == 3  # six entries, two a page
    got = {(p.deployment, p.metric, p.start): p.value for p in batch.points}
    assert got[(TARGET.revision_id(REV_A), Metric.ROWS, step)] == 50
    assert [w for w in batch.warnings if "1 unreadable window line(s)" in w]
    assert denied.value.action == "logging.logEntries.list" and "ListLogEntries" in str(denied.value)
