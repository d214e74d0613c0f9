"""No instance process survives the emulator: stop, exceptions, SIGTERM / SIGINT / SIGKILL of its parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from reference_service.emulator import DeploymentConfig, Emulator, FaultConfig, ServiceConfig
from reference_service.loadgen import LoadProfile, LoadResult, run_load

ROOT = Path(__file__).resolve().parents[2]
BODY = json.dumps({"instances": [[14.0, 19.0, 91.0, 650.0, 0.096, 0.1, 0.09, 0.05, 0.18, 0.063, 0.4, 1.2, 2.9,
                                  40.0, 0.007, 0.025, 0.03, 0.011, 0.02, 0.0038, 16.0, 25.0, 107.0, 880.0, 0.13,
                                  0.25, 0.27, 0.11, 0.29, 0.084]]}).encode()

PARENT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    BODY = json.dumps({"instances": [[0.5] * 30]}).encode()
    from reference_service.emulator import DeploymentConfig, Emulator, ServiceConfig

    services = [ServiceConfig("svc", (DeploymentConfig("a", min_instances=1, keep_alive_s=60),
                                      DeploymentConfig("b", keep_alive_s=60)))]
    with Emulator(Path(sys.argv[1]), services) as emu:
        emu.invoke("svc", BODY, deployment="b")  # one prewarmed and one on-demand instance
        print(json.dumps(emu.child_pids()), flush=True)
        while True:
            time.sleep(0.1)
    """
)


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)  # exited; only init may reap it
    except psutil.NoSuchProcess:
        return True


def _all_gone(pids: list[int], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(_gone(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return all(_gone(pid) for pid in pids)


def _services() -> list[ServiceConfig]:
    return [ServiceConfig("svc", (DeploymentConfig("a", min_instances=1, keep_alive_s=60.0, concurrency=1),))]


def test_stop_reaps_every_instance(tmp_path: Path) -> None:
    emu = Emulator(tmp_path, _services(), frontdoor=False).start()
    try:
        emu.invoke("svc", BODY)
        assert emu.invoke("svc", BODY).status == 200
        pids = emu.child_pids()
        assert len(pids) == 1
    finally:
        emu.stop()
    assert emu.child_pids() == []
    assert _all_gone(pids, timeout_s=0.5)
    emu.stop()  # idempotent


def test_an_exception_in_the_with_block_still_stops_everything(tmp_path: Path) -> None:
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="boom"), Emulator(tmp_path, _services()) as emu:
        pids = emu.child_pids()
        raise RuntimeError("boom")
    assert len(pids) == 1 and _all_gone(pids, timeout_s=0.5)


def _default_sigint() -> None:
    """Children start with Ctrl-C's default action: a shell running the suite in the background
    (``cmd &`` without job control) makes SIGINT ignored, and children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_no_instance_survives_its_parent(tmp_path: Path, sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)], stdout=subprocess.PIPE, env=env,
                              cwd=tmp_path, preexec_fn=_default_sigint)  # noqa: PLW1509  one signal call, no locks
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        pids = json.loads(line)
        assert len(pids) == 2 and all(not _gone(pid) for pid in pids)
        parent.send_signal(sig)
        parent.wait(timeout=20)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    if sig != signal.SIGKILL:
        # an orderly stop: every instance drained and was reaped before the parent exited
        assert parent.returncode in (128 + sig, -sig, 1, 130)
        assert all(_gone(pid) for pid in pids)
    # SIGKILL leaves no chance to clean up: the kernel's parent-death signal stops the instances
    assert _all_gone(pids)


def test_the_command_serves_until_interrupted_and_leaves_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "reference_service.emulator", "--home", str(tmp_path),
                             "--min-instances", "1", "--canary-weight", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, cwd=tmp_path, preexec_fn=_default_sigint)  # noqa: PLW1509
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("LISTENING http://127.0.0.1:")
        url = line.split()[1]
        with urllib.request.urlopen(urllib.request.Request(f"{url}/services/scorer/predict", data=BODY,
                                                           method="POST"), timeout=30) as response:
            assert json.loads(response.read())["model_version"] == "v1"
        with urllib.request.urlopen(f"{url}/status", timeout=30) as response:
            status = json.loads(response.read())
        pids = [i["pid"] for d in status["deployments"] for i in d["instances"]]
        assert len(pids) == 1
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=20) in (130, -signal.SIGINT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert all(_gone(pid) for pid in pids)


def test_the_command_names_a_bad_setting(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "reference_service.emulator", "--home", str(tmp_path),
                             "--canary-weight", "2"], check=False, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2 and "scorer.weights" in result.stderr


def _instance_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "reference_service.server_cloudrun" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def test_stopping_under_load_while_instances_are_starting_leaves_nothing(tmp_path: Path) -> None:
    services = [ServiceConfig("svc", (DeploymentConfig("busy", concurrency=1, max_instances=6, keep_alive_s=60.0,
                                                       faults=FaultConfig(slow_rate=1.0, slow_ms=300.0)),))]
    stop_load = threading.Event()
    results: list[LoadResult] = []
    emu = Emulator(tmp_path, services).start()
    url = emu.service_url("svc")
    loader = threading.Thread(target=lambda: results.append(
        run_load(url, LoadProfile(rate_per_s=40, duration_s=30, timeout_s=20), stop_load)))
    loader.start()
    try:
        assert _wait_for_starting(emu)  # stop while some instance is in the middle of its cold start
    finally:
        emu.stop()
        stop_load.set()
        loader.join(timeout=60)
    assert _instance_children() == []
    assert results and results[0].sent_count > 0
    assert emu.stats().deployment("busy").instances_started_count >= 2


def _wait_for_starting(emu: Emulator, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = [i.state for i in emu.stats().deployment("busy").instances]
        if "starting" in states and "ready" in states:
            return True
        time.sleep(0.01)
    return False
