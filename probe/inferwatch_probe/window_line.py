"""Window mode: the line a finished window becomes (docs/telemetry.md, "Window lines").

Lines stay under ``MAX_LINE_BYTES`` (Cloud Logging and CloudWatch Logs both take 256 KB events): a line
that would be longer has its largest sketches halved in scale (exactly, see :mod:`inferwatch_probe.sketch`)
down to ``MIN_SCALE``, then its largest signals dropped and named in ``signals_truncated``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from inferwatch_probe.measure import InitInfo
from inferwatch_probe.settings import ProbeSettings
from inferwatch_probe.signals import NumericSignal
from inferwatch_probe.sketch import to_runs
from inferwatch_probe.window import LATENCY_SCALE, MAX_ERROR_TYPES, WindowState

SCHEMA = "inferwatch.window/1"
MAX_LINE_BYTES = 200_000
MIN_SCALE = 4


def init_member(init: InitInfo) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": init.init_type, "cold": init.cold, "init_ms": init.init_ms,
                           "load_ms": init.load_ms, "other_ms": round(init.other_ms, 3)}
    if init.process_to_import_ms is not None:
        doc["process_to_import_ms"] = init.process_to_import_ms
    if init.ready_ms is not None:
        doc["ready_ms"] = init.ready_ms
    if init.steps_ms:
        doc["steps_ms"] = dict(init.steps_ms)
    if init.first_inference_ms is not None:
        doc["first_inference_ms"] = round(init.first_inference_ms, 3)
    return doc


def identity(settings: ProbeSettings, instance_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema": SCHEMA, "kind": "window", "deployment": settings.deployment,
                           "service": settings.service, "model_version": settings.model_version}
    if settings.model_sha256 is not None:
        doc["model_sha256"] = settings.model_sha256
    doc.update(task=settings.task, role=settings.role, platform=settings.platform, instance_id=instance_id)
    if settings.revision:
        doc["revision"] = settings.revision
    if settings.function_version:
        doc["function_version"] = settings.function_version
    return doc


def window_document(st: WindowState, *, head: Mapping[str, Any], end_ms: int, reason: str,
                    memory: tuple[float, int], bins_sha256: str | None, probe: Mapping[str, Any]) -> dict[str, Any]:
    """The line's members for a window whose buffers are folded (``WindowAggregator.take``)."""
    doc = dict(head)
    if st.function is not None:
        doc["function"] = st.function
        doc["qualifiers"] = dict(st.qualifiers)
    ranked = sorted(st.error_types.items(), key=lambda kv: (-kv[1], kv[0]))
    other = st.error_types_other + sum(c for _, c in ranked[MAX_ERROR_TYPES:])
    doc.update(start_ms=st.start_ms, end_ms=end_ms, first_ms=st.first_ms, last_ms=st.last_ms, reason=reason,
               invocations=dict(st.invocations), rows=st.rows, error_types=dict(ranked[:MAX_ERROR_TYPES]))
    if other:
        doc["error_types_other"] = other
    doc["cold_starts"] = 1 if st.init is not None and st.init.cold else 0
    if st.init is not None:
        doc["init"] = init_member(st.init)
    lat = st.latency
    doc["latency_ms"] = {"scale": LATENCY_SCALE, "count": lat.count, "sum": round(lat.total, 3),
                         "min": lat.min, "max": lat.max, "zero": lat.zero, "runs": to_runs(lat.pos)}
    doc.update(inference_ms_sum=round(st.inference_ms_sum, 3), concurrency_max=st.concurrency_max,
               memory={"max_used_mb": round(memory[0], 1), "configured_mb": memory[1]})
    if bins_sha256 is not None:
        doc["bins_sha256"] = bins_sha256
    doc["signals"] = {name: signal.to_json() for name, signal in st.signals.items()}
    if st.signals_dropped:
        doc["signals_dropped"] = st.signals_dropped
    doc["probe"] = dict(probe)
    return doc


def encode_window(st: WindowState, doc: dict[str, Any]) -> str:
    """``doc`` as one JSON line, shortened (as the module says) to fit ``MAX_LINE_BYTES``."""
    line = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    truncated: list[str] = []
    while len(line.encode()) > MAX_LINE_BYTES:
        sketches = [(s.size_hint(), n) for n, s in st.signals.items()
                    if isinstance(s, NumericSignal) and s.sketch is not None and s.sketch.scale > MIN_SCALE
                    and n in doc["signals"]]
        if sketches:
            name = max(sketches)[1]
            signal = st.signals[name]
            assert isinstance(signal, NumericSignal) and signal.sketch is not None
            signal.sketch.halve()
            doc["signals"][name] = signal.to_json()
        else:
            sizes = {n: len(json.dumps(v)) for n, v in doc["signals"].items()}
            if not sizes:
                break
            name = max(sizes, key=lambda n: sizes[n])
            del doc["signals"][name]
            truncated.append(name)
            doc["signals_truncated"] = truncated
        line = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    return line
