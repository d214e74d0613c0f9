"""Where the third-party validators live: .venv-validators, built by `make validators-env`."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv-validators" / "bin"


def validator(name: str) -> str:
    """The path of one of the validators' executables; a clear failure (never a skip) when missing."""
    path = BIN / name
    assert path.exists(), f"{path} is missing: run `make validators-env` (make test builds it)"
    return str(path)
