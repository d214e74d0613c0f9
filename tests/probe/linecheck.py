"""Parse-back of the probe's lines against docs/telemetry.md, written from the spec (not from the probe's
code): ``check_line(line)`` returns the parsed document or raises ``LineError`` naming the member that
breaks the contract. Helpers read sketches and bins counts back for the tests."""

from __future__ import annotations

import json
import math
import re
from typing import Any

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,95}$")
STATUSES = ("ok", "client_error", "timeout", "degraded", "error")
TASKS = ("binary", "multiclass", "regression")
ROLES = ("stable", "canary", "blue", "green", "shadow")
FLAGS = {"client_error": "ClientError", "timeout": "Timeout", "degraded": "Degraded", "error": "ServerError"}
INVOCATION_CAP = 64 * 1024
WINDOW_CAP = 200_000
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class LineError(AssertionError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def _need(doc: dict[str, Any], key: str, kinds: type | tuple[type, ...], where: str = "") -> Any:
    name = f"{where}{key}"
    if key not in doc:
        raise LineError(name, "required member missing")
    value = doc[key]
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise LineError(name, f"expected {kinds}, got a boolean")
    if not isinstance(value, kinds):
        raise LineError(name, f"expected {kinds}, got {type(value).__name__}")
    return value


def _count(doc: dict[str, Any], key: str, where: str = "", required: bool = True) -> int:
    if not required and key not in doc:
        return 0
    value = _need(doc, key, int, where)
    if value < 0:
        raise LineError(where + key, "must be >= 0")
    return int(value)


def _number(doc: dict[str, Any], key: str, where: str = "") -> float:
    value = _need(doc, key, (int, float), where)
    if not math.isfinite(value) or value < 0:
        raise LineError(where + key, "must be a finite number >= 0")
    return float(value)


def exact_value(v: Any, field: str) -> float:
    """A value of an invocation-line array: a number, or one of the non-finite strings."""
    if isinstance(v, str) and v in NON_FINITE:
        return NON_FINITE[v]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise LineError(field, f"{v!r} is not a number")
    return float(v)


def _no_constants(name: str) -> Any:
    raise LineError("<line>", f"bare {name} is not JSON")


def check_line(line: str) -> dict[str, Any]:
    doc = json.loads(line)
    if not isinstance(doc, dict):
        raise LineError("<line>", "not a JSON object")
    return check_window_line(line) if doc.get("kind") == "window" else check_invocation_line(line)


def _size(line: str, cap: int) -> None:
    if len(line.encode()) > cap:
        raise LineError("<line>", f"{len(line.encode())} bytes over the cap of {cap}")
    if "\n" in line:
        raise LineError("<line>", "contains a newline")


def check_invocation_line(line: str) -> dict[str, Any]:
    _size(line, INVOCATION_CAP)
    doc = json.loads(line, parse_constant=_no_constants)
    aws = _need(doc, "_aws", dict)
    if _need(aws, "Timestamp", int, "_aws.") <= 0:
        raise LineError("_aws.Timestamp", "must be positive epoch ms")
    _need(aws, "CloudWatchMetrics", list, "_aws.")
    if _need(doc, "Schema", str) != "inferwatch.invocation/2":
        raise LineError("Schema", "unknown schema")
    for key in ("Deployment", "InstanceId"):
        if not SAFE_NAME.match(_need(doc, key, str)):
            raise LineError(key, "not a safe name")
    for key in ("Service", "ModelVersion", "RequestId"):
        if not _need(doc, key, str):
            raise LineError(key, "empty")
    _choice(doc, "Task", TASKS)
    _choice(doc, "Role", ROLES)
    status = _choice(doc, "Status", STATUSES)
    for key in ("LatencyMs", "InferenceMs", "InitMs", "MaxMemoryUsedMb"):
        _number(doc, key)
    for key in ("MemoryMb", "Rows"):
        _count(doc, key)
    if _count(doc, "Concurrency") < 1:
        raise LineError("Concurrency", "must be >= 1")
    if _need(doc, "ColdStart", int) not in (0, 1):
        raise LineError("ColdStart", "must be 0 or 1")
    for st, flag in FLAGS.items():
        if _need(doc, flag, int) != (1 if status == st else 0):
            raise LineError(flag, f"does not mirror Status {status!r}")
    if ("ErrorType" in doc) != (status != "ok"):
        raise LineError("ErrorType", "present exactly when Status is not ok")
    if "ErrorType" in doc and not 0 < len(_need(doc, "ErrorType", str)) <= 128:
        raise LineError("ErrorType", "1-128 characters")
    _check_predictions(doc)
    _check_summary(doc)
    if "ModelSha256" in doc and not re.fullmatch(r"[0-9a-f]{64}", doc["ModelSha256"]):
        raise LineError("ModelSha256", "not 64 lowercase hex digits")
    if "Init" in doc:
        init = _need(doc, "Init", dict)
        _need(init, "Type", str, "Init.")
        for key in ("InitMs", "LoadMs", "OtherMs"):
            _number(init, key, "Init.")
    if "ProbeErrors" in doc and _count(doc, "ProbeErrors") < 1:
        raise LineError("ProbeErrors", "present only when > 0")
    if ("Function" in doc) != ("Qualifier" in doc):
        raise LineError("Function", "Function and Qualifier come together")
    return doc


def _choice(doc: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = _need(doc, key, str)
    if value not in choices:
        raise LineError(key, f"{value!r} not one of {choices}")
    return str(value)


def _check_predictions(doc: dict[str, Any]) -> None:
    task = doc["Task"]
    arrays = {"PredictionScore": task != "regression", "PredictionValue": task == "regression",
              "PredictedClass": task != "regression", "PredictedLabel": task != "regression"}
    for key, allowed in arrays.items():
        if key not in doc:
            continue
        if not allowed:
            raise LineError(key, f"not a member for task {task}")
        values = _need(doc, key, list)
        if not 0 < len(values) <= 100 or len(values) > doc["Rows"]:
            raise LineError(key, f"{len(values)} values: 1-100 and at most Rows")
        if key == "PredictedClass" and not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise LineError(key, "integer labels only")
        if key == "PredictedLabel" and not all(isinstance(v, str) and len(v) <= 256 for v in values):
            raise LineError(key, "string labels only")
        if key in ("PredictionScore", "PredictionValue"):
            for v in values:
                exact_value(v, key)
    if "PredictedClass" in doc and "PredictedLabel" in doc:
        raise LineError("PredictedLabel", "either PredictedClass or PredictedLabel")


def _check_summary(doc: dict[str, Any]) -> None:
    if "InputSummary" not in doc:
        for key in ("InputCategories", "InputSummaryRows"):
            if key in doc:
                raise LineError(key, "only with InputSummary")
        return
    rows = _count(doc, "InputSummaryRows")
    if not 0 < rows <= 100:
        raise LineError("InputSummaryRows", "1-100")
    for name, values in _need(doc, "InputSummary", dict).items():
        if not isinstance(values, list) or len(values) != rows:
            raise LineError(f"InputSummary.{name}", f"must hold {rows} values")
        for v in values:
            exact_value(v, f"InputSummary.{name}")
    for name, values in doc.get("InputCategories", {}).items():
        if not isinstance(values, list) or len(values) != rows:
            raise LineError(f"InputCategories.{name}", f"must hold {rows} values")
        if not all(v is None or (isinstance(v, str) and len(v) <= 256) for v in values):
            raise LineError(f"InputCategories.{name}", "strings or null only")


def check_window_line(line: str) -> dict[str, Any]:
    _size(line, WINDOW_CAP)
    doc = json.loads(line, parse_constant=_no_constants)
    if _need(doc, "schema", str) != "inferwatch.window/1" or _need(doc, "kind", str) != "window":
        raise LineError("schema", "not a window line")
    for key in ("deployment", "instance_id"):
        if not SAFE_NAME.match(_need(doc, key, str)):
            raise LineError(key, "not a safe name")
    for key in ("service", "model_version"):
        _need(doc, key, str)
    _choice(doc, "task", TASKS)
    _choice(doc, "role", ROLES)
    _choice(doc, "platform", ("lambda", "cloud_run", "local"))
    _choice(doc, "reason", ("interval", "exit", "sigterm", "timeout", "manual", "close"))
    start, end = _count(doc, "start_ms"), _count(doc, "end_ms")
    first, last = _count(doc, "first_ms"), _count(doc, "last_ms")
    if not (start <= end and first <= last <= end):
        raise LineError("end_ms", "start <= end and first <= last <= end")
    invocations = _need(doc, "invocations", dict)
    if sorted(invocations) != sorted(STATUSES) or not all(_count(invocations, s,
                                                                 "invocations.") >= 0 for s in STATUSES):
        raise LineError("invocations", "one count per status")
    total = sum(invocations.values())
    if total < 1:
        raise LineError("invocations", "a window line has at least one invocation")
    _count(doc, "rows")
    errors = _need(doc, "error_types", dict)
    if len(errors) > 16 or sum(errors.values()) + doc.get("error_types_other", 0) != total - invocations["ok"]:
        raise LineError("error_types", "at most 16, adding up (with error_types_other) to the non-ok invocations")
    if _need(doc, "cold_starts", int) not in (0, 1):
        raise LineError("cold_starts", "0 or 1")
    latency = _need(doc, "latency_ms", dict)
    if latency.get("scale") != 8 or _count(latency, "count", "latency_ms.") != total:
        raise LineError("latency_ms", "scale 8 and one latency per invocation")
    if sum(runs_to_buckets(latency["runs"]).values()) + _count(latency, "zero", "latency_ms.") != total:
        raise LineError("latency_ms.runs", "buckets must add up to the count")
    for key in ("sum", "min", "max"):
        _number(latency, key, "latency_ms.")
    _number(doc, "inference_ms_sum")
    if _count(doc, "concurrency_max") < 1:
        raise LineError("concurrency_max", ">= 1")
    memory = _need(doc, "memory", dict)
    _number(memory, "max_used_mb", "memory.")
    _count(memory, "configured_mb", "memory.")
    for name, signal in _need(doc, "signals", dict).items():
        check_signal(name, signal)
    probe = _need(doc, "probe", dict)
    _need(probe, "version", str, "probe.")
    _count(probe, "errors", "probe.")
    _count(probe, "dropped_lines", "probe.")
    return doc


def runs_to_buckets(runs: Any) -> dict[int, int]:
    if not isinstance(runs, list):
        raise LineError("runs", "a list of runs")
    buckets: dict[int, int] = {}
    previous_end = None
    for run in runs:
        if not isinstance(run, list) or len(run) < 2 or not all(isinstance(v, int) for v in run):
            raise LineError("runs", f"bad run {run!r}")
        if previous_end is not None and run[0] <= previous_end:
            raise LineError("runs", "runs must be sorted and not overlap")
        for k, c in enumerate(run[1:]):
            if c < 0:
                raise LineError("runs", "negative count")
            if c:
                buckets[run[0] + k] = c
        previous_end = run[0] + len(run) - 2
    return buckets


def check_signal(name: str, s: Any) -> None:
    where = f"signals.{name}."
    if not (name in ("score", "value", "class") or name.startswith("feature:")):
        raise LineError(where, "unknown signal name")
    if not isinstance(s, dict):
        raise LineError(where, "an object")
    kind = _choice(s, "kind", ("numeric", "categorical"))
    kind_of_type = _choice(s, "type", ("bins", "exact", "sketch"))
    count = _count(s, "count", where)
    if kind == "numeric":
        special = sum(_count(s, k, where, required=False) for k in ("nan", "posinf", "neginf", "null"))
        if kind_of_type == "sketch":
            if s["scale"] not in (4, 8, 16, 32, 64):
                raise LineError(where + "scale", "a power of two, 4-64")
            finite = _count(s, "zero", where, required=False) + sum(runs_to_buckets(s["pos"]).values()) \
                + sum(runs_to_buckets(s["neg"]).values())
            if finite and not (math.isfinite(s["min"]) and math.isfinite(s["max"]) and s["min"] <= s["max"]):
                raise LineError(where + "min", "exact finite min <= max")
        else:
            finite = _counts_sum(s, where)
            if kind_of_type == "exact":
                values = _need(s, "values", list, where)
                if len(values) > 64 or values != sorted(set(values)) or not all(
                        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
                    raise LineError(where + "values", "at most 64 distinct finite numbers, ascending")
        if count != finite + special:
            raise LineError(where + "count", f"{count} != {finite} finite + {special} special")
    else:
        if kind_of_type == "sketch":
            raise LineError(where + "type", "categorical signals have no sketch")
        special = _count(s, "other", where, required=False) + _count(s, "null", where, required=False)
        listed = _counts_sum(s, where)
        if kind_of_type == "exact":
            values = _need(s, "values", list, where)
            if len(values) > 64 or len(set(values)) != len(values):
                raise LineError(where + "values", "at most 64 distinct values")
        if count != listed + special:
            raise LineError(where + "count", f"{count} != {listed} listed + {special} other/null")


def _counts_sum(s: dict[str, Any], where: str) -> int:
    counts = _need(s, "counts", list, where)
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
        raise LineError(where + "counts", "non-negative integers")
    if "values" in s and len(s["values"]) != len(counts):
        raise LineError(where + "counts", "one count per value")
    return sum(counts)


def sketch_quantile(s: dict[str, Any], q: float) -> float:
    """The q-quantile (lower, by rank) of a sketch signal, from its buckets' geometric middles."""
    scale = s["scale"]
    neg, pos = runs_to_buckets(s["neg"]), runs_to_buckets(s["pos"])
    ordered = [(-(2.0 ** ((i - 0.5) / scale)), c) for i, c in sorted(neg.items(), reverse=True)]
    ordered += [(0.0, s.get("zero", 0))] if s.get("zero") else []
    ordered += [(2.0 ** ((i - 0.5) / scale), c) for i, c in sorted(pos.items())]
    total = sum(c for _, c in ordered)
    rank = min(int(q * (total - 1)), total - 1)
    seen = 0
    for value, c in ordered:
        seen += c
        if seen > rank:
            return value
    raise LineError("sketch", "empty")
