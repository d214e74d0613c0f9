"""The emulator: services -> routers -> deployment pools -> instance processes, plus its lifecycle.

Stopping is total: :meth:`Emulator.stop` runs at the end of a ``with`` block, on an exception, on Ctrl-C
(KeyboardInterrupt unwinds the block), on SIGTERM to the emulator's process (converted to SystemExit when
the emulator was started from the main thread and no SIGTERM handler was installed before) and at
interpreter exit (atexit). Instances live in their
own process groups, are SIGTERMed (they drain), then SIGKILLed after a grace period, and always reaped.
If the emulator itself is SIGKILLed, the kernel SIGTERMs the instances (PR_SET_PDEATHSIG, see instance.py).
"""

from __future__ import annotations

import atexit
import http.client
import json
import logging
import os
import signal
import threading
import types
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from reference_service.emulator.config import ServiceConfig, check_services
from reference_service.emulator.control import InvokeResult
from reference_service.emulator.errors import (
    EmulatorStoppedError,
    InstanceLostError,
    UnknownServiceError,
    UpstreamTimeoutError,
)
from reference_service.emulator.frontdoor import FrontDoor
from reference_service.emulator.instance import SERVER_MODULE, Instance, Spawner
from reference_service.emulator.pool import DeploymentPool, DeploymentStats
from reference_service.emulator.router import TrafficRouter

log = logging.getLogger("reference_service.emulator")
FORWARDED_HEADERS = frozenset({"x-request-id", "x-inferwatch-invocation-type"})
_FORWARD_MARGIN_S = 2.0  # the server degrades before timeout_s; this only catches a hung instance


