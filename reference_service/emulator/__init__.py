"""Local serverless emulator: each instance of an emulated function is a real OS process.

Public API::

    from reference_service.emulator import DeploymentConfig, Emulator, ServiceConfig

    services = [ServiceConfig("scorer", (
        DeploymentConfig("scorer-v1", model_version="v1", role="stable", min_instances=1),
        DeploymentConfig("scorer-v2", model_version="v2", role="canary"),
    ), weights={"scorer-v1": 0.9, "scorer-v2": 0.1})]
    with Emulator(home, services) as emu:          # min instances prewarmed and READY on return
        emu.service_url("scorer")                  # http://127.0.0.1:<port>/services/scorer/predict
        emu.invoke("scorer", body)                 # in-process, same routing as the front door
        emu.canary("scorer", "scorer-v2", 0.5)     # raise a canary in steps
        emu.promote("scorer", "scorer-v2")         # blue/green switch; emu.rollback("scorer") undoes it
        emu.stats()                                # EmulatorStats: instances, cold starts, OOM kills...

Telemetry: every instance appends EMF lines to ``<home>/telemetry/<deployment>/<instance_id>.jsonl``;
instance stdout/stderr go to ``<home>/logs/<deployment>/<instance_id>.log``.
"""

from __future__ import annotations

from reference_service.emulator.config import DeploymentConfig, FaultConfig, ServiceConfig
from reference_service.emulator.errors import (
    ConfigError,
    EmulatorError,
    EmulatorStoppedError,
    InstanceLostError,
    InstanceStartError,
    LoadGenError,
    ThrottledError,
    UnknownServiceError,
    UpstreamTimeoutError,
)
from reference_service.emulator.pool import DeploymentStats, InstanceStats
from reference_service.emulator.runtime import (
    Emulator,
    EmulatorStats,
    InvokeResult,
    ServiceStats,
    default_home,
)

__all__ = [
    "ConfigError",
    "DeploymentConfig",
    "DeploymentStats",
    "Emulator",
    "EmulatorError",
    "EmulatorStats",
    "EmulatorStoppedError",
    "FaultConfig",
    "InstanceLostError",
    "InstanceStartError",
    "InstanceStats",
    "InvokeResult",
    "LoadGenError",
    "ServiceConfig",
    "ServiceStats",
    "ThrottledError",
    "UnknownServiceError",
    "UpstreamTimeoutError",
    "default_home",
]
