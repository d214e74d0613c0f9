"""Request inputs for the load generator: held-out rows of a reference model with noise and drift, rows of
your own reference data (``TableSampler``), and malformed bodies. Both samplers offer the same four things
(``Sampler``): the drift shift of named features, a batch of rows, the malformed kinds they can make, and
one malformed body of a kind."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from reference_service.emulator.errors import LoadGenError

MODEL_DIR = Path(__file__).resolve().parents[1] / "model"
MALFORMED_KINDS = ("not_json", "wrong_row_length", "nan_value", "string_value", "missing_instances",
                   "above_range", "below_range")


class Sampler(Protocol):
    @property
    def feature_names(self) -> tuple[str, ...]: ...

    @property
    def malformed_kinds(self) -> tuple[str, ...]: ...

    def shift_for(self, features: Sequence[str], shift_sd: float) -> Any: ...

    def sample(self, rng: np.random.Generator, rows: int, noise_sd: float, shift: Any = None) -> np.ndarray: ...

    def malformed(self, kind: str, row: np.ndarray, rng: np.random.Generator) -> bytes: ...


@dataclass(frozen=True, slots=True)
class InputSampler:
    """Rows drawn from held-out inputs, with noise, drift and clipping to the card's valid range."""

    inputs: np.ndarray  # (n, features) float64
    feature_names: tuple[str, ...]
    valid_min: np.ndarray
    valid_max: np.ndarray
    std: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if self.inputs.ndim != 2 or self.inputs.shape[0] == 0 or self.inputs.shape[1] != len(self.feature_names):
            raise LoadGenError("inputs", f"held-out inputs of shape {self.inputs.shape} do not match the features")
        std = self.inputs.std(axis=0)
        object.__setattr__(self, "std", np.where(std > 0, std, 1.0))

    @classmethod
    def from_model_dir(cls, version: str = "v1", model_dir: Path = MODEL_DIR) -> InputSampler:
        card_path, heldout_path = model_dir / f"{version}.card.json", model_dir / f"heldout_{version}.npz"
        try:
            card = json.loads(card_path.read_text())
            with np.load(heldout_path) as heldout:
                inputs = np.asarray(heldout["inputs"], dtype=np.float64)
        except (OSError, KeyError, ValueError) as exc:
            raise LoadGenError("model_version", f"cannot read {card_path.name} / {heldout_path.name}: {exc}") from exc
        return cls(inputs, tuple(card["feature_names"]), np.asarray(card["valid_min"], dtype=np.float64),
                   np.asarray(card["valid_max"], dtype=np.float64))

    def feature_index(self, names: Sequence[str]) -> np.ndarray:
        missing = [n for n in names if n not in self.feature_names]
        if missing:
            raise LoadGenError("drift.features", f"unknown features {missing}")
        return np.array([self.feature_names.index(n) for n in names], dtype=np.int64)

    @property
    def malformed_kinds(self) -> tuple[str, ...]:
        return MALFORMED_KINDS

    def shift_for(self, features: Sequence[str], shift_sd: float) -> np.ndarray:
        """``shift_sd`` held-out standard deviations added to ``features``."""
        shift = np.zeros(len(self.feature_names))
        index = self.feature_index(features)
        shift[index] = shift_sd * self.std[index]
        return shift

    def malformed(self, kind: str, row: np.ndarray, rng: np.random.Generator) -> bytes:
        return malformed_body(kind, row, self, rng)

    def sample(self, rng: np.random.Generator, rows: int, noise_sd: float,
               shift: np.ndarray | None = None) -> np.ndarray:
        x = self.inputs[rng.integers(0, self.inputs.shape[0], size=rows)]
        x = x + rng.normal(0.0, 1.0, size=x.shape) * (noise_sd * self.std)
        if shift is not None:
            x = x + shift
        clipped: np.ndarray = np.clip(x, self.valid_min, self.valid_max)
        return clipped


def malformed_body(kind: str, row: np.ndarray, sampler: InputSampler, rng: np.random.Generator) -> bytes:
    """One request body that a correct service must refuse with 400, of the given ``kind``."""
    values = [float(v) for v in row]
    position = int(rng.integers(0, len(values)))
    if kind == "not_json":
        return json.dumps({"instances": [values]}).encode()[: -int(rng.integers(2, 10))]
    if kind == "wrong_row_length":
        return json.dumps({"instances": [values[:-1]]}).encode()
    if kind == "nan_value":
        values[position] = math.nan
        return json.dumps({"instances": [values]}).encode()  # NaN is not JSON: the service must say so
    if kind == "string_value":
        return json.dumps({"instances": [[*values[:position], "abc", *values[position + 1:]]]}).encode()
    if kind == "missing_instances":
        return json.dumps({"rows": [values]}).encode()
    if kind == "above_range":
        values[position] = float(sampler.valid_max[position]) * 10.0 + 1e6
        return json.dumps({"instances": [values]}).encode()
    if kind == "below_range":
        values[position] = float(sampler.valid_min[position]) - 1e6
        return json.dumps({"instances": [values]}).encode()
    raise LoadGenError("malformed kind", f"unknown kind {kind!r} (known: {', '.join(MALFORMED_KINDS)})")
