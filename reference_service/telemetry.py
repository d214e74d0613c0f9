"""The reference service's telemetry is the probe's (``inferwatch_probe``): one emitter for the service
and for any team's own handler, with the lines docs/telemetry.md specifies.

The service measures one invocation per request (``Service.invoke``) through ``probe.invocation`` and
records what it answered there: the rows it predicted with their inputs, the shadow's result, a fallback
answer (``degraded``, ``timed_out``) or a refusal (``answer(4xx/5xx, error_type=...)``).

Where lines go: ``sink`` when given (an object with ``write(line)`` or a callable), else a file per instance
process, ``<INFERWATCH_TELEMETRY_DIR>/<instance_id>.jsonl`` (rotated at INFERWATCH_TELEMETRY_ROTATE_MB), else
stdout (Lambda; on Cloud Run with ``severity`` and ``message``). Invocation lines, unlike the probe's
default on Lambda and Cloud Run, unless INFERWATCH_PROBE_MODE says otherwise: the AWS collector reads the
metrics CloudWatch extracts from them (declared here, unless INFERWATCH_EMF_METRICS says otherwise).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from inferwatch_probe import Probe
from inferwatch_probe.settings import STANDARD_METRICS
from inferwatch_probe.sinks import FileSink, Sink

from reference_service.model import ModelCard
from reference_service.settings import ServiceSettings

# Declared to CloudWatch by default: what the AWS collector reads (PredictionScore and ShadowAgree only
# on lines that carry them).
METRICS = (*STANDARD_METRICS, "ShadowAgree")

LineSink = Sink | Callable[[str], object]


def build_probe(settings: ServiceSettings, card: ModelCard, sink: LineSink | None = None) -> Probe:
    """The probe of one service instance (settings come from ServiceSettings; the platform's own
    variables, AWS_LAMBDA_* and K_*, from the environment it was read from)."""
    env = settings.probe_env
    if sink is None and settings.telemetry_dir is not None:
        sink = FileSink(settings.telemetry_dir, settings.instance_id,
                        rotate_bytes=int(settings.telemetry_rotate_mb * (1 << 20)))
    return Probe(
        settings.deployment, settings.model_version, card.task, service=settings.service or settings.deployment,
        role=settings.role, mode=env.get("INFERWATCH_PROBE_MODE") or "invocation",
        metrics=None if env.get("INFERWATCH_EMF_METRICS") else METRICS, model_sha256=card.sha256,
        memory_mb=settings.memory_mb, input_summary_rows=None if settings.input_summary else 0,
        instance_id=settings.instance_id or None, prewarmed=settings.prewarmed, sink=sink,
        feature_names=card.feature_names, env=env)


class MemorySink:
    """Keeps every line, parsed: for embedding the service in tests and benchmarks."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        doc = json.loads(line)
        with self._lock:
            self.lines.append(doc)
