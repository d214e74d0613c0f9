"""Shared reference data for the drift tests: built once per session (baselines take ~0.1 s each)."""

from __future__ import annotations

import numpy as np
import pytest

from drift.baseline import Baseline, build_baseline

__all__ = ["reference_signals"]

REFERENCE_ROWS = 50_000


def reference_signals(seed: int = 7, rows: int = REFERENCE_ROWS) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "score": rng.beta(5, 2, rows).astype(np.float32),
        "class": rng.choice(10, size=rows, p=np.linspace(1, 2, 10) / np.linspace(1, 2, 10).sum()),
        "feature:x": rng.normal(3.0, 2.0, rows),
    }


@pytest.fixture(scope="session")
def signals() -> dict[str, np.ndarray]:
    return reference_signals()


@pytest.fixture(scope="session")
def baseline() -> Baseline:
    return build_baseline(reference_signals(), categorical=["class"], model_sha256="ab" * 32, version="v1")