@dataclass(frozen=True, slots=True)
class ServiceStats:
    name: str
    deployments: tuple[str, ...]
    weights: Mapping[str, float]
    routed_counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class EmulatorStats:
    url: str | None
    services: tuple[ServiceStats, ...]
    deployments: tuple[DeploymentStats, ...]

    def deployment(self, name: str) -> DeploymentStats:
        for stats in self.deployments:
            if stats.name == name:
                return stats
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Emulator:
    """Emulated serverless services on this machine. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        home: Path,
        services: Sequence[ServiceConfig],
        *,
        port: int = 0,
        frontdoor: bool = True,
        seed: int | None = None,
        env: Mapping[str, str] | None = None,
        tick_s: float = 0.1,
        handle_sigterm: bool = True,
        server_module: str = SERVER_MODULE,
    ) -> None:
        self._server_module = server_module
        check_services(services)
        self.home = Path(home).resolve()  # instances run with cwd = home: paths must be absolute
        self.services = tuple(services)
        self._port = port
        self._want_frontdoor = frontdoor
        self._rng = np.random.default_rng(seed)
        self._env = env
        self._tick_s = tick_s
        self._handle_sigterm = handle_sigterm
        self._routers: dict[str, TrafficRouter] = {}
        self._pools: dict[str, DeploymentPool] = {}
        self._spawner: Spawner | None = None
        self._monitor: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._state_lock = threading.Lock()
        self._running = False
        self._frontdoor: Any = None
        self._previous_sigterm: Any = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the pools (min instances prewarmed and READY), the monitor and the front door."""
        with self._state_lock:
            if self._running:
                return self
            self._running = True
        self._stop_event.clear()
        self.home.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        self._install_sigterm()
        try:
            self._spawner = Spawner()
            for service in self.services:
                self._routers[service.name] = TrafficRouter(service, self._rng.spawn(1)[0])
                for deployment in service.deployments:
                    self._pools[deployment.name] = DeploymentPool(
                        deployment, home=self.home, spawner=self._spawner, base_env=self._env,
                        on_event=lambda d, m: log.info("%s: %s", d, m), server_module=self._server_module,
                    )
            for pool in self._pools.values():
                pool.start_min_instances()
            self._monitor = threading.Thread(target=self._monitor_loop, name="emulator-monitor", daemon=True)
            self._monitor.start()
            if self._want_frontdoor:
                self._frontdoor = FrontDoor(self, port=self._port)
                self._frontdoor.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _install_sigterm(self) -> None:
        if not self._handle_sigterm or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # the program handles SIGTERM itself (and then leaves the with block): keep its handler

        def on_sigterm(signum: int, frame: types.FrameType | None) -> None:
            raise SystemExit(128 + signum)  # unwinds the with block / main loop, so stop() runs

        self._previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)

    def stop(self) -> None:
        """Stop everything this emulator started and reap every instance. Idempotent."""
        with self._state_lock:
            if not self._running:
                return
            self._running = False
        self._stop_event.set()
        if self._frontdoor is not None:
            self._frontdoor.stop()
            self._frontdoor = None
        for pool in self._pools.values():
            pool.close()
        if self._monitor is not None:
            self._monitor.join(timeout=5)
        for pool in self._pools.values():
            pool.wait_closed()
        if self._spawner is not None:
            self._spawner.close()
        if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _monitor_loop(self) -> None:
        while not self._stop_event.wait(self._tick_s):
            for pool in list(self._pools.values()):
                try:
                    pool.tick()
                except Exception:
                    log.exception("monitor tick failed for %s", pool.config.name)

    # -- traffic --------------------------------------------------------------------------------------

    def _router(self, service: str) -> TrafficRouter:
        try:
            return self._routers[service]
        except KeyError as exc:
            raise UnknownServiceError(service) from exc

    def set_traffic(self, service: str, weights: Mapping[str, float]) -> Mapping[str, float]:
        """Replace a service's split, e.g. ``{"scorer-v1": 0.9, "scorer-v2": 0.1}``."""
        return self._router(service).set_weights(weights)

    def promote(self, service: str, deployment: str) -> Mapping[str, float]:
        """Blue/green switch: all traffic to ``deployment`` at once."""
        return self._router(service).promote(deployment)

    def canary(self, service: str, deployment: str, weight: float) -> Mapping[str, float]:
        """Give a canary ``weight`` of the traffic (raise it in steps by calling again)."""
        return self._router(service).canary(deployment, weight)

    def rollback(self, service: str) -> Mapping[str, float]:
        """Instantly restore the previous split."""
        return self._router(service).rollback()

    # -- requests -------------------------------------------------------------------------------------

    def invoke(self, service: str, body: bytes, *, deployment: str | None = None,
               headers: Mapping[str, str] | None = None) -> InvokeResult:
        """Route one POST /predict body through the service (or straight to ``deployment``).

        ``headers`` may carry X-Request-Id and X-Inferwatch-Invocation-Type (``Event``: asynchronous).
        """
        if not self._running:
            raise EmulatorStoppedError("the emulator is not running")
        name = deployment if deployment is not None else self._router(service).choose()
        pool = self._pools.get(name)
        if pool is None:
            raise UnknownServiceError(f"{service}/{name}")
        instance, spawned = pool.acquire(wait_s=pool.config.queue_wait_s)
        try:
            status, payload, content_type = self._forward(pool, instance, body, headers or {})
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            if isinstance(exc, TimeoutError):
                raise UpstreamTimeoutError(name, pool.config.timeout_s) from exc
            reason = instance.death_reason or f"connection failed: {exc.__class__.__name__}"
            raise InstanceLostError(name, instance.instance_id, reason) from exc
        finally:
            pool.release(instance)
        return InvokeResult(status, payload, content_type, name, instance.instance_id, spawned)

    @staticmethod
    def _forward(pool: DeploymentPool, instance: Instance, body: bytes,
                 headers: Mapping[str, str]) -> tuple[int, bytes, str]:
        sent = {k: v for k, v in headers.items() if k.lower() in FORWARDED_HEADERS}
        sent["Content-Type"] = "application/json"
        for attempt in range(2):
            conn, reused = instance.take_connection(pool.config.timeout_s + _FORWARD_MARGIN_S)
            try:
                conn.request("POST", "/predict", body=body, headers=sent)
                response = conn.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if reused and attempt == 0:
                    continue  # the instance closed an idle keep-alive connection: the request never ran
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                instance.give_back(conn)
            return response.status, payload, response.getheader("Content-Type", "application/json")
        raise AssertionError("unreachable")

    # -- observation ----------------------------------------------------------------------------------

    @property
    def url(self) -> str | None:
        """Base URL of the front door (``http://127.0.0.1:<port>``), None without one."""
        return None if self._frontdoor is None else self._frontdoor.url

    def service_url(self, service: str) -> str:
        self._router(service)
        if self.url is None:
            raise EmulatorStoppedError("the front door is not running")
        return f"{self.url}/services/{service}/predict"

    def telemetry_dir(self, deployment: str) -> Path:
        return self.home / "telemetry" / deployment

    def child_pids(self) -> list[int]:
        """Pids of every instance process not yet reaped."""
        return [pid for pool in self._pools.values() for pid in pool.pids()]

    def stats(self) -> EmulatorStats:
        services = tuple(
            ServiceStats(
                name=s.name, deployments=s.deployment_names,
                weights=dict(self._routers[s.name].weights if s.name in self._routers else s.weights),
                routed_counts=dict(self._routers[s.name].routed_counts) if s.name in self._routers else {},
            )
            for s in self.services
        )
        return EmulatorStats(self.url, services, tuple(p.stats() for p in self._pools.values()))

    def stats_json(self) -> str:
        return json.dumps(self.stats().to_dict(), sort_keys=True)


def default_home(env: Mapping[str, str] = os.environ) -> Path:
    """``$INFERWATCH_HOME`` or ``./.inferwatch``."""
    return Path(env.get("INFERWATCH_HOME", ".inferwatch"))
