"""Emulator scaling with real instance processes: cold starts, concurrency, keep-alive, min instances, OOM."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from reference_service.emulator import (
    DeploymentConfig,
    Emulator,
    FaultConfig,
    InstanceLostError,
    InstanceStartError,
    InvokeResult,
    ServiceConfig,
    ThrottledError,
)

ROW = [14.0, 19.0, 91.0, 650.0, 0.096, 0.1, 0.09, 0.05, 0.18, 0.063, 0.4, 1.2, 2.9, 40.0, 0.007, 0.025,
       0.03, 0.011, 0.02, 0.0038, 16.0, 25.0, 107.0, 880.0, 0.13, 0.25, 0.27, 0.11, 0.29, 0.084]
BODY = json.dumps({"instances": [ROW]}).encode()


def _one(deployment: DeploymentConfig) -> list[ServiceConfig]:
    return [ServiceConfig("svc", (deployment,))]


def _telemetry(home: Path, deployment: str) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted((home / "telemetry" / deployment).glob("*.jsonl"))
            for line in path.read_text().splitlines() if line.strip()]


def _wait_for(predicate: Any, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def _parallel(emu: Emulator, n: int) -> list[InvokeResult | Exception]:
    barrier = threading.Barrier(n)
    results: list[InvokeResult | Exception] = [RuntimeError("not run")] * n

    def call(i: int) -> None:
        barrier.wait()
        try:
            results[i] = emu.invoke("svc", BODY)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each caller got
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_first_request_is_a_measured_cold_start_then_warm(tmp_path: Path) -> None:
    config = DeploymentConfig("cold", keep_alive_s=30.0, concurrency=1)
    with Emulator(tmp_path, _one(config), frontdoor=False) as emu:
        assert emu.child_pids() == []  # scaled to zero before any traffic
        first = emu.invoke("svc", BODY)
        second = emu.invoke("svc", BODY)
        stats = emu.stats().deployment("cold")
    assert first.status == 200 and second.status == 200
    assert first.cold_start and not second.cold_start
    assert first.instance_id == second.instance_id
    assert json.loads(first.body)["model_version"] == "v1"
    assert stats.instances_started_count == stats.cold_start_count == 1
    assert len(stats.cold_start_ms) == 1 and stats.cold_start_ms[0] > 0
    assert stats.max_memory_used_mb > 10  # sampled RSS of a real python + onnxruntime process
    lines = _telemetry(tmp_path, "cold")
    assert [line["ColdStart"] for line in lines] == [1, 0]
    # the server's InitMs (its own start -> model ready) fits inside the emulator's spawn -> READY
    assert 0 < lines[0]["InitMs"] <= stats.cold_start_ms[0] + 1.0
    assert lines[1]["InitMs"] == 0
    assert lines[0]["MaxMemoryUsedMb"] > 10 and lines[0]["MemoryMb"] == 512
    # the server's own peak (VmHWM, not ru_maxrss, which survives exec from a large parent) and the
    # emulator's sampled RSS describe the same process
    assert lines[-1]["MaxMemoryUsedMb"] == pytest.approx(stats.max_memory_used_mb, rel=0.25)


@pytest.mark.parametrize(("n", "concurrency"), [(5, 2), (3, 3)])
def test_parallel_requests_start_ceil_n_over_c_instances(tmp_path: Path, n: int, concurrency: int) -> None:
    config = DeploymentConfig("par", concurrency=concurrency, keep_alive_s=30.0,
                              faults=FaultConfig(slow_rate=1.0, slow_ms=150.0))
    with Emulator(tmp_path, _one(config), frontdoor=False) as emu:
        results = _parallel(emu, n)
        stats = emu.stats().deployment("par")
    assert all(isinstance(r, InvokeResult) and r.status == 200 for r in results), results
    served = [r for r in results if isinstance(r, InvokeResult)]
    per_instance: dict[str, int] = {}
    for r in served:
        per_instance[r.instance_id] = per_instance.get(r.instance_id, 0) + 1
    assert stats.instances_started_count == math.ceil(n / concurrency)
    assert len(per_instance) == math.ceil(n / concurrency)
    assert max(per_instance.values()) <= concurrency
    assert sum(r.cold_start for r in served) == math.ceil(n / concurrency)


def test_at_max_instances_extra_requests_are_throttled(tmp_path: Path) -> None:
    config = DeploymentConfig("thr", concurrency=1, max_instances=1, keep_alive_s=30.0,
                              faults=FaultConfig(slow_rate=1.0, slow_ms=400.0))
    with Emulator(tmp_path, _one(config), frontdoor=False) as emu:
        results = _parallel(emu, 3)
        stats = emu.stats().deployment("thr")
    throttled = [r for r in results if isinstance(r, ThrottledError)]
    served = [r for r in results if isinstance(r, InvokeResult)]
    assert len(served) == 1 and len(throttled) == 2
    assert stats.throttled_count == 2 and stats.instances_started_count == 1


def test_idle_instances_scale_to_zero_after_keep_alive(tmp_path: Path) -> None:
    config = DeploymentConfig("idle", keep_alive_s=0.4)
    with Emulator(tmp_path, _one(config), frontdoor=False, tick_s=0.05) as emu:
        first = emu.invoke("svc", BODY)
        pids = emu.child_pids()
        assert len(pids) == 1
        assert _wait_for(lambda: not emu.stats().deployment("idle").instances)
        assert _wait_for(lambda: _gone(pids[0]))
        again = emu.invoke("svc", BODY)  # from zero again: a new cold start
        stats = emu.stats().deployment("idle")
    assert first.cold_start and again.cold_start and again.instance_id != first.instance_id
    assert stats.scaled_down_count == 1 and stats.cold_start_count == 2


def test_min_instances_are_prewarmed_and_never_scaled_away(tmp_path: Path) -> None:
    config = DeploymentConfig("warm", min_instances=2, keep_alive_s=0.2)
    with Emulator(tmp_path, _one(config), frontdoor=False, tick_s=0.05) as emu:
        booted = emu.stats().deployment("warm")
        assert [i.state for i in booted.instances] == ["ready", "ready"]  # READY before any traffic
        assert all(i.prewarmed for i in booted.instances)
        result = emu.invoke("svc", BODY)
        time.sleep(0.6)  # three keep-alives
        later = emu.stats().deployment("warm")
    assert not result.cold_start
    assert later.prewarmed_count == 2 and later.cold_start_count == 0 and later.scaled_down_count == 0
    assert {i.instance_id for i in later.instances} == {i.instance_id for i in booted.instances}
    lines = _telemetry(tmp_path, "warm")
    assert len(lines) == 1 and lines[0]["ColdStart"] == 0 and lines[0]["InitMs"] == 0
    assert lines[0]["Prewarmed"] == 1  # served by warm capacity, which the local collector prices


def test_cold_starts_in_telemetry_equal_instances_started(tmp_path: Path) -> None:
    config = DeploymentConfig("count", concurrency=2, min_instances=1, keep_alive_s=0.3,
                              faults=FaultConfig(slow_rate=1.0, slow_ms=100.0))
    with Emulator(tmp_path, _one(config), frontdoor=False, tick_s=0.05) as emu:
        _parallel(emu, 5)  # 2 on the prewarmed instance, 3 need two more
        assert _wait_for(lambda: len(emu.stats().deployment("count").instances) == 1)
        _parallel(emu, 3)  # 2 on the survivor, 1 needs a new instance
        stats = emu.stats().deployment("count")
    lines = _telemetry(tmp_path, "count")
    assert len(lines) == 8 and all(line["Status"] == "ok" for line in lines)
    assert sum(line["ColdStart"] for line in lines) == stats.cold_start_count == 3
    assert stats.instances_started_count == stats.cold_start_count + stats.prewarmed_count == 4
    assert len(list((tmp_path / "telemetry" / "count").glob("*.jsonl"))) == 4  # one file per instance
    # The prewarmed instance served 2 + 2 of them; the three started on demand, the rest (spillover).
    for path in (tmp_path / "telemetry" / "count").glob("*.jsonl"):
        docs = [json.loads(line) for line in path.read_text().splitlines()]
        assert {d.get("Prewarmed", 0) for d in docs} == {1 - sum(d["ColdStart"] for d in docs)}
    assert sum(line.get("Prewarmed", 0) for line in lines) == 4


def test_an_instance_over_its_memory_is_oom_killed(tmp_path: Path) -> None:
    config = DeploymentConfig("oom", memory_mb=16, keep_alive_s=30.0)  # python + onnxruntime never fit
    with Emulator(tmp_path, _one(config), frontdoor=False, tick_s=0.02) as emu:
        with pytest.raises((InstanceStartError, InstanceLostError)) as info:
            emu.invoke("svc", BODY)
        stats = emu.stats().deployment("oom")
        pids = emu.child_pids()
    assert "out of memory" in str(info.value)
    assert stats.oom_kill_count >= 1 and stats.instances == ()
    assert all(_gone(pid) for pid in pids)


def test_an_instance_killed_mid_request_is_reported_and_replaced(tmp_path: Path) -> None:
    config = DeploymentConfig("crash", min_instances=1, keep_alive_s=30.0,
                              faults=FaultConfig(slow_rate=1.0, slow_ms=1500.0))
    with Emulator(tmp_path, _one(config), frontdoor=False, tick_s=0.05) as emu:
        victim = emu.child_pids()[0]
        threading.Timer(0.4, lambda: os.kill(victim, signal.SIGKILL)).start()
        with pytest.raises(InstanceLostError):
            emu.invoke("svc", BODY)
        assert _wait_for(lambda: emu.stats().deployment("crash").crash_count == 1)
        # min_instances is restored with a new prewarmed instance
        assert _wait_for(lambda: [i.state for i in emu.stats().deployment("crash").instances] == ["ready"])
        stats = emu.stats().deployment("crash")
    assert stats.instances_started_count == stats.prewarmed_count == 2
    assert _gone(victim)


def test_keep_alive_connections_the_instance_closed_are_replaced(tmp_path: Path) -> None:
    config = DeploymentConfig("stale", min_instances=1, timeout_s=0.5, keep_alive_s=30.0)
    with Emulator(tmp_path, _one(config), frontdoor=False) as emu:
        first = emu.invoke("svc", BODY)
        time.sleep(0.9)  # the server drops connections idle for longer than its request timeout
        second = emu.invoke("svc", BODY)
    assert first.status == second.status == 200
    assert first.instance_id == second.instance_id


def test_instances_get_their_config_not_the_parents_inferwatch_variables(tmp_path: Path) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()
    config = DeploymentConfig("env", extra_env={"INFERWATCH_MODEL_DIR": str(empty)})
    parent_env = {**os.environ, "INFERWATCH_SHADOW_VERSION": "v2", "INFERWATCH_FAULT_ERROR_RATE": "1",
                  "INFERWATCH_DEPLOYMENT": "not-this-one"}
    with Emulator(tmp_path / "home", _one(config), frontdoor=False, env=parent_env) as emu:
        result = emu.invoke("svc", BODY)
    answer = json.loads(result.body)
    assert result.status == 200 and answer["degraded"] is True  # model missing: a fallback, never a 500
    [line] = _telemetry(tmp_path / "home", "env")
    assert line["Deployment"] == "env" and line["Status"] == "degraded"
    assert "ShadowVersion" not in line


def test_extra_env_must_be_inferwatch_settings() -> None:
    from reference_service.emulator import ConfigError

    with pytest.raises(ConfigError) as info:
        DeploymentConfig("bad", extra_env={"LD_PRELOAD": "x"})
    assert info.value.field == "extra_env.LD_PRELOAD"
