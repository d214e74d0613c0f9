"""One emulated serverless instance: a real OS process running the Cloud Run server.

Every instance runs ``python -m reference_service.server_cloudrun`` in its own session (so its process
group can be signalled as a whole, and a Ctrl-C on the terminal reaches only the emulator, which then stops
the instances in order). On Linux the child also asks the kernel for PR_SET_PDEATHSIG, so even a SIGKILL of
the emulator leaves no instance behind. PR_SET_PDEATHSIG fires when the *thread* that forked the child
exits, which is why every fork happens on one long-lived :class:`Spawner` thread rather than on the request
thread that needed the instance.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import enum
import http.client
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import IO

import psutil

from reference_service.emulator.errors import EmulatorStoppedError, InstanceStartError

SERVER_MODULE = "reference_service.server_cloudrun"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6", use_errno=True)
    except OSError:
        return None
    prctl: Callable[..., int] = libc.prctl
    return prctl


_PRCTL = _load_prctl()


def _make_preexec(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec: keep it tiny
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os._exit(1)

    return preexec


class Spawner:
    """Forks every instance process from one long-lived thread (see the module docstring)."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[list[str], dict[str, object], Future[subprocess.Popen[bytes]]] | None]
        self._jobs = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="emulator-spawner", daemon=True)
        self._closed = False
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            argv, kwargs, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(subprocess.Popen(argv, **kwargs))  # type: ignore[call-overload]
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(exc)

    def popen(self, argv: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        if self._closed:
            raise EmulatorStoppedError("spawner is closed")
        future: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((argv, kwargs, future))
        return future.result()

    def close(self) -> None:
        self._closed = True
        self._jobs.put(None)
        self._thread.join(timeout=5)


class InstanceState(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    DEAD = "dead"


class Instance:
    """A server process plus the bookkeeping the pool needs (mutated under the pool's lock)."""

    def __init__(self, deployment: str, instance_id: str, *, prewarmed: bool) -> None:
        self.deployment = deployment
        self.instance_id = instance_id
        self.prewarmed = prewarmed
        self.state = InstanceState.STARTING
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.in_flight = 0
        self.served_count = 0
        self.spawned_at = time.monotonic()
        self.last_used = self.spawned_at
        self.init_ms: float | None = None  # spawn -> READY, measured by the emulator
        self.rss_mb = 0.0
        self.peak_rss_mb = 0.0
        self.death_reason: str | None = None
        self.stop_requested_at: float | None = None
        self._ready = threading.Event()
        self._start_error: str | None = None
        self._psutil: psutil.Process | None = None
        self._log: IO[bytes] | None = None
        self._idle_conns: list[http.client.HTTPConnection] = []
        self._conn_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def launch(self, spawner: Spawner, env: Mapping[str, str], log_dir: Path, *, cwd: Path,
               module: str = SERVER_MODULE) -> None:
        """Start the process and a thread that waits for its READY line. Does not block on READY."""
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(log_dir / f"{self.instance_id}.log", "ab")  # noqa: SIM115 - closed in _watch
        self.spawned_at = time.monotonic()
        try:
            self.proc = spawner.popen(
                [sys.executable, "-m", module],
                env=dict(env),
                cwd=str(cwd),  # relative paths of the instance land in the emulator's home
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_make_preexec(os.getpid()),
            )
        except (OSError, EmulatorStoppedError) as exc:
            self._fail(f"could not spawn: {exc}")
            self._log.close()
            raise InstanceStartError(self.deployment, self.instance_id, str(exc)) from exc
        if self.stop_requested_at is not None:  # stopped while the fork was in flight: it must not run on
            self.signal_group(signal.SIGTERM)
        try:
            self._psutil = psutil.Process(self.proc.pid)
        except psutil.Error:
            self._psutil = None
        threading.Thread(target=self._watch, name=f"stderr-{self.instance_id}", daemon=True).start()

    def _watch(self) -> None:
        """Find ``READY port=N`` on stderr, then keep draining stderr into the instance log."""
        assert self.proc is not None and self.proc.stderr is not None and self._log is not None
        log = self._log
        for raw in iter(self.proc.stderr.readline, b""):
            log.write(raw)
            log.flush()
            if not self._ready.is_set() and raw.startswith(b"READY port="):
                try:
                    self.port = int(raw.split(b"=", 1)[1].split()[0])
                except (ValueError, IndexError):
                    self._fail(f"unparseable READY line {raw!r}")
                    continue
                self.init_ms = (time.monotonic() - self.spawned_at) * 1000.0
                self._ready.set()
        self.proc.stderr.close()
        if not self._ready.is_set():
            code = self.proc.wait()
            self._fail(f"exited with code {code} before READY (see {log.name})")
        log.close()

    def _fail(self, reason: str) -> None:
        self._start_error = reason
        self._ready.set()

    def wait_ready(self, timeout_s: float) -> None:
        """Block until READY; raise InstanceStartError if the process died or hung."""
        if not self._ready.wait(timeout_s):
            raise InstanceStartError(self.deployment, self.instance_id, f"no READY within {timeout_s:g} s")
        if self._start_error is not None:
            reason = self.death_reason or self._start_error  # e.g. "out of memory" beats "exited with -9"
            raise InstanceStartError(self.deployment, self.instance_id, reason)
        if self.state is InstanceState.DEAD:
            raise InstanceStartError(self.deployment, self.instance_id, self.death_reason or "died")

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self._start_error is None

    @property
    def start_failed(self) -> bool:
        return self._ready.is_set() and self._start_error is not None

    def sample_rss_mb(self) -> float:
        """Current resident set size of the instance process in MB (0 when gone)."""
        if self._psutil is None:
            return 0.0
        try:  # the server forks nothing, so the process is the instance (children() would scan all of /proc)
            rss = self._psutil.memory_info().rss
        except psutil.Error:
            return 0.0
        self.rss_mb = rss / (1024 * 1024)
        self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb)
        return self.rss_mb

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def signal_group(self, sig: int) -> None:
        """Signal the whole process group, unless the leader was already reaped (its pgid may be reused)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    # -- keep-alive connections to the instance (new TCP connections per request cost more than the model)

    def take_connection(self, timeout_s: float) -> tuple[http.client.HTTPConnection, bool]:
        """An idle keep-alive connection (reused=True) or a new one, with Nagle off."""
        with self._conn_lock:
            if self._idle_conns:
                return self._idle_conns.pop(), True
        if self.port is None:
            raise ConnectionError(f"instance {self.instance_id} has no port")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        conn.connect()
        if conn.sock is not None:  # headers and body go out as separate writes: never wait for an ACK
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, False

    def give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._conn_lock:
            if self.state in (InstanceState.STARTING, InstanceState.READY):
                self._idle_conns.append(conn)
                return
        conn.close()

    def close_connections(self) -> None:
        with self._conn_lock:
            idle, self._idle_conns = self._idle_conns, []
        for conn in idle:
            conn.close()

    def terminate(self) -> None:
        self.close_connections()
        self.stop_requested_at = time.monotonic()
        self.signal_group(signal.SIGTERM)

    def kill(self) -> None:
        self.close_connections()
        self.signal_group(signal.SIGKILL)

    def reap(self, timeout_s: float) -> None:
        """Wait for exit; SIGKILL the group if it takes longer than ``timeout_s``. Always reaps."""
        self.close_connections()
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()
