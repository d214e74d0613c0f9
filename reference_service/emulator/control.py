"""What the emulator's HTTP front door asks of the emulator, and what one invocation answers: the front
door depends on this, not on the emulator itself, which starts the front door."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class InvokeResult:
    """One answer from an instance, with where it was served."""

    status: int
    body: bytes
    content_type: str
    deployment: str
    instance_id: str
    cold_start: bool  # this request spawned the instance that served it


class EmulatorControl(Protocol):
    """The emulator as its front door drives it (``reference_service.emulator.runtime.Emulator``)."""

    def invoke(self, service: str, body: bytes, *, deployment: str | None = None,
               headers: Mapping[str, str] | None = None) -> InvokeResult: ...

    def set_traffic(self, service: str, weights: Mapping[str, float]) -> Mapping[str, float]: ...

    def promote(self, service: str, deployment: str) -> Mapping[str, float]: ...

    def canary(self, service: str, deployment: str, weight: float) -> Mapping[str, float]: ...

    def rollback(self, service: str) -> Mapping[str, float]: ...

    def stats_json(self) -> str: ...
