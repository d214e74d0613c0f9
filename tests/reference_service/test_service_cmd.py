from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .conftest import REPO


def test_inferwatch_serve_runs_the_cloud_run_adapter_on_localhost(tmp_path: Path, heldout: NDArray[np.float32]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from inferwatch.cli import main; main()", "--home", str(tmp_path), "serve",
         "--port", "0", "--model-version", "v2", "--deployment", "by-hand"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.stderr is not None
    try:
        port = 0
        for raw in proc.stderr:
            line = raw.decode()
            if line.startswith("READY port="):
                port = int(line.split("=")[1])
                break
        assert port
        body = json.dumps({"instances": heldout[:2].tolist()}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            answer = json.loads(resp.read())
        assert answer["model_version"] == "v2" and len(answer["predictions"]) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        proc.stderr.close()
    lines = [json.loads(l) for f in (tmp_path / "telemetry").glob("*.jsonl") for l in f.read_text().splitlines()]
    assert [l["Deployment"] for l in lines] == ["by-hand"]
