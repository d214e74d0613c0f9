"""`inferwatch profile`'s projection against the emulator, measured in the same run on the same model.

The profile measures the model in fresh processes and projects it; on this machine a process has a full
core, which the projection equates with Lambda at 1,769 MB (one vCPU) and Cloud Run at 1 vCPU. The
emulator then serves the same model (one instance, one request at a time) and is measured as the baseline:

1. Warm latency: the projected p95 at 1,769 MB x86_64 against the p95 of ``LatencyMs`` the emulator's
   instance writes per request (the handler's time, what Lambda bills) and the client's p95 over HTTP.
2. Cold start: the projected cold start at 1,769 MB against the emulator's spawn -> READY plus the first
   request, and the instance's own ``InitMs``.
3. Throughput per instance: the profile's requests/s against requests/s sent one after another to the
   emulated instance over HTTP.
4. Memory: the profile's peak RSS against the emulator's ``max_memory_used_mb`` (sampled with psutil).

Ratios are projected / measured. Run by hand: ``.venv/bin/python bench/profile_projection.py`` (about a
minute and a half); writes bench/results/profile_projection.json. Two models: a small forest, where the
fixed cost of a request (JSON, the probe's telemetry line, HTTP) outweighs the model, and a wide MLP,
where the model's arithmetic does.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from costs.catalogue import load_catalogue
from costs.projection import ProjectionSettings, project
from reference_service.emulator import DeploymentConfig, Emulator, ServiceConfig
from shell.profile_run import ProfileRequest, run_profile

RESULTS = ROOT / "bench" / "results" / "profile_projection.json"
FEATURES = 8
WARM_REQUESTS = 600
COLD_STARTS = 4


def _forest(x: Any, y: Any) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=60, max_depth=10, random_state=16).fit(x, y)


def _mlp(x: Any, y: Any) -> Any:
    from sklearn.neural_network import MLPRegressor

    # three 1,536-wide layers: ~5M multiply-adds per row, so a request is mostly model time (fit barely:
    # what is measured is the arithmetic, not the accuracy)
    return MLPRegressor(hidden_layer_sizes=(1536, 1536, 1536), max_iter=2, random_state=16).fit(x[:300], y[:300])


MODELS = {"forest": ("random forest regressor, 60 trees, depth 10", _forest),
          "mlp": ("MLP regressor, 3 hidden layers of 1,536 (about 5M multiply-adds per row)", _mlp)}


def _model(folder: Path, name: str) -> tuple[Path, Path, list[str]]:
    """The model exported with skl2onnx, and its reference data (2,000 rows, 8 float features) as CSV."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    rng = np.random.default_rng(16)
    x = rng.normal(size=(2000, FEATURES))
    y = x @ rng.normal(size=FEATURES) + rng.normal(size=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MODELS[name][1](x, y)
        onnx = convert_sklearn(model, initial_types=[("X", FloatTensorType([None, FEATURES]))], target_opset=15)
    path = folder / f"{name}.onnx"
    path.write_bytes(onnx.SerializeToString())
    names = [f"f{j}" for j in range(FEATURES)]
    pd.DataFrame(x, columns=names).to_csv(folder / f"{name}.csv", index=False)
    return path, folder / f"{name}.csv", names


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 4)


def _bodies(data: Path, n: int) -> list[bytes]:
    rows = pd.read_csv(data).to_numpy()
    rng = np.random.default_rng(16)
    return [json.dumps({"instances": [rows[i].tolist()]}).encode() for i in rng.integers(0, len(rows), n)]


def _post_ms(conn: http.client.HTTPConnection, body: bytes) -> float:
    start = time.perf_counter()
    conn.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}")
    return (time.perf_counter() - start) * 1000.0


def _telemetry(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in folder.glob("*.jsonl") for line in path.read_text().splitlines()
            if '"LatencyMs"' in line]


def _deployment(model: Path, names: list[str], name: str, **kwargs: Any) -> ServiceConfig:
    return ServiceConfig("svc", (DeploymentConfig(name, model_version="1", model_path=str(model), task="regression",
                                                  feature_names=tuple(names), concurrency=1, **kwargs),))


