"""Build the Lambda deployment zip and print its unzipped size.

    python reference_service/deploy/build_zip.py [--arch arm64|x86_64] [--deps pip|local|none] [--out PATH]

``--deps pip`` (default) installs the pinned wheels of ``requirements.txt`` for the target architecture
from the package index (``pip install --platform manylinux_2_28_<arch> --only-binary=:all:``), so an
x86_64 machine builds an arm64 zip. Current numpy and onnxruntime wheels need glibc 2.28, which the
python3.12 runtime (Amazon Linux 2023) has and python3.11 (Amazon Linux 2, glibc 2.26) lacks: hence
Python 3.12 by default and ``Runtime: python3.12`` in the SAM template. ``--deps local`` copies numpy and
onnxruntime from this interpreter
(offline; only right when this machine has the target architecture), ``--deps none`` packs the service
alone (for a Lambda layer that brings the dependencies). Parts of onnxruntime that inference never
imports (its training, quantisation and conversion tools) and test suites are left out. The zip is
reproducible: sorted entries, fixed timestamps and permissions.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parents[1]
REPO = SERVICE_DIR.parent
PROBE_DIR = REPO / "probe" / "inferwatch_probe"  # the telemetry emitter, shipped with the service
LAMBDA_LIMIT_MB = 250.0
RUNTIME_MODULES = (
    "__init__.py", "errors.py", "names.py", "prediction.py", "model.py", "core.py", "settings.py", "telemetry.py",
    "batching.py", "shadow.py", "deadline.py", "invocation.py", "dlq.py", "json_http.py", "server_cloudrun.py",
    "handler_lambda.py",
)
MODEL_GLOBS = ("*.onnx", "*.card.json")
LOCAL_PACKAGES = ("numpy", "numpy.libs", "onnxruntime")
PRUNE_DIRS = {"tests", "testing", "__pycache__", "transformers", "quantization", "tools", "datasets", "f2py",
              "_pyinstaller"}
PRUNE_SUFFIXES = (".pyc", ".pyi", ".pxd", ".h", ".c")
# onnxruntime's C-API library: the Python binding links the runtime statically and never loads it
PRUNE_PREFIXES = ("libonnxruntime.so",)
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class ZipReport:
    path: str
    arch: str
    deps: str
    files: int
    zipped_mb: float
    unzipped_mb: float

    @property
    def within_limit(self) -> bool:
        return self.unzipped_mb <= LAMBDA_LIMIT_MB


def _pruned(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    in_dependency = parts[0] not in ("reference_service", "inferwatch_probe")
    return in_dependency and (any(p in PRUNE_DIRS for p in parts[1:-1]) or path.name.endswith(PRUNE_SUFFIXES)
                              or path.name.startswith(PRUNE_PREFIXES))


def _stage_service(stage: Path) -> None:
    target = stage / "reference_service"
    (target / "model").mkdir(parents=True)
    for name in RUNTIME_MODULES:
        shutil.copy2(SERVICE_DIR / name, target / name)
    for pattern in MODEL_GLOBS:
        for path in sorted((SERVICE_DIR / "model").glob(pattern)):
            shutil.copy2(path, target / "model" / path.name)
    probe = stage / "inferwatch_probe"
    probe.mkdir()
    for path in sorted(PROBE_DIR.glob("*.py")):
        shutil.copy2(path, probe / path.name)


def _stage_deps(stage: Path, deps: str, arch: str, python: str) -> None:
    if deps == "none":
        return
    if deps == "local":
        import numpy  # only to find this interpreter's site-packages for --deps local

        site = Path(numpy.__file__).resolve().parents[1]
        for name in LOCAL_PACKAGES:
            if (site / name).is_dir():
                shutil.copytree(site / name, stage / name, ignore=shutil.ignore_patterns("__pycache__"))
        return
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[arch]
    platforms = [arg for tag in ("manylinux_2_28", "manylinux_2_17", "manylinux2014") for arg in ("--platform",
                                                                                                  f"{tag}_{machine}")]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:", *platforms,
         "--implementation", "cp", "--python-version", python, "--target", str(stage),
         "-r", str(SERVICE_DIR / "deploy" / "requirements.txt")],
        check=True,
    )
    for extra in stage.glob("bin"):
        shutil.rmtree(extra)


def build(out: Path, *, arch: str = "arm64", deps: str = "pip", python: str = "3.12") -> ZipReport:
    with tempfile.TemporaryDirectory(prefix="lambda-zip-") as tmp:
        stage = Path(tmp)
        _stage_service(stage)
        _stage_deps(stage, deps, arch, python)
        files = sorted(p for p in stage.rglob("*") if p.is_file() and not _pruned(p, stage))
        out.parent.mkdir(parents=True, exist_ok=True)
        unzipped = 0
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for path in files:
                info = zipfile.ZipInfo(path.relative_to(stage).as_posix(), date_time=_FIXED_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
                unzipped += path.stat().st_size
    return ZipReport(str(out), arch, deps, len(files), round(out.stat().st_size / 1e6, 2), round(unzipped / 1e6, 2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--arch", choices=("arm64", "x86_64"), default="arm64")
    parser.add_argument("--deps", choices=("pip", "local", "none"), default="pip")
    parser.add_argument("--python", default="3.12", help="Lambda runtime's Python version")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "lambda.zip")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = build(args.out, arch=args.arch, deps=args.deps, python=args.python)
    if args.json:
        print(json.dumps({**asdict(report), "within_limit": report.within_limit}))
    else:
        print(f"{report.path}: {report.files} files, {report.zipped_mb} MB zipped, "
              f"{report.unzipped_mb} MB unzipped (Lambda limit {LAMBDA_LIMIT_MB:.0f} MB), {args.arch}, "
              f"deps={args.deps}")
    return 0 if report.within_limit else 1


if __name__ == "__main__":
    sys.exit(main())
