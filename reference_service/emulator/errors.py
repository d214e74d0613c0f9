"""Errors raised by the local serverless emulator and the load generator.

::

    EmulatorError                  base of everything raised here
    ├── ConfigError                a config value is invalid (carries ``field`` and ``problem``)
    ├── UnknownServiceError        no service with that name (carries ``service``)
    ├── InstanceStartError         an instance process exited or hung before it printed READY
    ├── ThrottledError             every instance slot busy and max_instances reached (HTTP 429)
    ├── InstanceLostError          the instance died while serving (crash or OOM kill, HTTP 502)
    ├── UpstreamTimeoutError       the instance did not answer within the timeout (HTTP 504)
    ├── EmulatorStoppedError       the emulator is stopping or was never started
    └── LoadGenError               a load profile or target is invalid (carries ``field``)
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Base of every error raised by reference_service.emulator and reference_service.loadgen."""


class ConfigError(EmulatorError):
    """A configuration value is invalid; ``field`` names it, ``problem`` says why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class UnknownServiceError(EmulatorError):
    """No service of that name is configured."""

    def __init__(self, service: str) -> None:
        super().__init__(f"unknown service {service!r}")
        self.service = service


class InstanceStartError(EmulatorError):
    """An instance process exited, or did not print READY, before it could serve."""

    def __init__(self, deployment: str, instance_id: str, reason: str) -> None:
        super().__init__(f"instance {instance_id} of {deployment} failed to start: {reason}")
        self.deployment = deployment
        self.instance_id = instance_id
        self.reason = reason


class ThrottledError(EmulatorError):
    """No free slot and max_instances reached for longer than the queue wait."""

    def __init__(self, deployment: str, max_instances: int) -> None:
        super().__init__(f"{deployment}: all {max_instances} instances busy (throttled)")
        self.deployment = deployment
        self.max_instances = max_instances


class InstanceLostError(EmulatorError):
    """The instance process died while a request was in flight."""

    def __init__(self, deployment: str, instance_id: str, reason: str) -> None:
        super().__init__(f"instance {instance_id} of {deployment} lost: {reason}")
        self.deployment = deployment
        self.instance_id = instance_id
        self.reason = reason


class UpstreamTimeoutError(EmulatorError):
    """The instance did not answer within the deployment's timeout."""

    def __init__(self, deployment: str, timeout_s: float) -> None:
        super().__init__(f"{deployment}: no answer within {timeout_s:g} s")
        self.deployment = deployment
        self.timeout_s = timeout_s


class EmulatorStoppedError(EmulatorError):
    """The emulator is not running (not started yet, or stopping)."""


class LoadGenError(EmulatorError):
    """A load profile or target is invalid; ``field`` names the bad setting."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
