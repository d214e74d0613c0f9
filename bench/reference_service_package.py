"""Unzipped size of the Lambda deployment package (goal: at most 120 MB against Lambda's 250 MB limit).

Builds the zip with ``reference_service/deploy/build_zip.py`` for arm64 (pinned wheels from the package
index) and, as the same-run baseline, the unpruned dependency size: numpy and onnxruntime as installed by
pip, before build_zip leaves out what inference never loads. Run: ``python bench/reference_service_package.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "reference_service" / "deploy"))

import build_zip

GOAL_MB = 120.0


def _tree_mb(root: Path) -> float:
    return round(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6, 2)


def main() -> int:
    out = REPO / "bench" / "results" / "reference_service_package.json"
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:",
             "--platform", "manylinux_2_28_aarch64", "--platform", "manylinux2014_aarch64",
             "--implementation", "cp", "--python-version", "3.12", "--target", str(raw),
             "-r", str(REPO / "reference_service" / "deploy" / "requirements.txt")], check=True)
        unpruned_mb = _tree_mb(raw)
        report = build_zip.build(Path(tmp) / "lambda.zip", arch="arm64", deps="pip", python="3.12")
    result = {
        "benchmark": "reference_service_package",
        "arch": report.arch,
        "runtime": "python3.12",
        "files": report.files,
        "zipped_mb": report.zipped_mb,
        "unzipped_mb": report.unzipped_mb,
        "baseline_unpruned_dependencies_mb": unpruned_mb,
        "share_of_lambda_limit": round(report.unzipped_mb / build_zip.LAMBDA_LIMIT_MB, 3),
        "lambda_limit_mb": build_zip.LAMBDA_LIMIT_MB,
        "goal_mb": GOAL_MB,
        "goal_met": report.unzipped_mb <= GOAL_MB,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
