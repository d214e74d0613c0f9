"""The two output modes over one measuring path: ``InvocationEmitter`` writes a line per invocation,
``WindowEmitter`` aggregates and writes a line per flush interval. Neither ever raises: a line that
cannot be built or written is counted (``Health``) and dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from inferwatch_probe import __version__
from inferwatch_probe.bins import Bins
from inferwatch_probe.invocation_line import InvocationEncoder
from inferwatch_probe.measure import Health, Invocation
from inferwatch_probe.process import PeakMemory
from inferwatch_probe.settings import ProbeSettings
from inferwatch_probe.sinks import Sink
from inferwatch_probe.window import WindowAggregator
from inferwatch_probe.window_line import encode_window, identity, window_document

_SEVERITY_MESSAGE = "inferwatch window"
PEAK_MEMORY_MAX_AGE_S = 0.1  # invocation lines: the peak read at most this long ago


class InvocationEmitter:
    def __init__(self, settings: ProbeSettings, instance_id: str, sink: Sink, health: Health,
                 memory_mb: Callable[[], int]) -> None:
        self.set_identity(settings, instance_id)
        self._sink = sink
        self._health = health
        self._memory_mb = memory_mb
        self._peak = PeakMemory(max_age_s=PEAK_MEMORY_MAX_AGE_S)

    def set_identity(self, settings: ProbeSettings, instance_id: str) -> None:
        self._encoder = InvocationEncoder(settings, instance_id)

    def emit(self, inv: Invocation) -> None:
        try:
            errors = self._health.unreported()
            line = self._encoder.encode(inv, memory_mb=self._memory_mb(), max_memory_used_mb=self._peak.read_mb(),
                                        probe_errors=errors)
            self._sink.write(line)
            self._health.reported(errors)
        except Exception as exc:  # noqa: BLE001 - counted, never raised into the handler
            self._health.dropped_lines += 1
            self._health.fail("writing an invocation line", exc)

    def flush(self, reason: str) -> None:
        """Nothing is kept: every line is written when its invocation ends."""


class WindowEmitter:
    def __init__(self, settings: ProbeSettings, instance_id: str, sink: Sink, health: Health,
                 memory_mb: Callable[[], int], bins: Bins | None) -> None:
        self.set_identity(settings, instance_id)
        self._sink = sink
        self._health = health
        self._memory_mb = memory_mb
        self._bins = bins
        self._peak = PeakMemory()
        self._aggregator = WindowAggregator(bins, int(time.time() * 1000))
        self._interval_s = settings.flush_interval_s
        self._next_flush_s = time.monotonic() + self._interval_s
        self._flush_lock = threading.Lock()
        self._last_flush_ms: float | None = None

    def set_identity(self, settings: ProbeSettings, instance_id: str) -> None:
        self._settings = settings
        self._head = identity(settings, instance_id)

    def emit(self, inv: Invocation) -> None:
        try:
            self._aggregator.add(inv)
        except Exception as exc:  # noqa: BLE001 - counted, never raised into the handler
            self._health.fail("adding an invocation to the window", exc)
        if time.monotonic() >= self._next_flush_s:
            self.flush("interval")

    def flush(self, reason: str) -> None:
        """Write the window now (if it holds any invocation) and start the next one."""
        # at exit or on SIGTERM, wait for a flush running in another thread rather than skip; a flush
        # interrupted by the signal in this very thread times out instead of deadlocking
        if not self._flush_lock.acquire(timeout=1.0 if reason in ("exit", "sigterm") else 0):
            return
        try:
            self._next_flush_s = time.monotonic() + self._interval_s
            if self._aggregator.count:
                self._write(reason)
        except Exception as exc:  # noqa: BLE001 - counted, never raised into the handler
            self._health.dropped_lines += 1
            self._health.fail("writing a window line", exc)
        finally:
            self._flush_lock.release()

    def _write(self, reason: str) -> None:
        t0 = time.perf_counter()
        now_ms = int(time.time() * 1000)
        state = self._aggregator.take(now_ms)
        for signal in state.signals.values():
            if getattr(signal, "mismatched", False):
                self._health.fail("counting over the bins file", "class or category values of another type "
                                  "than the bins file's categories were counted as other")
        errors = self._health.unreported()
        probe: dict[str, Any] = {"version": __version__, "errors": errors,
                                 "dropped_lines": self._health.dropped_lines}
        if self._last_flush_ms is not None:
            probe["last_flush_ms"] = self._last_flush_ms
        doc = window_document(state, head=self._head, end_ms=now_ms, reason=reason,
                              memory=(self._peak.read_mb(), self._memory_mb()),
                              bins_sha256=self._bins.sha256 if self._bins is not None else None, probe=probe)
        if self._settings.platform == "cloud_run":
            doc["severity"] = "INFO"
            doc["message"] = f"{_SEVERITY_MESSAGE} {sum(state.invocations.values())} invocations"
        self._sink.write(encode_window(state, doc))
        self._health.reported(errors)
        self._last_flush_ms = round((time.perf_counter() - t0) * 1000, 3)
