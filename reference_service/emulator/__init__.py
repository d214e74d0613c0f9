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

Counting (``DeploymentStats``): ``instances_started_count = cold_start_count + prewarmed_count``. Only
on-demand instances have a cold first request, so the telemetry's ``sum(ColdStart)`` equals
``cold_start_count`` (prewarmed min instances start with INFERWATCH_PREWARMED=1 and log ColdStart=0).
``max_memory_used_mb`` is the peak RSS sampled with psutil; an instance whose RSS exceeds ``memory_mb``
is SIGKILLed (``oom_kill_count``) and its requests fail with 502 / InstanceLostError.

Environment: instances inherit the parent's environment minus every ``INFERWATCH_*`` variable; their
settings come from ``DeploymentConfig`` only (``extra_env`` for anything not modelled there).
Run by hand: ``python -m reference_service.emulator`` (see ``__main__.py``).
"""

from __future__ import annotations

from reference_service.emulator.config import DeploymentConfig, FaultConfig, ServiceConfig
from reference_service.emulator.control import InvokeResult
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
from reference_service.emulator.runtime import Emulator, EmulatorStats, ServiceStats, default_home

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
