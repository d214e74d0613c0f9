"""Traffic through the real front door over HTTP: canary shares, blue/green switch and rollback, status."""

from __future__ import annotations

import http.client
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from reference_service.emulator import DeploymentConfig, Emulator, ServiceConfig
from reference_service.emulator.frontdoor import MAX_BODY_BYTES
from reference_service.loadgen import LoadProfile, run_load

ROW = [14.0, 19.0, 91.0, 650.0, 0.096, 0.1, 0.09, 0.05, 0.18, 0.063, 0.4, 1.2, 2.9, 40.0, 0.007, 0.025,
       0.03, 0.011, 0.02, 0.0038, 16.0, 25.0, 107.0, 880.0, 0.13, 0.25, 0.27, 0.11, 0.29, 0.084]
BODY = json.dumps({"instances": [ROW]}).encode()


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    home: Path = tmp_path_factory.mktemp("traffic")
    services = [
        ServiceConfig("scorer", (DeploymentConfig("stable-v1", model_version="v1", min_instances=1, concurrency=8),
                                 # prewarmed: the canary tests measure routing shares, and a burst of
                                 # cold starts at 150 req/s fills the load's in-flight cap and skips arrivals
                                 DeploymentConfig("canary-v2", model_version="v2", role="canary", concurrency=8,
                                                  min_instances=1)),
                      weights={"stable-v1": 0.8, "canary-v2": 0.2}),
        ServiceConfig("bg", (DeploymentConfig("blue", role="blue", min_instances=1),
                             DeploymentConfig("green", model_version="v2", role="green"))),
        ServiceConfig("sh", (DeploymentConfig("shadowed", shadow_version="v2"),)),
    ]
    with Emulator(home, services, seed=11) as running:
        yield running


def _request(emu: Emulator, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    assert emu.url is not None
    parts = urlsplit(emu.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        payload = json.loads(response.read() or b"null")
        return response.status, payload, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def _within_binomial(hits: int, n: int, p: float, z: float = 4.5) -> bool:
    return abs(hits - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1


def test_front_door_binds_loopback(emu: Emulator) -> None:
    assert emu.url is not None and emu.url.startswith("http://127.0.0.1:")
    assert _request(emu, "GET", "/healthz")[:2] == (200, {"ok": True})


def test_canary_share_is_within_a_binomial_bound_and_raised_in_steps(emu: Emulator) -> None:
    for weight in (0.2, 0.5):
        status, answer, _ = _request(emu, "POST", "/services/scorer/traffic",
                                     json.dumps({"canary": {"deployment": "canary-v2", "weight": weight}}).encode())
        assert status == 200 and answer["weights"]["canary-v2"] == pytest.approx(weight)
        result = run_load(emu.service_url("scorer"), LoadProfile(rate_per_s=150, duration_s=10, max_requests=300,
                                                                 max_in_flight=64, seed=int(weight * 10)))
        n = sum(result.by_deployment.values())
        assert result.sent_count == n >= 250  # every request routed (a few arrivals may be skipped: open loop)
        assert result.outcomes["ok"] >= 0.98 * n  # on a loaded machine a cold start may make a rare one degrade
        hits = result.by_deployment.get("canary-v2", 0)
        assert _within_binomial(hits, n, weight), (hits, n, weight)
    assert emu.stats().services[0].routed_counts["canary-v2"] >= 1


def test_blue_green_switch_and_instant_rollback(emu: Emulator) -> None:
    def versions(n: int) -> set[tuple[str, str]]:
        seen = set()
        for _ in range(n):
            status, answer, headers = _request(emu, "POST", "/services/bg/predict", BODY)
            assert status == 200
            seen.add((headers["x-inferwatch-deployment"], answer["model_version"]))
        return seen

    assert versions(20) == {("blue", "v1")}
    status, answer, _ = _request(emu, "POST", "/services/bg/traffic", json.dumps({"promote": "green"}).encode())
    assert status == 200 and answer["weights"] == {"blue": 0.0, "green": 1.0}
    assert versions(20) == {("green", "v2")}
    status, answer, _ = _request(emu, "POST", "/services/bg/traffic", json.dumps({"rollback": True}).encode())
    assert status == 200 and answer["weights"] == {"blue": 1.0, "green": 0.0}
    assert versions(20) == {("blue", "v1")}


def test_status_lists_instances_per_deployment(emu: Emulator) -> None:
    status, answer, _ = _request(emu, "GET", "/status")
    assert status == 200
    deployments = {d["name"]: d for d in answer["deployments"]}
    assert set(deployments) == {"stable-v1", "canary-v2", "blue", "green", "shadowed"}
    for name in ("stable-v1", "blue"):  # min_instances=1: prewarmed at boot, never scaled away
        assert deployments[name]["prewarmed_count"] == 1
        assert deployments[name]["instances"][0]["pid"] > 0
    assert deployments["shadowed"]["prewarmed_count"] == 0
    assert {s["name"] for s in answer["services"]} == {"scorer", "bg", "sh"}


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/services/nope/predict", BODY, 404, "path"),
        ("/services/bg/traffic", b"{not json", 400, "body"),
        ("/services/bg/traffic", json.dumps({"weights": {"red": 1}}).encode(), 400, "bg.weights.red"),
        ("/services/bg/traffic", json.dumps({"canary": {"deployment": "green", "weight": 2}}).encode(), 400,
         "bg.canary.weight"),
        ("/services/bg/traffic", json.dumps({"launch": 1}).encode(), 400, "launch"),
        ("/elsewhere", BODY, 404, "path"),
    ],
)
def test_bad_requests_name_what_was_wrong(emu: Emulator, path: str, body: bytes, status: int,
                                          field: str | None) -> None:
    got, answer, _ = _request(emu, "POST", path, body)
    assert got == status and answer["error"]
    if field is not None:
        assert [f["field"] for f in answer["fields"]] == [field]


def test_instance_answers_pass_through_including_400s(emu: Emulator) -> None:
    status, answer, headers = _request(emu, "POST", "/services/bg/predict", json.dumps({"instances": [[1.0]]}).encode())
    assert status == 400 and answer["fields"] and headers["x-inferwatch-deployment"] == "blue"


def test_oversize_bodies_are_refused_before_reading(emu: Emulator) -> None:
    status, answer, _ = _request(emu, "POST", "/services/bg/predict", b"",
                                 headers={"Content-Length": str(MAX_BODY_BYTES + 1)})
    assert status == 413 and answer["fields"][0]["field"] == "body"


def test_shadow_scoring_is_configured_on_the_instance(emu: Emulator) -> None:
    status, answer, _ = _request(emu, "POST", "/services/sh/predict", BODY)
    assert status == 200 and answer["model_version"] == "v1"  # the served version answers
    lines = [json.loads(line) for path in emu.telemetry_dir("shadowed").glob("*.jsonl")
             for line in path.read_text().splitlines()]
    assert len(lines) == 1
    assert lines[0]["ModelVersion"] == "v1" and lines[0]["ShadowVersion"] == "v2"
    assert lines[0]["ShadowStatus"] in ("ok", "timeout", "skipped")
