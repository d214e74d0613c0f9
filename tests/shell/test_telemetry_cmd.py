"""`inferwatch telemetry validate FILE` and the telemetry folders in `inferwatch config check`, through the
real CLI, on lines the real probe writes, an EMF line shaped as aws-lambda-powertools prints it, and
broken ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from inferwatch_probe import Probe
from typer.testing import CliRunner

from drift import build_baseline
from inferwatch.store import Store
from shell.cli import app

NOW_MS = int(datetime.now(UTC).timestamp() * 1000)
# what aws-lambda-powertools Metrics prints (recorded from 3.37): values as arrays, metadata at the top level
POWERTOOLS = {"_aws": {"Timestamp": NOW_MS, "CloudWatchMetrics": [{"Namespace": "Shop", "Dimensions": [["service"]],
                                                                   "Metrics": [{"Name": "LatencyMs",
                                                                                "Unit": "Milliseconds"}]}]},
              "service": "scorer", "ModelVersion": "v1", "LatencyMs": [3.21]}
BOOKING = {"_aws": {"Timestamp": NOW_MS, "CloudWatchMetrics": [{"Namespace": "Shop", "Dimensions": [["service"]],
                                                                "Metrics": [{"Name": "SuccessfulBooking",
                                                                             "Unit": "Count"}]}]},
           "service": "booking", "SuccessfulBooking": [1.0]}


def _run(home: Path, *args: str) -> tuple[int, str]:
    config = home / "inferwatch.toml"
    if not config.exists():
        config.write_text("")
    result = CliRunner().invoke(app, ["--home", str(home), "--config", str(config), *args])
    return result.exit_code, result.output


def probe_lines(mode: str, version: str = "v1") -> list[str]:
    lines: list[str] = []
    probe = Probe("scorer", version, "binary", mode=mode, sink=lines.append, env={})
    try:
        with probe.invocation() as inv:
            inv.record(inputs={"age": [31.0, float("nan")]}, scores=[0.2, 0.9], classes=[0, 1])
        probe.flush()
    finally:
        probe.close()
    return lines


def _store_baseline(home: Path) -> None:
    rng = np.random.default_rng(1)
    baseline = build_baseline({"score": rng.beta(2, 5, 2_000)}, categorical=[], model_sha256="a" * 64, version="v1")
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    store.save_baseline("scorer-v1-base", service="scorer", model_version="v1", model_sha256="a" * 64, source="test",
                        payload=baseline.to_dict(), created_at=datetime.now(UTC))
    store.dispose()


def _file(home: Path, lines: list[Any], name: str = "scorer/i.jsonl") -> Path:
    path = home / "telemetry" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def _broken() -> dict[str, Any]:
    doc = json.loads(probe_lines("invocation")[0])
    doc["LatencyMs"] = "fast"
    del doc["Deployment"]
    return doc


def test_validate_says_line_by_line_what_is_wrong_and_which_models_have_a_baseline(tmp_path: Path) -> None:
    _store_baseline(tmp_path)
    path = _file(tmp_path, [probe_lines("invocation")[0], probe_lines("window")[0], POWERTOOLS, BOOKING,
                            probe_lines("invocation", "v9")[0], _broken(), "not json", {"hello": 1}])
    code, out = _run(tmp_path, "telemetry", "validate", str(path))
    assert code == 1, out
    lines = out.splitlines()
    assert lines[0] == "line 1: invocation: ok (scorer model v1), baseline scorer-v1-base"
    assert lines[1] == "line 2: window: ok (scorer model v1), baseline scorer-v1-base"
    assert lines[2] == "line 3: third-party EMF: ok (scorer model v1), baseline scorer-v1-base"
    assert lines[3] == ("line 4: third-party EMF: ok: carried no metric Inferwatch reads (names: "
                        "SuccessfulBooking)")
    assert lines[4] == "line 5: invocation: ok (scorer model v9): no baseline for this service and model"
    assert lines[5].startswith("line 6: invocation: BAD: Deployment is missing; LatencyMs must be a finite number")
    assert lines[6].startswith("line 7: not EMF: BAD: not JSON")
    assert lines[7].startswith("line 8: not EMF: BAD: missing _aws metadata")
    assert lines[8] == f"{path}: 8 lines, 3 bad, 1 without a baseline"


def test_validate_json_and_a_clean_file(tmp_path: Path) -> None:
    path = _file(tmp_path, [probe_lines("invocation")[0], POWERTOOLS])
    code, out = _run(tmp_path, "telemetry", "validate", "--json", str(path))
    assert code == 0, out
    doc = json.loads(out)
    assert doc["summary"] == {"lines": 2, "bad": 0, "without_baseline": 2,
                              "by_kind": {"invocation": 1, "third-party EMF": 1}}
    assert doc["lines"][0]["model"] == {"service": "scorer", "model_version": "v1", "model_sha256": None}
    code, out = _run(tmp_path, "telemetry", "validate", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "missing.jsonl" in out and "Traceback" not in out


def test_config_check_summarises_each_telemetry_folder(tmp_path: Path) -> None:
    _store_baseline(tmp_path)
    _file(tmp_path, [probe_lines("invocation")[0], POWERTOOLS], "scorer/a.jsonl")
    _file(tmp_path, [probe_lines("window", "v9")[0], _broken()], "other/b.jsonl")
    code, out = _run(tmp_path, "config", "check", "--json")
    checks = {c["scope"]: c for c in json.loads(out) if c["provider"] == "telemetry"}
    assert code == 1
    scorer, other = checks[str(tmp_path / "telemetry" / "scorer")], checks[str(tmp_path / "telemetry" / "other")]
    assert scorer["ok"] and scorer["detail"] == "2 lines, 0 bad, 0 without a baseline"
    assert not other["ok"] and other["detail"].startswith("2 lines, 1 bad, 1 without a baseline")
