"""The bins file: the baseline's bins, so window lines carry exact counts over them.

``inferwatch baseline create`` exports it; the probe reads it from ``INFERWATCH_PROBE_BINS`` (or the
``bins=`` argument) once, when the Probe is built. Format (docs/telemetry.md, "The bins file")::

    {"schema": "inferwatch.bins/1",
     "signals": {"score": {"edges": [0.05, 0.2, 0.5, 0.8, 0.95]},
                 "class": {"categories": [0, 1]},
                 "feature:colour": {"categories": ["red", "white"]}}}

Numeric bins are right-closed, as in ``drift/binning.py``: with edges ``e_0 < ... < e_{K-1}``, bin 0 holds
the finite values <= e_0, bin i those in (e_{i-1}, e_i], bin K those > e_{K-1}. NaN, +inf, -inf and nulls
are counted apart. Categorical bins count each listed category; anything else is ``other``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from inferwatch_probe.errors import BinsFileError

BINS_SCHEMA = "inferwatch.bins/1"
MAX_BINS_FILE_BYTES = 8 << 20
MAX_SIGNALS = 2048
MAX_EDGES = 1024
MAX_CATEGORIES = 1024


@dataclass(frozen=True, slots=True)
class NumericBins:
    edges: NDArray[np.float64]

    def count(self, finite: NDArray[np.float64]) -> NDArray[np.int64]:
        """Counts per bin (len(edges) + 1) of finite values."""
        # searchsorted 'left' gives i with e[i-1] < v <= e[i]: the right-closed bin of v
        return np.bincount(np.searchsorted(self.edges, finite, side="left"),
                           minlength=self.edges.size + 1).astype(np.int64)


@dataclass(frozen=True, slots=True)
class CategoricalBins:
    categories: tuple[str | int, ...]
    positions: Mapping[str | int, int]


@dataclass(frozen=True, slots=True)
class Bins:
    sha256: str
    signals: Mapping[str, NumericBins | CategoricalBins]


def load_bins(path: Path) -> Bins:
    """The bins file at ``path``, or :class:`BinsFileError` saying what is wrong with it."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BINS_FILE_BYTES + 1)
    except OSError as exc:
        raise BinsFileError(f"cannot be read ({exc.strerror or exc})", path=str(path)) from exc
    if len(raw) > MAX_BINS_FILE_BYTES:
        raise BinsFileError(f"larger than {MAX_BINS_FILE_BYTES} bytes", path=str(path))
    return parse_bins(raw, str(path))


def parse_bins(raw: bytes, path: str = "<bytes>") -> Bins:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BinsFileError(f"not JSON ({exc})", path=path) from exc
    if not isinstance(doc, dict) or doc.get("schema") != BINS_SCHEMA:
        raise BinsFileError(f'must be a JSON object with "schema": "{BINS_SCHEMA}"', path=path)
    signals = doc.get("signals")
    if not isinstance(signals, dict) or len(signals) > MAX_SIGNALS:
        raise BinsFileError(f'"signals" must be an object of at most {MAX_SIGNALS} signals', path=path)
    parsed: dict[str, NumericBins | CategoricalBins] = {}
    for name, spec in signals.items():
        if not _signal_name_ok(name):
            raise BinsFileError(f"signal {name!r}: expected score, value, class or feature:<name>", path=path)
        parsed[name] = _signal(name, spec, path)
    import hashlib  # here, not at import: hashlib loads OpenSSL (5 ms of every cold start)

    return Bins(sha256=hashlib.sha256(raw).hexdigest(), signals=parsed)


def _signal_name_ok(name: str) -> bool:
    return name in ("score", "value", "class") or (name.startswith("feature:") and 8 < len(name) <= 264)


def _signal(name: str, spec: Any, path: str) -> NumericBins | CategoricalBins:
    if not isinstance(spec, dict) or len(spec) != 1 or not ({"edges", "categories"} & set(spec)):
        raise BinsFileError(f'signal {name!r}: expected {{"edges": [...]}} or {{"categories": [...]}}', path=path)
    if "edges" in spec:
        edges = spec["edges"]
        if (not isinstance(edges, list) or len(edges) > MAX_EDGES
                or not all(isinstance(e, int | float) and not isinstance(e, bool) and math.isfinite(e) for e in edges)):
            raise BinsFileError(f"signal {name!r}: edges must be at most {MAX_EDGES} finite numbers", path=path)
        arr = np.asarray(edges, dtype=np.float64)
        if arr.size > 1 and not bool(np.all(np.diff(arr) > 0)):
            raise BinsFileError(f"signal {name!r}: edges must be strictly increasing", path=path)
        return NumericBins(edges=arr)
    categories = spec["categories"]
    if not isinstance(categories, list) or not 0 < len(categories) <= MAX_CATEGORIES:
        raise BinsFileError(f"signal {name!r}: categories must be 1 to {MAX_CATEGORIES} values", path=path)
    all_str = all(isinstance(c, str) for c in categories)
    all_int = all(isinstance(c, int) and not isinstance(c, bool) for c in categories)
    if not (all_str or all_int) or len(set(categories)) != len(categories):
        raise BinsFileError(f"signal {name!r}: categories must be distinct, all strings or all integers", path=path)
    return CategoricalBins(categories=tuple(categories), positions={c: i for i, c in enumerate(categories)})
