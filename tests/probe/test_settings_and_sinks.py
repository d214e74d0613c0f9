"""Settings (arguments beat the environment; bad ones are refused by name), platform defaults, EMF
declarations, and the sinks: stdout with Cloud Logging's severity, files per instance with rotation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from inferwatch_probe import Probe, ProbeConfigError

from tests.probe.conftest import ProbeFactory
from tests.probe.linecheck import check_line

BASE = {"INFERWATCH_DEPLOYMENT": "scorer", "INFERWATCH_MODEL_VERSION": "v1", "INFERWATCH_TASK": "binary"}


@pytest.mark.parametrize("env, field", [
    ({"INFERWATCH_MODEL_VERSION": "v1", "INFERWATCH_TASK": "binary"}, "deployment"),
    ({**BASE, "INFERWATCH_DEPLOYMENT": "../etc"}, "deployment"),
    ({**BASE, "INFERWATCH_MODEL_VERSION": ""}, "model_version"),
    ({**BASE, "INFERWATCH_TASK": "ranking"}, "task"),
    ({**BASE, "INFERWATCH_PROBE_MODE": "batch"}, "mode"),
    ({**BASE, "INFERWATCH_FLUSH_S": "soon"}, "flush_interval_s"),
    ({**BASE, "INFERWATCH_FLUSH_S": "0"}, "flush_interval_s"),
    ({**BASE, "INFERWATCH_EMF_METRICS": "LatencyMs,Cost"}, "metrics"),
    ({**BASE, "INFERWATCH_INSTANCE_ID": "a/b"}, "instance_id"),
    ({**BASE, "INFERWATCH_MODEL_SHA256": "abc"}, "model_sha256"),
    ({**BASE, "INFERWATCH_ROLE": "primary"}, "role"),
])
def test_bad_settings_are_refused_naming_the_field(env: dict[str, str], field: str) -> None:
    with pytest.raises(ProbeConfigError) as info:
        Probe(env=env)
    assert info.value.field == field and field in str(info.value)


def test_arguments_beat_the_environment(make_probe: ProbeFactory) -> None:
    probe, _ = make_probe("explicit", "v9", "regression", env={**BASE, "INFERWATCH_FLUSH_S": "5"}, flush_interval_s=2)
    s = probe.settings
    assert (s.deployment, s.model_version, s.task, s.flush_interval_s) == ("explicit", "v9", "regression", 2.0)
    assert (s.mode, s.platform, s.service) == ("invocation", "local", "explicit")


def test_lambda_and_cloud_run_defaults() -> None:
    on_lambda = Probe(env={"AWS_LAMBDA_FUNCTION_NAME": "scorer-fn", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048",
                           "INFERWATCH_MODEL_VERSION": "v1", "INFERWATCH_TASK": "binary"}, sink=lambda line: None)
    on_cloud_run = Probe(env={"K_SERVICE": "scorer-svc", "K_REVISION": "scorer-svc-00012-abc",
                              "INFERWATCH_MEMORY_MB": "4096",
                              "INFERWATCH_MODEL_VERSION": "v1", "INFERWATCH_TASK": "binary"}, sink=lambda line: None)
    try:
        lam, run = on_lambda.settings, on_cloud_run.settings
        assert (lam.deployment, lam.service, lam.mode, lam.memory_mb, lam.metrics) == ("scorer-fn", "scorer-fn",
                                                                                       "window", 2048, ())
        assert (run.deployment, run.revision, run.mode, run.memory_mb, run.flush_interval_s) == (
            "scorer-svc", "scorer-svc-00012-abc", "window", 4096, 60.0)
    finally:
        on_lambda.close()
        on_cloud_run.close()


def test_cloud_run_lines_on_stdout_carry_a_severity(capsys: pytest.CaptureFixture[str]) -> None:
    probe = Probe(env={**BASE, "K_SERVICE": "scorer", "INFERWATCH_PROBE_MODE": "invocation"})
    try:
        with probe.invocation():
            pass
        with pytest.raises(RuntimeError), probe.invocation():
            raise RuntimeError("model down")
    finally:
        probe.close()
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["severity"] for line in lines] == ["INFO", "ERROR"]
    assert all(check_line(line)["message"].startswith("inferwatch invocation") for line in lines)


@pytest.mark.parametrize("metrics, declared", [(None, []), ("standard", 10), ("LatencyMs,PredictionScore", 2)])
def test_emf_metrics_are_declared_only_when_asked(metrics: str | None, declared: object,
                                                  make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation", metrics=metrics)
    with probe.invocation() as inv:
        inv.record(scores=[0.5])
    with probe.invocation():
        pass  # no scores: PredictionScore is not declared (an empty array is no metric value)
    with_scores, without = (json.loads(line)["_aws"]["CloudWatchMetrics"] for line in lines)
    if declared == []:
        assert with_scores == without == []
        return
    names = [m["Name"] for m in with_scores[0]["Metrics"]]
    assert len(names) == declared and "PredictionScore" in names
    assert "PredictionScore" not in [m["Name"] for m in without[0]["Metrics"]]
    assert with_scores[0]["Namespace"] == "Inferwatch"
    assert with_scores[0]["Dimensions"] == [["Deployment"], ["Deployment", "ModelVersion"]]


def test_file_sink_one_file_per_instance_rotated(tmp_path: Path) -> None:
    env = {**BASE, "INFERWATCH_TELEMETRY_DIR": str(tmp_path / "t"), "INFERWATCH_INSTANCE_ID": "scorer-1",
           "INFERWATCH_TELEMETRY_ROTATE_MB": str(1500 / (1 << 20)), "INFERWATCH_PROBE_MODE": "invocation"}
    probe = Probe(env=env)
    try:
        for i in range(12):
            with probe.invocation(request_id=f"r{i}") as inv:
                inv.record(scores=[i / 10])
    finally:
        probe.close()
    files = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert files[-1] == "scorer-1.jsonl" and files[0] == "scorer-1.1.jsonl" and len(files) >= 3
    ordered = [tmp_path / "t" / f"scorer-1.{n}.jsonl" for n in range(1,
                                                                     len(files))] + [tmp_path / "t" / "scorer-1.jsonl"]
    ids = [check_line(line)["RequestId"] for path in ordered for line in path.read_text().splitlines()]
    assert ids == [f"r{i}" for i in range(12)]  # every line whole, in order, none lost
    assert all(os.path.getsize(p) <= 1500 for p in ordered[:-1])
