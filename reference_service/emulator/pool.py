"""The instance pool of one deployment: scale from zero on demand, keep-alive, min instances, OOM kills.

Scheduling model (deterministic, so tests can count): a request takes a free slot on a READY instance
(the busiest one first, packing work so that idle instances can expire), else a free slot on an instance
that is still STARTING (it waits for that cold start), else it spawns a new instance and waits for it (a
cold start it pays for), else, at max_instances, it queues until a slot frees or the timeout passes
(then :class:`ThrottledError`, HTTP 429). So N simultaneous requests with concurrency c start exactly
ceil(N / c) instances.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reference_service.emulator.config import DeploymentConfig
from reference_service.emulator.errors import EmulatorStoppedError, InstanceStartError, ThrottledError
from reference_service.emulator.instance import PROJECT_ROOT, SERVER_MODULE, Instance, InstanceState, Spawner

STARTUP_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 5.0
_REPLENISH_BACKOFF_S = 1.0
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class InstanceStats:
    instance_id: str
    pid: int | None
    port: int | None
    state: str
    prewarmed: bool
    in_flight: int
    served_count: int
    init_ms: float | None  # spawn -> READY as the emulator measured it
    rss_mb: float
    peak_rss_mb: float
    idle_s: float


@dataclass(frozen=True, slots=True)
class DeploymentStats:
    name: str
    model_version: str
    role: str
    memory_mb: int
    concurrency: int
    min_instances: int
    max_instances: int
    keep_alive_s: float
    instances: tuple[InstanceStats, ...]  # live instances (starting or ready)
    instances_started_count: int  # every process spawned, prewarmed or not
    cold_start_count: int  # instances spawned on demand for a request (first request is a cold start)
    prewarmed_count: int  # instances started ahead of traffic (min_instances)
    scaled_down_count: int  # instances stopped after keep_alive_s idle
    oom_kill_count: int
    crash_count: int  # exited without being asked to (OOM kills excluded)
    start_failure_count: int
    throttled_count: int
    requests_count: int
    max_memory_used_mb: float  # peak RSS over every instance so far
    cold_start_ms: tuple[float, ...]  # spawn -> READY of each on-demand instance


class DeploymentPool:
    """Instances of one deployment. Thread-safe; every mutable field is guarded by ``_cond``."""

    def __init__(
        self,
        config: DeploymentConfig,
        *,
        home: Path,
        spawner: Spawner,
        base_env: Mapping[str, str] | None = None,
        on_event: Callable[[str, str], None] | None = None,
        server_module: str = SERVER_MODULE,
    ) -> None:
        self._server_module = server_module
        self.config = config
        self._home = home
        self._spawner = spawner
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._on_event = on_event or (lambda deployment, message: None)
        self._cond = threading.Condition()
        self._instances: list[Instance] = []
        self._stopping: list[Instance] = []
        self._closed = False
        self._last_replenish = 0.0
        self._counts = dict.fromkeys(
            ("started", "cold", "prewarmed", "scaled_down", "oom", "crash", "start_failed", "throttled",
             "requests"), 0)
        self._cold_start_ms: list[float] = []
        self._peak_rss_mb = 0.0

    @property
    def telemetry_dir(self) -> Path:
        return self._home / "telemetry" / self.config.name

    def _env(self, instance: Instance) -> dict[str, str]:
        # Nothing INFERWATCH_* is inherited: a stray INFERWATCH_SHADOW_VERSION or INFERWATCH_FAULT_* in the
        # parent's environment must not change what the deployment's config says (use extra_env instead).
        env = {k: v for k, v in self._base_env.items() if not k.startswith("INFERWATCH_")}
        pythonpath = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + pythonpath if pythonpath else "")
        env.update(self.config.instance_env())
        env.update(
            PORT="0",
            HOST="127.0.0.1",
            INFERWATCH_HOME=str(self._home),
            INFERWATCH_TELEMETRY_DIR=str(self.telemetry_dir),
            INFERWATCH_INSTANCE_ID=instance.instance_id,
            PYTHONUNBUFFERED="1",
        )
        if instance.prewarmed:
            env["INFERWATCH_PREWARMED"] = "1"
        else:
            env.pop("INFERWATCH_PREWARMED", None)
        return env

    # -- spawning -------------------------------------------------------------------------------------

    def _new_instance(self, *, prewarmed: bool) -> Instance:
        """Reserve a new instance in the table (caller holds the lock); launch it outside the lock."""
        instance = Instance(self.config.name, f"{self.config.name}-{os.getpid()}-{next(_ids)}", prewarmed=prewarmed)
        self._instances.append(instance)
        self._counts["started"] += 1
        self._counts["prewarmed" if prewarmed else "cold"] += 1
        return instance

    def _launch(self, instance: Instance) -> None:
        try:
            instance.launch(self._spawner, self._env(instance), self._home / "logs" / self.config.name,
                            cwd=self._home, module=self._server_module)
        except InstanceStartError:
            self._drop(instance, "start_failed")
            raise
        self._on_event(self.config.name, f"spawned {instance.instance_id} pid={instance.pid}")

    def _drop(self, instance: Instance, counter: str | None) -> None:
        with self._cond:
            if instance in self._instances:
                self._instances.remove(instance)
                if counter is not None:
                    self._counts[counter] += 1
            instance.state = InstanceState.DEAD
            self._cond.notify_all()
        instance.close_connections()

    def start_min_instances(self) -> None:
        """Start min_instances prewarmed instances and wait until they are all READY."""
        with self._cond:
            fresh = [self._new_instance(prewarmed=True) for _ in range(self.config.min_instances)]
        for instance in fresh:
            self._launch(instance)
        for instance in fresh:
            self._await_ready(instance)

    def _await_ready(self, instance: Instance) -> None:
        try:
            instance.wait_ready(STARTUP_TIMEOUT_S)
        except InstanceStartError:
            instance.kill()
            self._drop(instance, "start_failed")
            raise
        with self._cond:
            if instance.state is InstanceState.STARTING:
                instance.sample_rss_mb()  # the model is loaded: near the instance's steady peak
                self._peak_rss_mb = max(self._peak_rss_mb, instance.peak_rss_mb)
                instance.state = InstanceState.READY
                instance.last_used = time.monotonic()
                if not instance.prewarmed and instance.init_ms is not None:
                    self._cold_start_ms.append(instance.init_ms)
            self._cond.notify_all()

    # -- request path ---------------------------------------------------------------------------------

    def _pick(self) -> Instance | None:
        capacity = self.config.concurrency
        ready = [i for i in self._instances if i.state is InstanceState.READY and i.in_flight < capacity]
        if ready:
            return max(ready, key=lambda i: (i.in_flight, -i.spawned_at))
        starting = [i for i in self._instances if i.state is InstanceState.STARTING and i.in_flight < capacity]
        return min(starting, key=lambda i: i.spawned_at) if starting else None

    def acquire(self, wait_s: float) -> tuple[Instance, bool]:
        """A READY instance with a slot reserved for the caller, and whether the caller spawned it."""
        deadline = time.monotonic() + wait_s
        spawned = False
        with self._cond:
            while True:
                if self._closed:
                    raise EmulatorStoppedError(f"{self.config.name} is stopping")
                instance = self._pick()
                if instance is None and len(self._instances) < self.config.max_instances:
                    instance, spawned = self._new_instance(prewarmed=False), True
                if instance is not None:
                    instance.in_flight += 1
                    self._counts["requests"] += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._counts["throttled"] += 1
                    raise ThrottledError(self.config.name, self.config.max_instances)
                self._cond.wait(remaining)
        try:
            if spawned:
                self._launch(instance)
            self._await_ready(instance)
        except InstanceStartError:
            self.release(instance)
            raise
        return instance, spawned

    def release(self, instance: Instance) -> None:
        with self._cond:
            instance.in_flight -= 1
            instance.served_count += 1
            instance.last_used = time.monotonic()
            self._cond.notify_all()

    # -- housekeeping (called periodically by the emulator's monitor thread) --------------------------

    def tick(self) -> None:
        """Kill OOM instances, notice crashes, stop idle instances, reap stopped ones, keep min instances."""
        now = time.monotonic()
        with self._cond:
            live = list(self._instances)
        for instance in live:
            if instance.exited() and instance.state is not InstanceState.STOPPING:
                reason = f"exited with code {instance.proc.returncode if instance.proc else '?'}"
                instance.death_reason = instance.death_reason or reason
                if instance.state is InstanceState.READY:
                    self._drop(instance, "crash")
                continue
            rss_mb = instance.sample_rss_mb()
            with self._cond:
                self._peak_rss_mb = max(self._peak_rss_mb, instance.peak_rss_mb)
            if rss_mb > self.config.memory_mb and instance.state is not InstanceState.DEAD:
                instance.death_reason = f"out of memory: {rss_mb:.1f} MB > {self.config.memory_mb} MB"
                instance.kill()
                self._on_event(self.config.name, f"OOM-killed {instance.instance_id} ({rss_mb:.1f} MB)")
                self._drop(instance, "oom")
                with self._cond:
                    self._stopping.append(instance)
        self._scale_down(now)
        self._reap_stopping()
        self._replenish(now)

    def _scale_down(self, now: float) -> None:
        with self._cond:
            # Prewarmed instances are the warm capacity (Lambda's provisioned environments): only those
            # started on demand expire, so telemetry's Prewarmed flag keeps meaning warm capacity.
            ready = [i for i in self._instances if i.state is InstanceState.READY and not i.prewarmed]
            surplus = len(self._instances) - self.config.min_instances
            idle = sorted(
                (i for i in ready if i.in_flight == 0 and now - i.last_used >= self.config.keep_alive_s),
                key=lambda i: i.last_used,
            )
            victims = idle[: max(surplus, 0)]
            for instance in victims:
                instance.state = InstanceState.STOPPING
                self._instances.remove(instance)
                self._counts["scaled_down"] += 1
                self._stopping.append(instance)
        for instance in victims:
            instance.terminate()
            self._on_event(self.config.name, f"scaled down idle {instance.instance_id}")

    def _reap_stopping(self) -> None:
        with self._cond:
            stopping = list(self._stopping)
        for instance in stopping:
            if instance.exited():
                instance.reap(0)
                with self._cond:
                    if instance in self._stopping:
                        self._stopping.remove(instance)
            elif instance.stop_requested_at is not None and (
                time.monotonic() - instance.stop_requested_at > DRAIN_TIMEOUT_S
            ):
                instance.kill()

    def _replenish(self, now: float) -> None:
        with self._cond:
            if self._closed or len(self._instances) >= self.config.min_instances:
                return
            if now - self._last_replenish < _REPLENISH_BACKOFF_S:
                return
            self._last_replenish = now
            instance = self._new_instance(prewarmed=True)
        try:
            self._launch(instance)
        except InstanceStartError:
            return
        threading.Thread(target=self._await_quietly, args=(instance,), daemon=True).start()

    def _await_quietly(self, instance: Instance) -> None:
        try:
            self._await_ready(instance)
        except InstanceStartError as exc:
            self._on_event(self.config.name, str(exc))

    # -- shutdown -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop taking requests and SIGTERM every instance (use :meth:`wait_closed` to reap them)."""
        with self._cond:
            self._closed = True
            everything = self._instances + self._stopping
            self._instances = []
            self._stopping = everything
            self._cond.notify_all()
        for instance in everything:
            instance.state = InstanceState.STOPPING
            instance.terminate()

    def wait_closed(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        with self._cond:
            stopping, self._stopping = self._stopping, []
        for instance in stopping:
            instance.reap(timeout_s)

    def pids(self) -> list[int]:
        with self._cond:
            return [i.pid for i in self._instances + self._stopping if i.pid is not None]

    def stats(self) -> DeploymentStats:
        now = time.monotonic()
        cfg = self.config
        with self._cond:
            live = list(self._instances)
        for instance in live:  # fresh numbers: the monitor samples only every tick
            instance.sample_rss_mb()
        with self._cond:
            self._peak_rss_mb = max([self._peak_rss_mb, *(i.peak_rss_mb for i in live)])
            instances = tuple(
                InstanceStats(
                    instance_id=i.instance_id, pid=i.pid, port=i.port, state=i.state.value, prewarmed=i.prewarmed,
                    in_flight=i.in_flight, served_count=i.served_count, init_ms=i.init_ms,
                    rss_mb=round(i.rss_mb, 2), peak_rss_mb=round(i.peak_rss_mb, 2),
                    idle_s=round(now - i.last_used, 3) if i.in_flight == 0 else 0.0,
                )
                for i in self._instances
            )
            c = dict(self._counts)
            cold_ms = tuple(self._cold_start_ms)
        return DeploymentStats(
            name=cfg.name, model_version=cfg.model_version, role=cfg.role, memory_mb=cfg.memory_mb,
            concurrency=cfg.concurrency, min_instances=cfg.min_instances, max_instances=cfg.max_instances,
            keep_alive_s=cfg.keep_alive_s, instances=instances, instances_started_count=c["started"],
            cold_start_count=c["cold"], prewarmed_count=c["prewarmed"], scaled_down_count=c["scaled_down"],
            oom_kill_count=c["oom"], crash_count=c["crash"], start_failure_count=c["start_failed"],
            throttled_count=c["throttled"], requests_count=c["requests"],
            max_memory_used_mb=round(self._peak_rss_mb, 2), cold_start_ms=cold_ms,
        )
