"""The local demo stack: emulated functions with real cold starts, traffic, collection, alerts and
the dashboard, all started and stopped together (Ctrl-C or the end of ``duration_s`` leaves no
process behind)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from inferwatch.config import LocalDeploymentConfig
from reference_service.emulator import DeploymentConfig, Emulator, FaultConfig, ServiceConfig
from reference_service.emulator.table_inputs import TableSampler
from reference_service.loadgen import MAX_DURATION_S, DriftSpec, LoadProfile, run_load
from shell.alert_job import run_once
from shell.collect import collect_once
from shell.dashboard_server import start_dashboard
from shell.reference_baselines import ensure_model_baselines, reference_keys
from shell.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    duration_s: float | None = None  # None: until Ctrl-C
    dashboard: bool = True
    rate_rps: float = 8.0
    drift_after_s: float | None = 300.0  # shift the inputs after this long (drift to detect)
    malformed_fraction: float = 0.02
    collect_every_s: float = 10.0
    alerts_every_s: float = 60.0
    seed: int = 7


@dataclass
class DemoReport:
    requests: dict[str, int] = field(default_factory=dict)
    collections: int = 0
    alert_runs: int = 0
    instances_started: dict[str, int] = field(default_factory=dict)


def emulator_services(rt: Runtime) -> list[Any]:
    """The emulator's services from the configured local deployments, grouped by service."""
    grouped: dict[str, list[LocalDeploymentConfig]] = {}
    for d in rt.settings.deployments:
        if isinstance(d, LocalDeploymentConfig):
            grouped.setdefault(d.service or d.name, []).append(d)
    services = []
    for name, items in grouped.items():
        deployments = tuple(DeploymentConfig(
            d.name, model_version=d.model_version, role=d.role.value, memory_mb=d.memory_mb, timeout_s=d.timeout_s,
            concurrency=d.concurrency, min_instances=d.min_instances, max_instances=d.max_instances,
            keep_alive_s=d.keep_alive_s, shadow_version=d.shadow_version,
            faults=FaultConfig(slow_rate=d.fault_slow_rate, slow_ms=d.fault_slow_ms, error_rate=d.fault_error_rate),
            service=name, model_path=d.model_path, task=d.task, input_name=d.input_name,
            feature_names=tuple(d.feature_names) if d.feature_names else None,
        ) for d in items)
        services.append(ServiceConfig(name, deployments, weights={d.name: d.traffic_weight for d in items}))
    return services


@dataclass(frozen=True)
class OwnTraffic:
    """Traffic for a service serving a model of your own: rows of your data, and what the drift switch
    shifts (``reference_service.emulator.table_inputs``)."""
    sampler: TableSampler
    drift_features: tuple[str, ...]


def _profile(rt: Runtime, options: DemoOptions, service: str, own: Mapping[str, OwnTraffic],
             echo: Callable[[str], None]) -> tuple[Any, Any] | None:
    """(load profile, sampler) of one service; None when there is nothing to send it (a model of your own
    whose data the demo was not given)."""
    if service in own:
        traffic = own[service]
        drift = (DriftSpec(after_s=options.drift_after_s, features=traffic.drift_features, shift_sd=1.0)
                 if options.drift_after_s is not None and traffic.drift_features else None)
        # whole rows of your data, as they are: unshifted traffic is the reference distribution itself
        return replace(load_profile(options), drift=drift, noise_sd=0.0), traffic.sampler
    own_models = {d.service or d.name for d in rt.settings.deployments
                  if isinstance(d, LocalDeploymentConfig) and d.model_path is not None}
    if service in own_models:
        echo(f"no traffic for {service}: give `inferwatch demo --model <model> --data <reference data>` to send "
             "it rows of your data, or send requests to it yourself")
        return None
    return load_profile(options, DEMO_TRAFFIC.get(service, ServiceTraffic())), None


def run_demo(rt: Runtime, options: DemoOptions, *, echo: Callable[[str], None] = print,
             own: Mapping[str, OwnTraffic] | None = None) -> DemoReport:
    """The demo over the configured local deployments; ``own``: traffic of services serving your models."""
    store = rt.open_store()
    prepare_baselines(rt, store, echo)
    report = DemoReport()
    stop = threading.Event()
    dashboard: subprocess.Popen[bytes] | None = None
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with Emulator(rt.home, emulator_services(rt)) as emu:
            echo(f"emulator up: {', '.join(s.name for s in emulator_services(rt))} (home {rt.home})")
            loaders = []
            for svc in emulator_services(rt):
                planned = _profile(rt, options, svc.name, own or {}, echo)
                if planned is None:
                    continue
                thread = threading.Thread(target=_load, args=(emu.service_url(svc.name), planned[0], stop, report,
                                                              run_load, planned[1]),
                                          name=f"load-{svc.name}", daemon=True)
                thread.start()
                loaders.append(thread)
            if options.dashboard:
                dashboard = _start_dashboard(rt, echo)
            _loop(rt, store, options, stop, report, echo)
            stop.set()
            for thread in loaders:
                thread.join(timeout=15)
            collect_once(rt, store)  # the last minutes of traffic
            report.collections += 1
            report.instances_started = {d.name: d.instances_started_count for d in emu.stats().deployments}
    finally:
        stop.set()
        signal.signal(signal.SIGTERM, previous)
        if dashboard is not None:
            _stop_process_group(dashboard)
    return report