def emulator_warm(home: Path, model: Path, data: Path, names: list[str]) -> dict[str, Any]:
    bodies = _bodies(data, WARM_REQUESTS)
    home.mkdir(parents=True, exist_ok=True)
    with Emulator(home / "warm", [_deployment(model, names, "warm", min_instances=1, max_instances=1)],
                  frontdoor=False) as emu:
        instance = emu.stats().deployment("warm").instances[0]
        assert instance.port is not None
        conn = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=30)
        for body in bodies[:50]:  # warm-up
            _post_ms(conn, body)
        client = [_post_ms(conn, body) for body in bodies]
        start = time.perf_counter()
        sent = 0
        while time.perf_counter() - start < 3.0:  # throughput: one after another, as the profile measures it
            _post_ms(conn, bodies[sent % len(bodies)])
            sent += 1
        rps = sent / (time.perf_counter() - start)
        conn.close()
        memory_mb = emu.stats().deployment("warm").max_memory_used_mb
    server = [line["LatencyMs"] for line in _telemetry(home / "warm" / "telemetry" / "warm")][50:50 + WARM_REQUESTS]
    return {"requests": len(client), "server_p50_ms": _pct(server, 50), "server_p95_ms": _pct(server, 95),
            "client_p50_ms": _pct(client, 50), "client_p95_ms": _pct(client, 95),
            "sequential_rps_over_http": round(rps, 1), "max_memory_used_mb": round(memory_mb, 1)}


def emulator_cold(home: Path, model: Path, data: Path, names: list[str]) -> dict[str, Any]:
    body = _bodies(data, 1)[0]
    totals: list[float] = []
    with Emulator(home / "cold", [_deployment(model, names, "cold", keep_alive_s=0.0)], frontdoor=False,
                  tick_s=0.02) as emu:
        for _ in range(COLD_STARTS):
            start = time.perf_counter()
            result = emu.invoke("svc", body)
            totals.append((time.perf_counter() - start) * 1000.0)
            assert result.cold_start and result.status == 200
            while emu.stats().deployment("cold").instances:  # wait for scale to zero
                time.sleep(0.02)
        spawn_to_ready = emu.stats().deployment("cold").cold_start_ms
    init = [line["InitMs"] for line in _telemetry(home / "cold" / "telemetry" / "cold") if line.get("ColdStart") == 1]
    return {"cold_starts": len(totals), "spawn_to_ready_p50_ms": round(float(np.median(spawn_to_ready)), 1),
            "instance_init_ms_p50": round(float(np.median(init)), 1),
            "cold_request_p50_ms": round(float(np.median(totals)), 1)}


def compare(home: Path, name: str) -> dict[str, Any]:
    """One model: profiled and projected, then served by the emulator; projected / measured."""
    model, data, names = _model(home, name)
    started = time.perf_counter()
    profiled = run_profile(ProfileRequest(model, data, batch_sizes=(1, 8, 32), duration_s=6.0, cold_starts=3))
    profile_s = time.perf_counter() - started
    projection = project(profiled.measured(), ProjectionSettings(rps=10.0, slo_p95_ms=100.0), load_catalogue())
    warm = emulator_warm(home / name, model, data, names)
    cold = emulator_cold(home / name, model, data, names)
    at_1769 = next(o for o in projection.lambda_options if o.architecture == "x86_64" and o.memory_mb == 1769)
    return {
        "model": MODELS[name][0] + f", 8 float features (skl2onnx), {model.stat().st_size / 1e6:.1f} MB file",
        "profile": {"seconds": round(profile_s, 1), "cold_start_ms": {k: round(v, 1) for k, v in
                                                                      profiled.cold_start.items()},
                    "peak_memory_mb": round(profiled.peak_memory_mb, 1),
                    "request_p50_ms": round(profiled.request.p50_ms, 4),
                    "request_p95_ms": round(profiled.request.p95_ms, 4),
                    "model_only_p95_ms": {b.batch_size: round(b.p95_ms, 4) for b in profiled.batches},
                    "throughput_rps": round(profiled.throughput_rps, 1)},
        "projected_at_1769_mb_x86_64": {"p95_ms": round(at_1769.p95_ms, 4),
                                        "cold_start_ms": round(at_1769.cold_start_ms, 1)},
        "emulator_warm": warm, "emulator_cold": cold,
        "ratios_projected_over_measured": {
            "p95_vs_server_latency_ms": round(at_1769.p95_ms / warm["server_p95_ms"], 3),
            "p95_vs_client_http": round(at_1769.p95_ms / warm["client_p95_ms"], 3),
            "cold_start_vs_spawn_to_ready": round(at_1769.cold_start_ms / cold["spawn_to_ready_p50_ms"], 3),
            "cold_start_vs_cold_request": round(at_1769.cold_start_ms / cold["cold_request_p50_ms"], 3),
            "throughput_vs_http_sequential": round(profiled.throughput_rps / warm["sequential_rps_over_http"], 3),
            "peak_memory_vs_emulator_max": round(profiled.peak_memory_mb / warm["max_memory_used_mb"], 3),
        },
    }


def main() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        models = {name: compare(Path(tmp), name) for name in MODELS}
    results = {
        "benchmark": "profile_projection",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "seconds": round(time.perf_counter() - started, 1),
        "models": models,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
