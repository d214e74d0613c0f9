"""``make probe-dist``: the wheel and the Lambda layer zip build, hold the probe and nothing else, and
install into a fresh virtualenv (from the wheel, or from the layer's ``python/`` folder beside numpy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from inferwatch_probe import __version__

from tests.probe.linecheck import check_line

ROOT = Path(__file__).resolve().parents[2]
USE = """
import json, sys, numpy as np, inferwatch_probe
from inferwatch_probe import Probe
lines = []
probe = Probe("scorer", "v1", "binary", mode="invocation", sink=lines.append, env={})
with probe.invocation() as inv:
    inv.record(inputs=np.array([[0.5, 1.5]], dtype=np.float32), scores=[0.75], classes=[1])
print(json.dumps({"file": inferwatch_probe.__file__, "line": lines[0]}))
"""


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False,
                          **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_probe_dist_builds_a_wheel_and_a_layer_that_install_and_import(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # -o: the virtualenv is there already (the test runs in it); rebuilding it mid-test is not the point
    _run(["make", "-o", ".venv/.installed-stamp", "probe-dist", f"DIST={dist}"], cwd=ROOT)
    wheel = dist / f"inferwatch_probe-{__version__}-py3-none-any.whl"
    layer = dist / "inferwatch-probe-layer.zip"
    with zipfile.ZipFile(wheel) as w:
        names = w.namelist()
        metadata = w.read(f"inferwatch_probe-{__version__}.dist-info/METADATA").decode()
    assert "inferwatch_probe/py.typed" in names and all(n.startswith("inferwatch_probe") for n in names)
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist")]
    assert requires == ["Requires-Dist: numpy>=1.26"]
    with zipfile.ZipFile(layer) as z:
        layer_names = z.namelist()
        z.extractall(tmp_path / "layer")
    assert all(n.startswith("python/inferwatch_probe/") for n in layer_names)
    in_layer = sorted(n.removeprefix("python/") for n in layer_names)
    assert in_layer == sorted(n for n in names if n.startswith("inferwatch_probe/"))

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "--quiet", "numpy"])
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path / "layer" / "python")}
    from_layer = json.loads(_run([python, "-c", USE], env=env).stdout)  # as Lambda puts a layer on sys.path
    assert from_layer["file"].startswith(str(tmp_path / "layer"))
    check_line(from_layer["line"])

    _run([python, "-m", "pip", "install", "--quiet", str(wheel)])
    from_wheel = json.loads(_run([python, "-c", USE], env={"PATH": os.environ["PATH"]}).stdout)
    assert from_wheel["file"].startswith(str(venv))
    assert check_line(from_wheel["line"])["InputSummary"] == {"f_0": [0.5], "f_1": [1.5]}
    assert "inferwatch" not in _run([python, "-m", "pip", "list"]).stdout.replace("inferwatch-probe", "")
