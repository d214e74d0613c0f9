"""What a service (the reference service, or any handler with a fallback) tells the probe beyond exceptions
and HTTP answers: a fallback given on a deadline, why it refused a request, a shadow model's result, that
its instance was started ahead of traffic, when its init ended and when the request really began."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from inferwatch_probe.sinks import FileSink

from collectors.local_telemetry import parse_emf_line
from tests.probe.conftest import ProbeFactory
from tests.probe.linecheck import check_line


def test_timeouts_and_refusals_say_why(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation")
    with probe.invocation() as inv:
        inv.timed_out("InferenceTimeoutError")  # a fallback answered 200 because the deadline ran out
    with probe.invocation() as inv:
        inv.answer(400, error_type="InvalidInputError")
    with probe.invocation() as inv:
        inv.answer(500, error_type="InjectedFaultError")
    with probe.invocation() as inv:
        inv.timed_out()
        inv.degraded("also degraded")  # the timeout decides
    docs = [check_line(line) for line in lines]
    assert [(d["Status"], d["ErrorType"]) for d in docs] == [
        ("timeout", "InferenceTimeoutError"), ("client_error", "InvalidInputError"), ("error", "InjectedFaultError"),
        ("timeout", "Timeout")]
    assert [d["Timeout"] for d in docs] == [1, 0, 0, 1]


def test_a_shadow_result_is_on_the_line_and_declared_when_asked(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation", metrics=["LatencyMs", "PredictionScore", "ShadowAgree"])
    with probe.invocation() as inv:
        inv.record(scores=[0.9, 0.2], classes=[1, 0])
        inv.shadow("v2", "ok", scores=np.array([0.8, 0.6]), classes=[1, 1], agree=0.5, latency_ms=1.23456)
    with probe.invocation() as inv:
        inv.record(scores=[0.9], classes=[1])
        inv.shadow("v2", "timeout")
    with probe.invocation() as inv:
        inv.shadow("v2", "ok", classes=["yes", "no"])
    ok, late, labels = (json.loads(line) for line in lines)
    assert (ok["ShadowVersion"], ok["ShadowStatus"], ok["ShadowScore"], ok["ShadowClass"], ok["ShadowAgree"],
            ok["ShadowLatencyMs"]) == ("v2", "ok", [0.8, 0.6], [1, 1], 0.5, 1.235)
    assert {m["Name"] for m in ok["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {
        "LatencyMs", "PredictionScore", "ShadowAgree"}
    assert (late["ShadowStatus"], late["ShadowScore"], late["ShadowClass"]) == ("timeout", [], [])
    assert "ShadowAgree" not in {m["Name"] for m in late["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert labels["ShadowLabel"] == ["yes", "no"] and "ShadowClass" not in labels
    record = parse_emf_line(lines[0])  # the collector reads them back
    assert (record.shadow_version, record.shadow_score, record.shadow_class, record.shadow_agree) == (
        "v2", (0.8, 0.6), (1, 1), 0.5)


def test_an_instance_started_ahead_of_traffic_has_no_cold_start(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation", env={"INFERWATCH_PREWARMED": "1"})
    for _ in range(2):
        with probe.invocation():
            pass
    docs = [check_line(line) for line in lines]
    assert [(d["ColdStart"], d["InitMs"], d.get("Prewarmed")) for d in docs] == [(0, 0.0, 1), (0, 0.0, 1)]
    assert docs[0]["Init"]["Type"] == "prewarmed"
    cold, cold_lines = make_probe(mode="invocation", prewarmed=False, env={"INFERWATCH_PREWARMED": "1"})
    with cold.invocation():
        pass
    assert json.loads(cold_lines[0])["ColdStart"] == 1 and "Prewarmed" not in json.loads(cold_lines[0])


def test_a_server_that_is_ready_before_its_first_request_ends_its_init_there(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation")
    probe.ready()
    time.sleep(0.3)  # idle, waiting for traffic: not init
    with probe.invocation():
        pass
    first = json.loads(lines[0])
    waiting, _ = make_probe(mode="invocation", lines=(later := []))
    time.sleep(0.3)
    with waiting.invocation():
        pass
    assert first["ColdStart"] == 1 and json.loads(later[0])["InitMs"] >= first["InitMs"] + 250


def test_latency_runs_from_when_the_request_really_began(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation")
    began = time.perf_counter() - 0.2  # the body was read before the invocation was entered
    with probe.invocation("r-1", started_s=began):
        pass
    doc = json.loads(lines[0])
    assert doc["RequestId"] == "r-1" and doc["LatencyMs"] >= 200


def test_instance_ids_may_be_longer_than_other_names(tmp_path: Path) -> None:
    sink = FileSink(tmp_path, "d" * 64 + "-123456-abcdef")
    sink.write("{}")
    sink.close()
    assert [p.name for p in tmp_path.iterdir()] == ["d" * 64 + "-123456-abcdef.jsonl"]
