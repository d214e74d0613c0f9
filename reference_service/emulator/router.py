"""Traffic splitting of one service between its deployments: blue/green, canary, rollback.

Weights change atomically: a request already routed finishes where it went, every request routed after
the change sees the new weights ("switch at once"). Every change pushes the previous weights on a history
stack, so :meth:`TrafficRouter.rollback` restores the last split instantly.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from reference_service.emulator.config import ServiceConfig, normalize_weights
from reference_service.emulator.errors import ConfigError


class TrafficRouter:
    """Chooses a deployment per request by weight; thread-safe."""

    def __init__(self, service: ServiceConfig, rng: np.random.Generator) -> None:
        self.service = service.name
        self._names = service.deployment_names
        self._rng = rng
        self._lock = threading.Lock()
        self._weights = np.array([service.weights[n] for n in self._names], dtype=float)
        self._history: list[np.ndarray] = []
        self._routed = dict.fromkeys(self._names, 0)

    @property
    def weights(self) -> Mapping[str, float]:
        with self._lock:
            return MappingProxyType({n: float(w) for n, w in zip(self._names, self._weights, strict=True)})

    @property
    def routed_counts(self) -> Mapping[str, int]:
        with self._lock:
            return MappingProxyType(dict(self._routed))

    def choose(self) -> str:
        with self._lock:
            cumulative = np.cumsum(self._weights)
            index = int(np.searchsorted(cumulative, self._rng.random() * cumulative[-1], side="right"))
            name = self._names[min(index, len(self._names) - 1)]
            self._routed[name] += 1
        return name

    def set_weights(self, weights: Mapping[str, float]) -> Mapping[str, float]:
        """Replace the split (deployments left out get 0); returns the normalized weights."""
        normalized = normalize_weights(weights, self._names, f"{self.service}.weights")
        with self._lock:
            self._history.append(self._weights.copy())
            self._weights = np.array([normalized[n] for n in self._names], dtype=float)
        return self.weights

    def promote(self, deployment: str) -> Mapping[str, float]:
        """Blue/green: send all traffic to ``deployment`` at once."""
        return self.set_weights({deployment: 1.0})

    def canary(self, deployment: str, weight: float) -> Mapping[str, float]:
        """Give ``deployment`` the share ``weight``; the others keep their relative split of the rest."""
        if deployment not in self._names:
            raise ConfigError(f"{self.service}.canary", f"unknown deployment {deployment!r}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
            raise ConfigError(f"{self.service}.canary.weight", f"{weight!r} is not in [0, 1]")
        with self._lock:
            current = dict(zip(self._names, self._weights.tolist(), strict=True))
        others = {n: w for n, w in current.items() if n != deployment}
        rest = sum(others.values())
        if rest <= 0:  # everything was on the canary: spread the remainder evenly
            others = dict.fromkeys(others, 1.0)
            rest = float(len(others)) or 1.0
        split = {n: (1.0 - weight) * w / rest for n, w in others.items()}
        split[deployment] = float(weight)
        return self.set_weights(split)

    def rollback(self) -> Mapping[str, float]:
        """Restore the split in force before the last change."""
        with self._lock:
            if not self._history:
                raise ConfigError(f"{self.service}.rollback", "no earlier traffic split to roll back to")
            self._weights = self._history.pop()
        return self.weights
