"""Emulator benchmark: what the emulator adds on top of the instance, measured against it in the same run.

1. Front-door overhead: p50/p95 latency of POST /services/<s>/predict through the front door against a
   POST /predict straight to the same warm instance (ratio and added ms).
2. Cold start: spawn -> READY of a fresh instance (emulator-measured) and the server's own InitMs, against
   a warm request (ratio: how much a cold start costs in warm requests).
3. Load generator fidelity: achieved arrival rate against the requested Poisson rate.

Run by hand: ``.venv/bin/python bench/emulator_overhead.py``; writes bench/results/emulator_overhead.json.
"""

from __future__ import annotations

import http.client
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reference_service.emulator import DeploymentConfig, Emulator, ServiceConfig
from reference_service.loadgen import LoadProfile, run_load

RESULTS = ROOT / "bench" / "results" / "emulator_overhead.json"
ROW = [14.0, 19.0, 91.0, 650.0, 0.096, 0.1, 0.09, 0.05, 0.18, 0.063, 0.4, 1.2, 2.9, 40.0, 0.007, 0.025,
       0.03, 0.011, 0.02, 0.0038, 16.0, 25.0, 107.0, 880.0, 0.13, 0.25, 0.27, 0.11, 0.29, 0.084]
BODY = json.dumps({"instances": [ROW]}).encode()
WARM_REQUESTS = 400
COLD_STARTS = 6


def _post_ms(conn: http.client.HTTPConnection, path: str) -> float:
    start = time.perf_counter()
    conn.request("POST", path, body=BODY, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}")
    return (time.perf_counter() - start) * 1000.0


def _latencies(port: int, path: str) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(20):  # warm-up
            _post_ms(conn, path)
        return [_post_ms(conn, path) for _ in range(WARM_REQUESTS)]
    finally:
        conn.close()


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 3)


def bench_front_door(home: Path) -> dict[str, Any]:
    services = [ServiceConfig("svc", (DeploymentConfig("warm", min_instances=1, max_instances=1),))]
    with Emulator(home / "frontdoor", services) as emu:
        instance = emu.stats().deployment("warm").instances[0]
        assert instance.port is not None and emu.url is not None
        front_port = int(emu.url.rsplit(":", 1)[1])
        # interleave the two so that machine noise hits both alike
        direct: list[float] = []
        front: list[float] = []
        for _ in range(2):
            direct += _latencies(instance.port, "/predict")
            front += _latencies(front_port, "/services/svc/predict")
    return {
        "requests_each": len(direct),
        "direct_p50_ms": _pct(direct, 50), "direct_p95_ms": _pct(direct, 95),
        "front_door_p50_ms": _pct(front, 50), "front_door_p95_ms": _pct(front, 95),
        "added_p50_ms": round(_pct(front, 50) - _pct(direct, 50), 3),
        "ratio_p50": round(_pct(front, 50) / _pct(direct, 50), 3),
    }


def bench_cold_start(home: Path) -> dict[str, Any]:
    services = [ServiceConfig("svc", (DeploymentConfig("cold", keep_alive_s=0.0),))]
    cold_total: list[float] = []
    with Emulator(home / "cold", services, frontdoor=False, tick_s=0.02) as emu:
        for _ in range(COLD_STARTS):
            start = time.perf_counter()
            result = emu.invoke("svc", BODY)
            cold_total.append((time.perf_counter() - start) * 1000.0)
            assert result.cold_start and result.status == 200
            while emu.stats().deployment("cold").instances:  # wait for scale to zero
                time.sleep(0.02)
        stats = emu.stats().deployment("cold")
    init_ms = [json.loads(line)["InitMs"] for path in (home / "cold" / "telemetry" / "cold").glob("*.jsonl")
               for line in path.read_text().splitlines() if json.loads(line)["ColdStart"] == 1]
    return {
        "cold_starts": len(stats.cold_start_ms),
        "spawn_to_ready_p50_ms": round(statistics.median(stats.cold_start_ms), 1),
        "server_init_ms_p50": round(statistics.median(init_ms), 1),
        "cold_request_p50_ms": round(statistics.median(cold_total), 1),
        "max_memory_used_mb": stats.max_memory_used_mb,
    }


def bench_loadgen(home: Path) -> dict[str, Any]:
    services = [ServiceConfig("svc", (DeploymentConfig("load", min_instances=1, concurrency=16),))]
    rate = 100.0
    with Emulator(home / "load", services) as emu:
        result = run_load(emu.service_url("svc"), LoadProfile(rate_per_s=rate, duration_s=5.0, seed=1))
    return {
        "requested_rate_per_s": rate, "achieved_rate_per_s": round(result.sent_count / 5.0, 1),
        "ratio": round(result.sent_count / 5.0 / rate, 3), "ok": result.outcomes["ok"],
        "skipped": result.outcomes["skipped"], "client_p50_ms": result.latency_ms_p50,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        front = bench_front_door(home)
        cold = bench_cold_start(home)
        load = bench_loadgen(home)
    cold["cold_over_warm_p50_ratio"] = round(cold["cold_request_p50_ms"] / front["front_door_p50_ms"], 1)
    results = {
        "benchmark": "emulator_overhead",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(),
                    "platform": platform.platform()},
        "front_door": front, "cold_start": cold, "load_generator": load,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
