"""The load generator against the real emulator: outcome counts, malformed share, drift seen in telemetry."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reference_service.emulator import DeploymentConfig, Emulator, FaultConfig, ServiceConfig
from reference_service.emulator.inputs import InputSampler
from reference_service.loadgen import DriftSpec, LoadProfile, LoadResult, main, run_load

DRIFT_AFTER_S = 1.5
SHIFT_SD = 3.0
MALFORMED = 0.2


def _telemetry(home: Path, deployment: str) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted((home / "telemetry" / deployment).glob("*.jsonl"))
            for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadResult, list[dict[str, Any]], float]:
    home = tmp_path_factory.mktemp("loadgen")
    services = [ServiceConfig("svc", (DeploymentConfig("load", min_instances=1, concurrency=32),))]
    profile = LoadProfile(rate_per_s=80, duration_s=3.0, rows_min=1, rows_max=4, malformed_fraction=MALFORMED,
                          drift=DriftSpec(DRIFT_AFTER_S, ("mean radius",), SHIFT_SD), seed=5, max_in_flight=32)
    with Emulator(home, services) as emu:
        started_ms = time.time() * 1000.0
        result = run_load(emu.service_url("svc"), profile)
    return result, _telemetry(home, "load"), started_ms


def test_counts_by_outcome_add_up(run: tuple[LoadResult, list[dict[str, Any]], float]) -> None:
    result, lines, _ = run
    assert result.sent_count > 180 and result.outcomes["skipped"] == 0
    answered = sum(v for k, v in result.outcomes.items() if k != "skipped")
    assert answered == result.sent_count
    assert result.outcomes["ok"] == result.sent_count - result.malformed_sent_count
    assert len(lines) == result.sent_count  # every request reached an instance and was logged once
    assert sum(line["Rows"] for line in lines if line["Status"] == "ok") == (
        result.rows_sent_count - result.malformed_sent_count)
    assert result.latency_ms_p50 is not None and 0 < result.latency_ms_p50 <= result.latency_ms_p95  # type: ignore[operator]
    assert 2.5 < result.elapsed_s < 10


def test_malformed_share_is_as_configured_and_every_one_is_refused(
        run: tuple[LoadResult, list[dict[str, Any]], float]) -> None:
    result, lines, _ = run
    n, hits = result.sent_count, result.malformed_sent_count
    assert abs(hits - n * MALFORMED) <= 4.5 * math.sqrt(n * MALFORMED * (1 - MALFORMED))
    assert result.malformed_rejected_count == hits == result.outcomes["client_error"]
    assert result.valid_rejected_count == 0
    assert sum(line["ClientError"] for line in lines) == hits


def test_drift_shift_is_observable_in_the_telemetry(run: tuple[LoadResult, list[dict[str, Any]], float]) -> None:
    result, lines, started_ms = run
    switch_ms = started_ms + DRIFT_AFTER_S * 1000.0
    std = InputSampler.from_model_dir("v1").std
    values: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    for line in lines:
        if line["Status"] != "ok" or not line.get("InputSummary"):
            continue
        ts = line["_aws"]["Timestamp"]
        phase = "before" if ts < switch_ms - 100 else "after" if ts > switch_ms + 500 else None
        if phase is None:
            continue
        for name in ("mean radius", "mean texture"):
            values[phase].setdefault(name, []).extend(line["InputSummary"][name])
    moved = {name: (np.mean(values["after"][name]) - np.mean(values["before"][name])) / std[index]
             for index, name in ((0, "mean radius"), (1, "mean texture"))}
    assert moved["mean radius"] == pytest.approx(SHIFT_SD, abs=0.6)
    assert abs(moved["mean texture"]) < 0.6
    assert 0 < result.drifted_sent_count < result.sent_count - result.malformed_sent_count


def test_stop_event_ends_the_run_early(tmp_path: Path) -> None:
    services = [ServiceConfig("svc", (DeploymentConfig("stop", min_instances=1),))]
    stop = threading.Event()
    with Emulator(tmp_path, services) as emu:
        # 1.5 s: the run's own set-up (the input sampler, its workers) must not eat the whole budget
        # on a busy machine, or the stop lands before the first request
        threading.Timer(1.5, stop.set).start()
        result = run_load(emu.service_url("svc"), LoadProfile(rate_per_s=50, duration_s=60), stop)
    assert result.elapsed_s < 5 and 5 < result.sent_count < 250  # 60 s at 50/s would be ~3,000
    assert result.outcomes["ok"] == result.sent_count


def test_bursts_send_that_many_requests_at_once(tmp_path: Path) -> None:
    """The demo's fan-out: with the Poisson rate negligible, only the bursts arrive, each at one instant,
    and beyond one warm instance's slots they spill over to instances started on demand."""
    slow = FaultConfig(slow_rate=1.0, slow_ms=300.0)  # so the requests of a burst overlap on any machine
    services = [ServiceConfig("svc", (DeploymentConfig("burst", min_instances=1, concurrency=2, faults=slow),))]
    profile = LoadProfile(rate_per_s=0.001, duration_s=1.6, burst_every_s=0.5, burst_size=6, seed=3)
    with Emulator(tmp_path, services) as emu:
        result = run_load(emu.service_url("svc"), profile)
        stats = emu.stats().deployment("burst")
    assert result.sent_count == 18 and result.outcomes["ok"] == 18, result  # at 0.5, 1.0 and 1.5 s
    lines = _telemetry(tmp_path, "burst")
    assert len(lines) == 18
    # the warm instance holds 2 of each burst at most; the others were started on demand for the first
    assert sum(line.get("Prewarmed", 0) for line in lines) <= 6 and stats.cold_start_count >= 2


def test_an_unreachable_target_counts_connection_errors(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_load(f"http://127.0.0.1:{port}/predict", LoadProfile(rate_per_s=100, duration_s=5, max_requests=10))
    assert result.outcomes["connection_error"] == result.sent_count == 10
    assert result.latency_ms_p50 is None  # nothing answered: an explicit empty state, not NaN
    bursts = LoadProfile(rate_per_s=0.001, duration_s=5, burst_every_s=0.2, burst_size=4, max_requests=6)
    assert run_load(f"http://127.0.0.1:{port}/predict", bursts).sent_count == 6  # stops mid-burst


def test_cli_prints_the_result_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    services = [ServiceConfig("svc", (DeploymentConfig("cli", min_instances=1),))]
    with Emulator(tmp_path, services) as emu:
        code = main([emu.service_url("svc"), "--rate", "50", "--duration", "5", "--max-requests", "10",
                     "--rows", "2-3", "--malformed", "0", "--drift-after", "0", "--drift-features",
                     "mean radius,worst area", "--drift-sd", "1"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["sent_count"] == 10 and out["outcomes"]["ok"] == 10
    assert out["drifted_sent_count"] == 10 and 20 <= out["rows_sent_count"] <= 30
