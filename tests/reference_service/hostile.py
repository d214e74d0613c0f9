"""Hypothesis strategies for malformed and hostile requests, shared by the fuzz tests of both adapters."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from hypothesis import strategies as st

from reference_service.model import PACKAGED_MODEL_DIR, ModelCard

CARD = ModelCard.load("v1")
GOOD_ROWS: list[list[float]] = np.load(PACKAGED_MODEL_DIR / "heldout_v1.npz")["inputs"][:20].astype(float).tolist()

weird_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 2**63, -(2**63) - 1, 10**300]),
)
scalars = st.one_of(st.none(), st.booleans(), weird_numbers, st.text(max_size=12))
# a fixed pool of nasty cell values: one draw each (recursive strategies cost ~10x more per draw)
HOSTILE_VALUES: tuple[Any, ...] = (
    float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 1e39, -1.0, -5e-324, 10**400, -(10**30), 2**63,
    True, False, None, "", "1.5", "NaN", "\u0000", "\ud83d\ude00", "x" * 200, [], [1.0], [[1.0]], {}, {"a": 1},
    1e9, 123456789012345678901234567890, 0.0,
)
hostile_values = st.integers(0, len(HOSTILE_VALUES) - 1).map(HOSTILE_VALUES.__getitem__)

json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                                                inner, max_size=4),
                           max_leaves=20)


@st.composite
def near_valid_rows(draw: st.DrawFn) -> list[Any]:
    """Mostly-valid rows with a few cells, lengths or types broken."""
    rows: list[Any] = [list(r) for r in draw(st.lists(st.sampled_from(GOOD_ROWS), min_size=0, max_size=5))]
    for _ in range(draw(st.integers(0, 4))):
        if not rows:
            break
        i = draw(st.integers(0, len(rows) - 1))
        action = draw(st.sampled_from(["cell", "cut", "extend", "replace"]))
        if action == "cell" and isinstance(rows[i], list) and rows[i]:
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(hostile_values)
        elif action == "cut" and isinstance(rows[i], list):
            rows[i] = rows[i][: draw(st.integers(0, 29))]
        elif action == "extend" and isinstance(rows[i], list):
            rows[i] = rows[i] + draw(st.lists(weird_numbers, min_size=1, max_size=3))
        elif action == "replace":
            rows[i] = draw(hostile_values)
    return rows


@st.composite
def named_inputs(draw: st.DrawFn) -> Any:
    row = dict(zip(CARD.feature_names, draw(st.sampled_from(GOOD_ROWS)), strict=True))
    for name in draw(st.lists(st.sampled_from(CARD.feature_names), max_size=3)):
        if draw(st.booleans()):
            row.pop(name, None)
        else:
            row[name] = draw(hostile_values)
    for key in draw(st.lists(st.text(max_size=10), max_size=2)):
        row[key] = draw(hostile_values)
    return row if draw(st.booleans()) else [row] * draw(st.integers(0, 3))


@st.composite
def request_docs(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["instances", "inputs", "both", "extra", "value", "empty"]))
    if kind == "instances":
        return {"instances": draw(near_valid_rows())}
    if kind == "inputs":
        return {"inputs": draw(named_inputs())}
    if kind == "both":
        return {"instances": draw(near_valid_rows()), "inputs": draw(named_inputs())}
    if kind == "extra":
        doc: dict[str, Any] = {"instances": draw(near_valid_rows())}
        doc.update(draw(st.dictionaries(st.text(min_size=1, max_size=30), json_values, min_size=1, max_size=3)))
        return doc
    if kind == "value":
        return draw(json_values)
    return {}


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


SPECIAL_BODIES = (b"", b"null", b"[]", b"{", b'{"instances": [[NaN]]}', b'{"instances": Infinity}',
                  b"[" * 5000 + b"]" * 5000, b'{"instances": [[' + b"9" * 5000 + b"]]}",
                  b'\xef\xbb\xbf{"instances": []}', b'{"instances": [[1e999]]}', b'"\\ud800"')

raw_bodies = st.one_of(
    request_docs().map(_dumps),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.integers(0, len(SPECIAL_BODIES) - 1).map(SPECIAL_BODIES.__getitem__),
)
