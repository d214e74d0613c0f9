"""Pointing Inferwatch at a home folder for in-process tests (AppTest, the read models)."""

from __future__ import annotations

from pathlib import Path

import pytest


def use_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``home`` as INFERWATCH_HOME and working folder, with no store URL or config from the environment."""
    monkeypatch.setenv("INFERWATCH_HOME", str(home))
    monkeypatch.delenv("INFERWATCH_STORE_URL", raising=False)
    monkeypatch.delenv("INFERWATCH_CONFIG", raising=False)
    monkeypatch.chdir(home)
    return home
