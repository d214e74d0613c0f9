"""CloudWatch Embedded Metric Format (EMF), as any tool writes it: the ``_aws`` metadata, its metric
directives, and the values of the metrics they declare.

The rules are the format's own (AWS's EMF specification): ``_aws.Timestamp`` is epoch milliseconds;
``_aws.CloudWatchMetrics`` is a list of directives, each with a ``Namespace``, ``Dimensions`` (lists of
at most 30 member names, each member a string) and ``Metrics`` (at most 100, each with a ``Name`` and an
optional ``Unit``); a declared metric's value is a top-level number or an array of at most 100 numbers
(aws-lambda-powertools always writes an array, aws-embedded-metrics a number for a single value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collectors.line_fields import FieldReader, finite, shown

MAX_DIRECTIVES = 100
MAX_DIMENSIONS = 30  # per dimension set
MAX_METRICS = 100  # per directive
MAX_VALUES = 100  # per metric
MAX_TIMESTAMP_MS = 2**53


@dataclass(frozen=True, slots=True)
class EmfMetric:
    """A declared metric: its name, unit (None when not given) and values."""

    name: str
    unit: str | None
    values: tuple[float, ...]


def timestamp_ms(r: FieldReader, doc: Mapping[str, Any]) -> int:
    """``_aws.Timestamp``: epoch milliseconds (the caller has checked ``_aws`` is an object)."""
    aws = doc.get("_aws")
    value = aws.get("Timestamp") if isinstance(aws, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TIMESTAMP_MS:
        r.add("_aws.Timestamp", f"must be a non-negative integer (epoch ms), got {shown(value)}")
        return 0
    return value


def declared_metrics(r: FieldReader, doc: Mapping[str, Any], *, required: bool,
                     values: bool) -> dict[str, EmfMetric]:
    """The metrics ``_aws.CloudWatchMetrics`` declares, by name, with problems recorded in ``r``.

    ``required``: a line without directives is not EMF (lines from other tools); Inferwatch's own lines
    may leave them out. ``values``: read and check each declared metric's value (Inferwatch's lines are
    checked member by member by their own parser instead: the probe writes ``"NaN"`` strings in
    ``PredictionScore``, which is a member of its contract whether CloudWatch extracts it or not)."""
    aws = doc.get("_aws")
    directives = aws.get("CloudWatchMetrics") if isinstance(aws, dict) else None
    if directives is None and not required:
        return {}
    if not isinstance(directives, list) or len(directives) > MAX_DIRECTIVES:
        r.add("_aws.CloudWatchMetrics", f"must be a list of at most {MAX_DIRECTIVES} metric directives")
        return {}
    out: dict[str, EmfMetric] = {}
    for n, directive in enumerate(directives):
        where = f"_aws.CloudWatchMetrics[{n}]."
        if not isinstance(directive, dict):
            r.add(where[:-1], "must be an object")
            continue
        r.text(directive, "Namespace", where, max_chars=1024)
        _dimensions(r, doc, directive, where)
        for definition in r.array(directive, "Metrics", where, max_items=MAX_METRICS):
            name = definition.get("Name") if isinstance(definition, dict) else None
            if not isinstance(name, str) or not 0 < len(name) <= 1024:
                r.add(where + "Metrics", f"must hold objects with a Name, got {shown(definition)}")
                continue
            unit = definition.get("Unit")
            if unit is not None and not isinstance(unit, str):
                r.add(f"{where}Metrics.{name}.Unit", "must be a string")
            if values:
                out[name] = EmfMetric(name, unit if isinstance(unit, str) else None, metric_values(r, doc, name))
            else:
                out[name] = EmfMetric(name, unit if isinstance(unit, str) else None, ())
    return out


def _dimensions(r: FieldReader, doc: Mapping[str, Any], directive: Mapping[str, Any], where: str) -> None:
    for dimension_set in r.array(directive, "Dimensions", where, max_items=MAX_DIRECTIVES):
        if not isinstance(dimension_set, list) or len(dimension_set) > MAX_DIMENSIONS:
            r.add(where + "Dimensions", f"must hold lists of at most {MAX_DIMENSIONS} member names")
            continue
        for key in dimension_set:
            if not isinstance(key, str) or not isinstance(doc.get(key), str):
                r.add(f"{key}" if isinstance(key, str) else where + "Dimensions",
                      "is a dimension, so it must be a string member of the line")


def metric_values(r: FieldReader, doc: Mapping[str, Any], name: str) -> tuple[float, ...]:
    """A declared metric's value: a finite number, or an array of 1-100 of them."""
    value = doc.get(name)
    items = value if isinstance(value, list) else [value]
    numbers = [finite(v) for v in items]
    if name not in doc:
        r.add(name, "is a declared metric but the line has no value for it")
    elif not 0 < len(items) <= MAX_VALUES or any(v is None for v in numbers):
        r.add(name, f"must be a finite number or an array of 1-{MAX_VALUES} of them, got {shown(value)}")
    else:
        return tuple(v for v in numbers if v is not None)
    return ()
