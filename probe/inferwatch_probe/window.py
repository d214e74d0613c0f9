"""Window mode: per-instance aggregates kept in memory and written as one line per flush interval.

``WindowAggregator.add`` is the per-invocation path: a few counters and copies into preallocated buffers
(see :mod:`inferwatch_probe.buffers`), under a lock shared with concurrent requests. ``take`` swaps in a
fresh window under the lock and hands back the finished one; binning it and encoding the line then run
outside the lock, so other requests never wait for them.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from inferwatch_probe.bins import Bins, CategoricalBins, NumericBins
from inferwatch_probe.buffers import ColumnBuffer, LabelBuffer, StringBuffer
from inferwatch_probe.outputs import Prediction
from inferwatch_probe.signals import CategoricalSignal, NumericSignal
from inferwatch_probe.sketch import LogSketch

if TYPE_CHECKING:
    from inferwatch_probe.measure import InitInfo, Invocation

STATUSES = ("ok", "client_error", "timeout", "degraded", "error")
LATENCY_SCALE = 8  # latency buckets per doubling: 4.4 % relative accuracy
MAX_ERROR_TYPES = 16  # written: the most frequent ones
MAX_ERROR_TYPES_KEPT = 64  # counted in memory: the first distinct ones seen
MAX_SIGNALS = 1024
MAX_LAYOUTS = 8  # distinct feature layouts buffered at once before they are binned
_LATENCY_BUFFER = 4096


@dataclass
class WindowState:
    start_ms: int
    invocations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    error_types: dict[str, int] = field(default_factory=dict)
    error_types_other: int = 0
    qualifiers: dict[str, int] = field(default_factory=dict)
    function: str | None = None
    rows: int = 0
    first_ms: int = 0
    last_ms: int = 0
    inference_ms_sum: float = 0.0
    concurrency_max: int = 0
    init: InitInfo | None = None
    latency_buffer: NDArray[np.float64] = field(default_factory=lambda: np.empty(_LATENCY_BUFFER, dtype=np.float64))
    latency_n: int = 0
    latency: LogSketch = field(default_factory=lambda: LogSketch(LATENCY_SCALE))
    numeric: dict[tuple[str, ...], ColumnBuffer] = field(default_factory=dict)
    strings: dict[tuple[str, ...], StringBuffer] = field(default_factory=dict)
    labels: LabelBuffer | None = None
    signals: dict[str, NumericSignal | CategoricalSignal] = field(default_factory=dict)
    signals_dropped: int = 0

    @property
    def count(self) -> int:
        return sum(self.invocations.values())


class WindowAggregator:
    def __init__(self, bins: Bins | None, start_ms: int) -> None:
        self.bins = bins
        self._lock = threading.RLock()  # re-entrant: a SIGTERM handler may flush on top of an add
        self._state = WindowState(start_ms)

    @property
    def count(self) -> int:
        return self._state.count

    @property
    def first_ms(self) -> int:
        return self._state.first_ms

    def add(self, inv: Invocation) -> None:
        with self._lock:
            st = self._state
            st.invocations[inv.status] += 1
            if inv.error_type is not None:
                if inv.error_type in st.error_types or len(st.error_types) < MAX_ERROR_TYPES_KEPT:
                    st.error_types[inv.error_type] = st.error_types.get(inv.error_type, 0) + 1
                else:
                    st.error_types_other += 1
            if inv.lambda_target is not None:
                st.function = inv.lambda_target[0]
                st.qualifiers[inv.lambda_target[1]] = st.qualifiers.get(inv.lambda_target[1], 0) + 1
            if st.latency_n == _LATENCY_BUFFER:
                self._fold_latency(st)
            st.latency_buffer[st.latency_n] = inv.latency_ms
            st.latency_n += 1
            st.first_ms = st.first_ms or inv.timestamp_ms
            st.last_ms = inv.timestamp_ms
            st.inference_ms_sum += inv.inference_ms
            st.concurrency_max = max(st.concurrency_max, inv.concurrency)
            if inv.init is not None:
                st.init = inv.init
            for p in inv.predictions:
                st.rows += p.rows
                self._put(st, p)

    def take(self, now_ms: int) -> WindowState:
        """The window so far (its buffers binned), replaced by an empty one starting at ``now_ms``."""
        with self._lock:
            done, self._state = self._state, WindowState(now_ms)
        self._fold_all(done)
        return done

    def _put(self, st: WindowState, p: Prediction) -> None:
        if p.scores is not None:
            self._numeric(st, ("score",), p.scores.reshape(-1, 1), None)
        if p.values is not None:
            self._numeric(st, ("value",), p.values.reshape(-1, 1), None)
        if p.labels is not None:
            st.labels = st.labels or LabelBuffer()
            st.labels.put(p.labels, lambda labels: self._fold_labels(st, labels))
        f = p.features
        if f is not None and f.numeric is not None:
            self._numeric(st, signal_names(f.numeric_names), f.numeric, f.numeric_nulls)
        if f is not None and f.categorical:
            names = signal_names(f.categorical_names)
            buffer = st.strings.get(names)
            if buffer is None:
                buffer = st.strings[names] = StringBuffer(names)
            buffer.put(f.categorical, lambda ns, cols: self._fold_strings(st, ns, cols))

    def _numeric(self, st: WindowState, names: tuple[str, ...], block: NDArray[Any],
                 nulls: tuple[int, ...] | None) -> None:
        buffer = st.numeric.get(names)
        if buffer is None:
            if len(st.numeric) >= MAX_LAYOUTS:
                self._fold_buffers(st)
                st.numeric.clear()
            buffer = st.numeric[names] = ColumnBuffer(names)
        buffer.put(block, nulls, lambda ns, data, nl: self._fold_columns(st, ns, data, nl))

    def _signal(self, st: WindowState, name: str, categorical: bool) -> NumericSignal | CategoricalSignal | None:
        """The signal's counts, created on first use; None (counted as dropped) past ``MAX_SIGNALS`` or
        when a feature that was numeric turns up as strings (or the reverse) within one window."""
        signal = st.signals.get(name)
        if signal is None and len(st.signals) < MAX_SIGNALS:
            bins = self.bins.signals.get(name) if self.bins is not None else None
            if categorical:
                signal = CategoricalSignal(bins if isinstance(bins, CategoricalBins) else None)
            else:
                signal = NumericSignal(bins if isinstance(bins, NumericBins) else None)
            st.signals[name] = signal
        if signal is None or isinstance(signal, CategoricalSignal) != categorical:
            st.signals_dropped += 1
            return None
        return signal

    def _fold_columns(self, st: WindowState, names: tuple[str, ...], data: NDArray[Any],
                      nulls: NDArray[np.int64]) -> None:
        for j, name in enumerate(names):
            signal = self._signal(st, name, False)
            if isinstance(signal, NumericSignal):
                signal.add(data[:, j], int(nulls[j]))

    def _fold_strings(self, st: WindowState, names: tuple[str, ...], columns: list[list[str | None]]) -> None:
        for name, column in zip(names, columns, strict=True):
            signal = self._signal(st, name, True)
            if isinstance(signal, CategoricalSignal):
                signal.add(column)

    def _fold_labels(self, st: WindowState, labels: NDArray[np.int64] | list[str]) -> None:
        signal = self._signal(st, "class", True)
        if isinstance(signal, CategoricalSignal):
            signal.add(labels)

    def _fold_latency(self, st: WindowState) -> None:
        st.latency.add(st.latency_buffer[:st.latency_n])
        st.latency_n = 0

    def _fold_buffers(self, st: WindowState) -> None:
        for buffer in st.numeric.values():
            buffer.flush(lambda ns, data, nl: self._fold_columns(st, ns, data, nl))
        for strings in st.strings.values():
            strings.flush(lambda ns, cols: self._fold_strings(st, ns, cols))
        if st.labels is not None:
            st.labels.flush(lambda labels: self._fold_labels(st, labels))

    def _fold_all(self, st: WindowState) -> None:
        self._fold_latency(st)
        self._fold_buffers(st)


@functools.lru_cache(maxsize=256)
def signal_names(feature_names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"feature:{n}" for n in feature_names)
