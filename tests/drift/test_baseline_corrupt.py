"""A stored baseline can be corrupted (by hand, a bad migration, a half-written row): reading it must
either succeed with a baseline the engine can use, or raise BaselineError naming the field. Never a
KeyError, TypeError, ValueError or OverflowError from deep inside."""

from __future__ import annotations

import copy
import json
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift.baseline import Baseline, build_baseline
from drift.compare import compare_values
from drift.errors import BaselineError, DriftError
from tests.drift.conftest import reference_signals

JSON_SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-(10**400), 10**400)
                | st.floats() | st.text(max_size=5))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


# The baseline as it is kept in the store (JSON), and every place in it a corruption can hit.
STORED: dict[str, Any] = json.loads(json.dumps(
    build_baseline(reference_signals(rows=2000), categorical=["class"], model_sha256="ab" * 32,
                   version="v1").to_dict()))
Path_ = tuple[str | int, ...]


def _paths(node: Any, path: Path_ = ()) -> list[Path_]:
    out = [path]
    if isinstance(node, dict):
        for key, child in node.items():
            out += _paths(child, (*path, key))
    elif isinstance(node, list) and node:
        for i in sorted({0, 1, len(node) // 2, len(node) - 1} & set(range(len(node)))):
            out += _paths(node[i], (*path, i))
    return out


PATHS = _paths(STORED)[1:]  # not the root: the variants below replace it whole
corruptions = st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(["replace", "delete", "truncate"]),
                                 JSON_VALUES), min_size=1, max_size=3)


def _apply(data: dict[str, Any], path: Path_, action: str, value: Any) -> None:
    """Replace the value at ``path``, delete it, or cut the list it is in short (when the path still exists)."""
    parent: Any = data
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return
    last = path[-1]
    if isinstance(parent, dict) and last in parent or isinstance(parent, list) and isinstance(last, int) \
            and last < len(parent):
        if action == "replace":
            parent[last] = value  # type: ignore[index]
        elif action == "delete" or isinstance(parent, dict):
            del parent[last]  # type: ignore[arg-type]
        else:
            del parent[int(last):]


@settings(max_examples=400, deadline=None)
@given(corruptions)
def test_a_corrupted_baseline_reads_or_raises_baseline_error(changes: list[tuple[Path_, str, Any]]) -> None:
    corrupted = copy.deepcopy(STORED)
    for path, action, value in changes:
        _apply(corrupted, path, action, value)
    try:
        baseline = Baseline.from_dict(corrupted)
    except BaselineError as exc:
        assert exc.field and exc.problem  # names what is wrong
        return
    # What reads must be usable: counting and comparing raise nothing but the engine's own errors.
    rng = np.random.default_rng(1)
    signals = {name: rng.integers(0, 10, 200) if col.kind == "categorical" else rng.normal(3.0, 2.0, 200)
               for name, col in baseline.columns.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            compare_values(baseline, signals)
        except DriftError:
            pass


@pytest.mark.parametrize("variant", ["{}", "[]", '"text"', "null", '{"format": 1, "columns": {}}'])
def test_a_hollow_baseline_is_refused_with_the_field(variant: str) -> None:
    with pytest.raises(BaselineError) as info:
        Baseline.from_dict(json.loads(variant))
    assert info.value.field in ("root", "format", "columns")


def test_nan_edges_and_text_constants_are_named() -> None:
    nan_edges = copy.deepcopy(STORED)
    nan_edges["columns"]["score"]["edges"][3] = float("nan")
    with pytest.raises(BaselineError, match="score.edges"):
        Baseline.from_dict(nan_edges)
    text_constants = copy.deepcopy(STORED)
    text_constants["columns"]["score"]["null_constants"]["ks"] = "x"
    with pytest.raises(BaselineError, match="score.null_constants"):
        Baseline.from_dict(text_constants)
    listed_classes = copy.deepcopy(STORED)
    listed_classes["columns"]["class"]["categories"] = [[c] for c in listed_classes["columns"]["class"]["categories"]]
    with pytest.raises(BaselineError, match="class.categories"):
        Baseline.from_dict(listed_classes)
