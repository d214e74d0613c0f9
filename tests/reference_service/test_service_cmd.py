from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from .conftest import REPO


def test_inferwatch_serve_runs_the_cloud_run_adapter_on_localhost(tmp_path: Path, heldout: NDArray[np.float32]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from shell.cli import main; main()", "--home", str(tmp_path), "serve",
         "--port", "0", "--model-version", "v2", "--deployment", "by-hand"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin",
                                                                          "HOME": str(tmp_path)},
    )
    assert proc.stderr is not None
    try:
        port, announced = 0, ""
        for raw in proc.stderr:
            line = raw.decode()
            if line.startswith("READY port="):
                port = int(line.split("=")[1])
            if line.startswith("serving "):
                announced = line
            if port and announced:
                break
        assert port
        assert f"serving v2 on http://127.0.0.1:{port} " in announced  # the bound port, not --port 0
        body = json.dumps({"instances": heldout[:2].tolist()}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            answer = json.loads(resp.read())
        assert answer["model_version"] == "v2" and len(answer["predictions"]) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        proc.stderr.close()
    lines = [json.loads(ln) for f in (tmp_path / "telemetry").glob("*.jsonl") for ln in f.read_text().splitlines()]
    assert [ln["Deployment"] for ln in lines] == ["by-hand"]


def _serve(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from shell.cli import main; main()", "--home", str(home), "serve", "--port", "0",
         *args], cwd=home.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "PYTHONPATH": str(REPO), **(env or {})})


def _outcome(proc: subprocess.Popen[bytes], heldout: NDArray[np.float32]) -> tuple[int, str]:
    """(exit code, stderr) of a serve that should refuse to start; one that starts anyway gets a
    request (so it writes its telemetry line wherever it writes it) and is stopped."""
    assert proc.stderr is not None
    lines = []
    for raw in proc.stderr:
        lines.append(raw.decode())
        ready = re.match(r"READY port=(\d+)", lines[-1])
        if ready:
            body = json.dumps({"instances": heldout[:1].tolist()}).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{ready.group(1)}/predict", data=body, method="POST")
            urllib.request.urlopen(req, timeout=30).close()
            proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    proc.stderr.close()
    return code, "".join(lines)


@pytest.mark.parametrize(("args", "env", "named"), [
    (["--deployment", "../../escaped-dep"], {}, "--deployment"),
    ([], {"INFERWATCH_DEPLOYMENT": "../../escaped-dep"}, "INFERWATCH_DEPLOYMENT"),
    ([], {"INFERWATCH_INSTANCE_ID": "../../escaped-dep"}, "INFERWATCH_INSTANCE_ID"),
])
def test_serve_refuses_a_name_that_would_put_telemetry_outside_its_folder(
        tmp_path: Path, heldout: NDArray[np.float32], args: list[str], env: dict[str, str], named: str) -> None:
    home = tmp_path / "a" / "home"
    home.mkdir(parents=True)
    code, stderr = _outcome(_serve(home, *args, env=env), heldout)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.jsonl")) == []
    assert code == 2 and "Traceback" not in stderr
    assert named in stderr and "'../../escaped-dep' is not " in stderr and len(stderr.splitlines()) == 1


def test_serve_exits_2_on_a_model_version_it_does_not_have(tmp_path: Path, heldout: NDArray[np.float32]) -> None:
    code, stderr = _outcome(_serve(tmp_path, "--model-version", "v9"), heldout)
    assert code == 2 and "INFERWATCH_MODEL_VERSION: 'v9'" in stderr and len(stderr.splitlines()) == 1