DRIFTED_FEATURES = ("mean radius", "mean texture", "worst area")


@dataclass(frozen=True)
class ServiceTraffic:
    """How one demo service's traffic differs from the steady ``rate_rps``."""
    rate_share: float = 1.0  # of DemoOptions.rate_rps
    burst_every_s: float | None = None  # plus burst_size requests at once this often
    burst_size: int = 0


# The scorer also gets ten requests at once every 20 s (a client fanning out a batch): more than its
# one warm instance holds, so warm capacity spills over. The reports service gets a quarter of the rate,
# far below the three warm instances it keeps. Services not named here get the steady rate.
DEMO_TRAFFIC: dict[str, ServiceTraffic] = {
    "scorer": ServiceTraffic(burst_every_s=20.0, burst_size=10),
    "reports": ServiceTraffic(rate_share=0.25),
}


def load_profile(options: DemoOptions, traffic: ServiceTraffic | None = None) -> Any:
    """Traffic of the demo: small batches, a few malformed requests, and a shift of three input
    features after ``drift_after_s`` (so the drift page has something real to find)."""
    traffic = traffic or ServiceTraffic()
    drift = (DriftSpec(after_s=options.drift_after_s, features=DRIFTED_FEATURES, shift_sd=1.0)
             if options.drift_after_s is not None else None)
    return LoadProfile(rate_per_s=options.rate_rps * traffic.rate_share,
                       duration_s=min(options.duration_s or MAX_DURATION_S, MAX_DURATION_S),
                       rows_min=1, rows_max=8, malformed_fraction=options.malformed_fraction, drift=drift,
                       seed=options.seed, burst_every_s=traffic.burst_every_s, burst_size=traffic.burst_size)


def _load(url: str, profile: Any, stop: threading.Event, report: DemoReport, run_load: Callable[..., Any],
          sampler: Any = None) -> None:
    try:
        result = run_load(url, profile, stop, sampler=sampler)
    except Exception:  # the demo goes on without load rather than crash; the log says why
        log.exception("load generator stopped")
        return
    for key, value in dict(result.outcomes).items():
        report.requests[key] = report.requests.get(key, 0) + int(value)


def _loop(rt: Runtime, store: Any, options: DemoOptions, stop: threading.Event, report: DemoReport,
          echo: Callable[[str], None]) -> None:
    started = time.monotonic()
    next_collect = started + options.collect_every_s
    next_alerts = started + options.alerts_every_s
    try:
        while not stop.is_set():
            now = time.monotonic()
            if options.duration_s is not None and now - started >= options.duration_s:
                return
            if now >= next_collect:
                collect_once(rt, store)
                report.collections += 1
                next_collect = now + options.collect_every_s
            if now >= next_alerts:
                run_alerts(rt, echo)
                report.alert_runs += 1
                next_alerts = now + options.alerts_every_s
            stop.wait(0.5)
    except KeyboardInterrupt:
        echo("stopping the demo...")


def run_alerts(rt: Runtime, echo: Callable[[str], None]) -> None:
    """The alert job into the file sink, as cron would run it."""
    try:
        run_once(rt)
    except Exception as exc:  # noqa: BLE001  an alert failure is shown, the demo goes on
        echo(f"alert job: {type(exc).__name__}: {exc}")


def prepare_baselines(rt: Runtime, store: Any, echo: Callable[[str], None]) -> None:
    """Drift baselines from the reference models' held-out predictions, once per service and version."""
    for key, baseline_id in ensure_model_baselines(store, reference_keys(rt.settings)).items():
        echo(f"baseline for {key.service} model {key.model_version}: {baseline_id}")


def _start_dashboard(rt: Runtime, echo: Callable[[str], None]) -> subprocess.Popen[bytes]:

    address, port = rt.settings.dashboard.address, rt.settings.dashboard.port
    env = {"INFERWATCH_HOME": str(rt.home)}
    if rt.settings.source_path:
        env["INFERWATCH_CONFIG"] = str(rt.settings.source_path)
    proc = start_dashboard(address, port, env=env, log_path=rt.home / "logs" / "dashboard.log")
    echo(f"dashboard: http://{address}:{port}")
    return proc


def _stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
