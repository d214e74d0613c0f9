"""Meta-tests: every statistic module is registered; importing drift stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import drift
from drift.registry import STATISTICS

DRIFT_DIR = Path(drift.__file__).parent


def test_every_statistic_module_is_registered() -> None:
    modules = {spec.module for spec in STATISTICS.values()}
    for path in DRIFT_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                 if isinstance(t, ast.Name)}
        if "DEFAULT_THRESHOLD" in names:
            assert f"drift.{path.stem}" in modules, f"{path.name} defines a statistic but is not registered"
    for spec in STATISTICS.values():
        assert 0 <= spec.warn_threshold <= spec.drift_threshold and spec.binning


def test_modules_stay_small() -> None:
    for path in DRIFT_DIR.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path.name


def test_import_drift_pulls_in_neither_scipy_nor_pandas() -> None:
    code = "import sys, drift; print(sorted(m for m in ('scipy', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
