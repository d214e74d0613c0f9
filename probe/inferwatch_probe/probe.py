"""``Probe``: what a team adds to its own handler. See docs/telemetry.md and the package docstring.

One measuring path for every adapter (``begin`` -> the handler -> ``finish``) and both output modes.
Whatever fails inside the probe is reported once on stderr, counted in the lines, and never raised into
the handler; only a bad configuration raises, when the Probe is built.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import inferwatch_probe
from inferwatch_probe.bins import Bins, load_bins
from inferwatch_probe.emit import InvocationEmitter, WindowEmitter
from inferwatch_probe.errors import BinsFileError, ClientError, ProbeConfigError
from inferwatch_probe.lifecycle import ExitFlush
from inferwatch_probe.measure import CURRENT, Health, InstanceState, Invocation
from inferwatch_probe.process import INSTANCE_ID_MAX_CHARS, check_safe_name, name_problem
from inferwatch_probe.session import ProbedSession
from inferwatch_probe.settings import ProbeSettings
from inferwatch_probe.sinks import CallableSink, FileSink, Sink, StdoutSink

F = TypeVar("F", bound=Callable[..., Any])


class Probe:
    """Measures a model's handler and writes Inferwatch telemetry lines.

    ``deployment``, ``model_version`` and ``task`` (binary, multiclass, regression) are required, as
    arguments or from INFERWATCH_DEPLOYMENT, INFERWATCH_MODEL_VERSION, INFERWATCH_TASK; every setting is
    listed in :mod:`inferwatch_probe.settings`. ``sink``: None (stdout, or INFERWATCH_TELEMETRY_DIR's file),
    an object with ``write(line)``, or a callable taking each line. ``env`` replaces os.environ (tests).
    """

    ClientError = ClientError  # so a handler can ``raise probe.ClientError("...")``

    def __init__(self, deployment: str | None = None, model_version: str | None = None, task: str | None = None,
                 *, service: str | None = None, role: str | None = None, mode: str | None = None,
                 flush_interval_s: float | None = None, bins: str | os.PathLike[str] | None = None,
                 sink: Sink | Callable[[str], object] | None = None, feature_names: Sequence[str] | None = None,
                 model_sha256: str | None = None, memory_mb: int | None = None,
                 metrics: str | Sequence[str] | None = None, input_summary_rows: int | None = None,
                 instance_id: str | None = None, timeout_margin_ms: float = 100.0, prewarmed: bool | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.settings = ProbeSettings.from_env(
            os.environ if env is None else env, deployment=deployment, model_version=model_version, task=task,
            service=service, role=role, mode=mode, flush_interval_s=flush_interval_s, bins_path=bins,
            model_sha256=model_sha256, memory_mb=memory_mb, metrics=metrics,
            input_summary_rows=input_summary_rows, instance_id=instance_id, prewarmed=prewarmed)
        self.task = self.settings.task
        self.feature_names = tuple(feature_names) if feature_names is not None else None
        self.timeout_margin_ms = float(timeout_margin_ms)
        self.health = Health()
        self.instance = InstanceState(_init_type(self.settings), inferwatch_probe.IMPORTED_AT_S)
        self._sink_arg = sink
        self._bins = self._load_bins()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._lambda_memory_mb = 0
        self._built_pid = os.getpid()
        self._cold_pending = True
        self._forked = False
        _PROBES.add(self)
        self._start_process()
        self._exit_flush = ExitFlush(self.flush, self.health)
        if self.settings.mode == "window":
            self._exit_flush.install()

    # -- what the user calls -------------------------------------------------------------------------

    def session(self, model: Any, *, feature_names: Sequence[str] | None = None, providers: Sequence[str] | None = None,
                sess_options: Any = None, label_output: str | None = None, score_output: str | None = None,
                value_output: str | None = None) -> ProbedSession:
        """Wrap an onnxruntime ``InferenceSession`` (or load one from a model path, timing the load and
        taking the file's sha256) so that its ``run`` records predictions and inputs."""
        if isinstance(model, str | os.PathLike):
            with self.timed("load"):
                import onnxruntime  # only to load a path: the probe itself does not depend on it

                path = Path(model)
                if self.settings.model_sha256 is None:
                    self._set_sha256(_file_sha256(path))
                model = onnxruntime.InferenceSession(str(path), sess_options,
                                                     providers=list(providers or ["CPUExecutionProvider"]))
        return ProbedSession(self, model, feature_names=feature_names, label_output=label_output,
                             score_output=score_output, value_output=value_output)

    @contextlib.contextmanager
    def timed(self, step: str = "load") -> Iterator[None]:
        """Time an init step (``load`` counts as the model load; other names are reported by name)."""
        problem = name_problem(step)
        if problem is not None:
            raise ProbeConfigError(f"step {problem}", field="step", value=step)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.instance.add_step(step, (time.perf_counter() - t0) * 1000)

    def ready(self) -> None:
        """Optional: the instance is initialised and waits for requests (a server about to listen). The
        first invocation's init then ends here instead of when that request arrives."""
        self.instance.mark_ready(time.time())

    @contextlib.contextmanager
    def invocation(self, request_id: str | None = None, *, started_s: float | None = None) -> Iterator[Invocation]:
        """One invocation of anything: ``with probe.invocation() as inv: ...``. Exceptions propagate.
        ``started_s``: when it really began (a ``time.perf_counter()`` value), if before the block (a
        request whose body was read first)."""
        inv = self.begin(request_id, started_s)
        token = CURRENT.set(inv)
        try:
            yield inv if inv is not None else Invocation(self, request_id, 0.0, 0)
        except BaseException as exc:
            CURRENT.reset(token)
            self.finish(inv, exc)
            raise
        CURRENT.reset(token)
        self.finish(inv, None)

    def lambda_handler(self, fn: F) -> F:
        """Decorate a Lambda handler ``fn(event, context)``."""
        from inferwatch_probe.lambda_adapter import wrap_lambda  # on use: the probe's import budget is 50 ms

        return wrap_lambda(self, fn)

    def wsgi(self, app: Any) -> Any:
        """Wrap a WSGI application (Flask, Django, a plain callable)."""
        from inferwatch_probe.wsgi import ProbedWSGI  # imported on use

        return ProbedWSGI(self, app)

    def asgi(self, app: Any) -> Any:
        """Wrap an ASGI application (Starlette, FastAPI, ...): HTTP requests are measured."""
        from inferwatch_probe.asgi import ProbedASGI  # imported on use

        return ProbedASGI(self, app)

    @property
    def current(self) -> Invocation | None:
        inv = CURRENT.get()
        return inv if inv is not None and inv.owner is self else None

    def degraded(self, reason: str = "Degraded") -> None:
        """Mark the current invocation degraded (a fallback answer)."""
        inv = self.current
        if inv is not None:
            inv.degraded(reason)

    def record(self, **kwargs: Any) -> None:
        """``Invocation.record`` on the current invocation."""
        inv = self.current
        if inv is not None:
            inv.record(**kwargs)

    def flush(self, reason: str = "manual") -> None:
        """Window mode: write the window now. Invocation mode: nothing to do."""
        try:
            self._check_process()
            self._emitter.flush(reason)
        except Exception as exc:  # noqa: BLE001 - never raised: called from atexit and signal handlers too
            self.health.fail("flush", exc)

    def close(self) -> None:
        """Write what is left, release the sink's file, and remove the exit and SIGTERM hooks."""
        self.flush("close")
        self._exit_flush.uninstall()
        close = getattr(self._sink, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - nothing left to protect but the caller
                self.health.fail("closing the sink", exc)

    # -- what the adapters call ----------------------------------------------------------------------

    def begin(self, request_id: str | None, started_s: float | None = None) -> Invocation | None:
        """Start measuring an invocation (None if the probe itself failed: the handler runs anyway)."""
        try:
            self._check_process()
            with self._lock:
                self._in_flight += 1
                concurrency = self._in_flight
            inv = Invocation(self, request_id, time.perf_counter() if started_s is None else started_s, concurrency)
            if self._cold_pending:  # one attribute read on the warm path
                inv.init = self.instance.take_cold_start(time.time())
                self._cold_pending = False
            return inv
        except Exception as exc:  # noqa: BLE001 - the probe never fails the handler
            self.health.fail("starting an invocation", exc)
            return None

    def finish(self, inv: Invocation | None, exc: BaseException | None) -> None:
        """End an invocation (once: a Lambda timeout may have ended it already) and emit it."""
        if inv is None:
            return
        try:
            now_s = time.perf_counter()
            with self._lock:
                if inv.done:
                    return
                inv.done = True
                self._in_flight -= 1
            inv.finish(exc, now_s)
            self._emitter.emit(inv)
        except Exception as err:  # noqa: BLE001 - the probe never fails the handler
            self.health.fail("ending an invocation", err)

    def note_memory_mb(self, memory_mb: int) -> None:
        """The configured memory the platform reports (Lambda's context), unless configured explicitly."""
        self._lambda_memory_mb = memory_mb

    # -- internals -----------------------------------------------------------------------------------

    def _memory_mb(self) -> int:
        return self.settings.memory_mb or self._lambda_memory_mb

    def _load_bins(self) -> Bins | None:
        if self.settings.bins_path is None:
            return None
        try:
            return load_bins(self.settings.bins_path)
        except BinsFileError as exc:
            self.health.fail("loading the bins file", exc)
            return None

    def _start_process(self) -> None:
        """Instance id, sink and emitter of this process (again in a forked child: its parent's window
        must not be written twice, and it is another instance)."""
        self._pid = os.getpid()
        self._cold_pending = True
        base = self.settings.instance_id
        if base is None:
            self.instance_id = f"{self.settings.deployment[:48]}-{self._pid}-{os.urandom(3).hex()}"
        else:  # a forked child is another instance: it must not write under its parent's id
            self.instance_id = base if self._pid == self._built_pid else f"{base[:50]}-{self._pid}"
        check_safe_name(self.instance_id, "instance_id", max_chars=INSTANCE_ID_MAX_CHARS)
        self._sink = self._make_sink()
        self._emitter: InvocationEmitter | WindowEmitter
        if self.settings.mode == "window":
            self._emitter = WindowEmitter(self.settings, self.instance_id, self._sink, self.health, self._memory_mb,
                                          self._bins)
        else:
            self._emitter = InvocationEmitter(self.settings, self.instance_id, self._sink, self.health, self._memory_mb)

    def _check_process(self) -> None:
        if self._forked:
            self._forked = False
            with self._lock:
                self._in_flight = 0
            self._start_process()

    def _make_sink(self) -> Sink:
        given = self._sink_arg
        if given is not None:
            return given if hasattr(given, "write") else CallableSink(given)
        if self.settings.telemetry_dir is not None:
            return FileSink(self.settings.telemetry_dir, self.instance_id,
                            rotate_bytes=int(self.settings.rotate_mb * (1 << 20)))
        return StdoutSink()

    def _set_sha256(self, sha256: str) -> None:
        """A model sha256 learnt from ``session(path)``: the identity members of the lines change."""
        self.settings = replace(self.settings, model_sha256=sha256)
        self._emitter.set_identity(self.settings, self.instance_id)


def _init_type(settings: ProbeSettings) -> str:
    if settings.prewarmed:
        return "prewarmed"
    return settings.init_type or ("on-demand" if settings.platform == "lambda" else "process")


_PROBES: weakref.WeakSet[Probe] = weakref.WeakSet()


def _mark_forked() -> None:
    """In a forked child: every probe starts afresh at its next use (a flag read per invocation instead
    of a getpid system call)."""
    for probe in list(_PROBES):
        probe._forked = True


os.register_at_fork(after_in_child=_mark_forked)


def _file_sha256(path: Path) -> str:
    import hashlib  # here, not at import: hashlib loads OpenSSL (5 ms of every cold start)

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
