"""Invocation mode: one CloudWatch Embedded Metric Format (EMF) line per invocation, as
docs/telemetry.md specifies ("Invocation lines"). Compatible with the pre-probe reference service's
lines: a reader of those reads these (new members are additions).

Prediction arrays keep the first ``EMF_ARRAY_LIMIT`` rows (EMF's limit for a metric's values). Input
summaries keep up to ``input_summary_rows`` rows spread over the batch; a line over ``MAX_LINE_BYTES`` has
its summary halved until it fits, then dropped (every other member is bounded, so the line then fits).
Metrics are declared to CloudWatch only when configured (``metrics``): each declared metric is a custom
metric per dimension set on the bill, so none are declared by default.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from inferwatch_probe.measure import InitInfo, Invocation, ShadowOutcome
from inferwatch_probe.outputs import Labels
from inferwatch_probe.settings import ProbeSettings
from inferwatch_probe.summaries import exact_list, shrink, summarize

SCHEMA = "inferwatch.invocation/2"
NAMESPACE = "Inferwatch"
EMF_ARRAY_LIMIT = 100
MAX_LINE_BYTES = 64 * 1024
DIMENSIONS = [["Deployment"], ["Deployment", "ModelVersion"]]
_FLAGS = (("client_error", "ClientError"), ("timeout", "Timeout"), ("degraded", "Degraded"), ("error", "ServerError"))
_UNITS = {"LatencyMs": "Milliseconds", "InitMs": "Milliseconds", "MaxMemoryUsedMb": "Megabytes"}
_SEVERITY = {"ok": "INFO", "error": "ERROR"}
_OPTIONAL_METRICS = frozenset({"PredictionScore", "PredictionValue", "ShadowAgree"})


@functools.lru_cache(maxsize=64)
def metric_declarations(metrics: tuple[str, ...]) -> str:
    """The CloudWatchMetrics member as JSON (an empty list declares nothing)."""
    if not metrics:
        return "[]"
    return json.dumps([{"Namespace": NAMESPACE, "Dimensions": DIMENSIONS,
                        "Metrics": [{"Name": m, "Unit": _UNITS.get(m, "Count" if m not in (
                            "PredictionScore", "PredictionValue", "ShadowAgree") else "None")} for m in metrics]}],
                      separators=(",", ":"))


def init_member(init: InitInfo) -> dict[str, Any]:
    doc: dict[str, Any] = {"Type": init.init_type, "InitMs": init.init_ms, "LoadMs": init.load_ms,
                           "OtherMs": round(init.other_ms, 3)}
    if init.process_to_import_ms is not None:
        doc["ProcessToImportMs"] = init.process_to_import_ms
    if init.ready_ms is not None:
        doc["ReadyMs"] = init.ready_ms
    if init.steps_ms:
        doc["StepsMs"] = dict(init.steps_ms)
    if init.first_inference_ms is not None:
        doc["FirstInferenceMs"] = round(init.first_inference_ms, 3)
    return doc


def _labels_member(labels: Labels, integers: str, strings: str) -> tuple[str, list[Any]]:
    """Integer labels keep the pre-probe member (numbers); string labels get their own member, which
    readers of the old lines ignore instead of rejecting the line."""
    values = labels[:EMF_ARRAY_LIMIT].tolist() if not isinstance(labels, list) else labels[:EMF_ARRAY_LIMIT]
    return (integers if all(isinstance(v, int) for v in values) else strings), values


def _shadow(outcome: ShadowOutcome, doc: dict[str, Any]) -> None:
    doc["ShadowVersion"], doc["ShadowStatus"] = outcome.version, outcome.status
    doc["ShadowScore"] = exact_list(outcome.scores[:EMF_ARRAY_LIMIT].tolist()) if outcome.scores is not None else []
    if outcome.labels is not None:
        member, values = _labels_member(outcome.labels, "ShadowClass", "ShadowLabel")
        doc[member] = values
    else:
        doc["ShadowClass"] = []
    if outcome.latency_ms is not None:
        doc["ShadowLatencyMs"] = round(outcome.latency_ms, 3)
    if outcome.agree is not None:
        doc["ShadowAgree"] = outcome.agree


class InvocationEncoder:
    def __init__(self, settings: ProbeSettings, instance_id: str) -> None:
        self.settings = settings
        static: dict[str, Any] = {"Schema": SCHEMA, "Deployment": settings.deployment, "Service": settings.service,
                                  "ModelVersion": settings.model_version}
        if settings.model_sha256 is not None:
            static["ModelSha256"] = settings.model_sha256
        static.update(Task=settings.task, Role=settings.role, InstanceId=instance_id)
        if settings.revision:
            static["Revision"] = settings.revision
        if settings.function_version:
            static["FunctionVersion"] = settings.function_version
        self._static = json.dumps(static, separators=(",", ":"))[1:-1]  # members only, encoded once

    def encode(self, inv: Invocation, *, memory_mb: int, max_memory_used_mb: float, probe_errors: int) -> str:
        doc = self._members(inv, memory_mb, max_memory_used_mb, probe_errors)
        summary = self._summary(inv)
        while True:
            if summary is not None:
                doc["InputSummary"] = summary[0]
                if summary[1]:
                    doc["InputCategories"] = summary[1]
                doc["InputSummaryRows"] = summary[2]
            body = json.dumps(doc, separators=(",", ":"), allow_nan=False)
            # a metric without a value on this line (an empty array is none) is not declared
            metrics = tuple(m for m in self.settings.metrics if m not in _OPTIONAL_METRICS or m in doc)
            line = (f'{{"_aws":{{"Timestamp":{inv.timestamp_ms},"CloudWatchMetrics":{metric_declarations(metrics)}}},'
                    f"{self._static},{body[1:]}")
            # a character is at most 4 UTF-8 bytes: most lines fit without being encoded to count them
            if len(line) * 4 <= MAX_LINE_BYTES or len(line.encode()) <= MAX_LINE_BYTES or summary is None:
                return line
            summary = shrink(*summary) if summary[2] > 1 else None
            for key in ("InputSummary", "InputCategories", "InputSummaryRows"):
                doc.pop(key, None)

    def _members(self, inv: Invocation, memory_mb: int, max_memory_used_mb: float, probe_errors: int
                 ) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if inv.lambda_target is not None:
            doc["Function"], doc["Qualifier"] = inv.lambda_target
        init = inv.init
        doc.update(RequestId=inv.request_id or os.urandom(16).hex(), Status=inv.status, LatencyMs=inv.latency_ms,
                   InferenceMs=round(inv.inference_ms, 3), ColdStart=1 if init is not None and init.cold else 0,
                   InitMs=init.init_ms if init is not None else 0.0, MemoryMb=memory_mb,
                   MaxMemoryUsedMb=round(max_memory_used_mb, 1), Rows=sum(p.rows for p in inv.predictions),
                   Concurrency=inv.concurrency)
        for status, flag in _FLAGS:
            doc[flag] = 1 if inv.status == status else 0
        self._predictions(inv, doc)
        if inv.shadow_outcome is not None:
            _shadow(inv.shadow_outcome, doc)
        if self.settings.prewarmed:
            doc["Prewarmed"] = 1
        if init is not None:
            doc["Init"] = init_member(init)
        if inv.error_type is not None:
            doc["ErrorType"] = inv.error_type
        if probe_errors:
            doc["ProbeErrors"] = probe_errors
        if self.settings.platform == "cloud_run":
            doc["severity"] = _SEVERITY.get(inv.status, "WARNING")
            doc["message"] = f"inferwatch invocation {inv.status} rows={doc['Rows']} latency_ms={inv.latency_ms}"
        return doc

    @staticmethod
    def _predictions(inv: Invocation, doc: dict[str, Any]) -> None:
        scores: list[Any] = []
        labels: list[Any] = []
        values: list[Any] = []
        for p in inv.predictions:
            room = EMF_ARRAY_LIMIT - len(scores)
            if p.scores is not None and room > 0:
                scores.extend(p.scores[:room].tolist())
            if p.labels is not None and EMF_ARRAY_LIMIT - len(labels) > 0:
                labels.extend(p.labels[:EMF_ARRAY_LIMIT - len(labels)].tolist()
                              if not isinstance(p.labels, list) else p.labels[:EMF_ARRAY_LIMIT - len(labels)])
            if p.values is not None and EMF_ARRAY_LIMIT - len(values) > 0:
                values.extend(p.values[:EMF_ARRAY_LIMIT - len(values)].tolist())
        if scores:
            doc["PredictionScore"] = exact_list(scores)
        if labels:
            # integer labels keep the pre-probe member (numbers); string labels get their own member, which
            # readers of the old lines ignore instead of rejecting the line
            doc["PredictedClass" if all(isinstance(v, int) for v in labels) else "PredictedLabel"] = labels
        if values:
            doc["PredictionValue"] = exact_list(values)

    def _summary(self, inv: Invocation) -> tuple[dict[str, list[Any]], dict[str, list[str | None]], int] | None:
        rows = self.settings.input_summary_rows
        batches = [p.features for p in inv.predictions if p.features is not None]
        if not rows or not batches:
            return None
        numeric, strings, kept = summarize(batches, rows)
        return (numeric, strings, kept) if kept else None
