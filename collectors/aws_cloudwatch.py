"""CloudWatch metrics of Lambda functions through GetMetricData: many metrics per call, paged.

One query is one metric and one statistic (AWS bills $0.01 per 1,000 of them); a call carries at most
500 queries, so a collection of ``n`` queries costs ``ceil(n / 500)`` calls (plus pages when a call
returns more than its datapoint budget: ``NextToken`` with ``StatusCode: PartialData``).

What is read, per deployment (``Period`` = the collection step):
- ``AWS/Lambda``: Duration p50/p95/p99/Average/Maximum/Sum, Invocations, Errors, Throttles (Sum),
  ConcurrentExecutions (Maximum); dimensions ``FunctionName`` for the whole function and
  ``FunctionName`` + ``Resource`` (``fn:alias`` / ``fn:version``) per alias or version; for those with
  provisioned concurrency also ProvisionedConcurrencyUtilization (Maximum) and
  ProvisionedConcurrencySpilloverInvocations (Sum). ProvisionedConcurrentExecutions is not read: its
  maximum is not the allocated capacity (that comes from the Lambda API) and adds nothing the
  utilisation does not already say.
- The reference service's EMF metrics (namespace ``Inferwatch``, dimension ``Deployment``): Rows,
  Degraded, Timeout, ClientError (Sum), ShadowAgree (Average, SampleCount). Server errors come from
  Lambda's own Errors metric, which also counts crashes the service could not report.
- Prediction histograms: ``SampleCount`` and ``PR(:edge)`` of PredictionScore for each baseline edge,
  so CloudWatch itself bins the values (``percentile_rank_queries``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from collectors.aws_client import call_aws
from collectors.base import BaselineLookup
from collectors.errors import ProviderDataError
from drift import Baseline, WindowCounts
from drift.baseline import NumericColumn
from drift.cloud import bin_edges_for_cloud
from drift.errors import DriftError
from inferwatch.config import AwsDeploymentConfig
from inferwatch.schema import HistogramPoint, MetricPoint, ModelKey
from inferwatch.schema import Metric as M

MAX_QUERIES_PER_CALL = 500
SCORE_METRIC = "PredictionScore"
LAMBDA_NAMESPACE = "AWS/Lambda"
EMF_NAMESPACE = "Inferwatch"

Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """One CloudWatch metric + statistic, and where its values land (``key`` in the results)."""
    deployment: str  # deployment id the values belong to
    key: str  # normalized metric name, or a caller's key such as "pr:score:v1:3"
    namespace: str
    name: str
    dimensions: Dimensions
    stat: str

    def as_request(self, query_id: str, period_s: int) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": self.namespace, "MetricName": self.name,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions]},
                "Period": period_s,
                "Stat": self.stat,
            },
            "ReturnData": True,
        }


# (normalized metric, CloudWatch metric name, statistic)
_LAMBDA_METRICS: tuple[tuple[str, str, str], ...] = (
    (M.LATENCY_P50, "Duration", "p50"),
    (M.LATENCY_P95, "Duration", "p95"),
    (M.LATENCY_P99, "Duration", "p99"),
    (M.LATENCY_AVG, "Duration", "Average"),
    (M.LATENCY_MAX, "Duration", "Maximum"),
    (M.DURATION_SUM, "Duration", "Sum"),
    (M.INVOCATIONS, "Invocations", "Sum"),
    (M.SERVER_ERRORS, "Errors", "Sum"),
    (M.THROTTLES, "Throttles", "Sum"),
    (M.CONCURRENCY_MAX, "ConcurrentExecutions", "Maximum"),
)
_PC_METRICS: tuple[tuple[str, str, str], ...] = (
    (M.PROVISIONED_UTILIZATION, "ProvisionedConcurrencyUtilization", "Maximum"),
    (M.PROVISIONED_SPILLOVER, "ProvisionedConcurrencySpilloverInvocations", "Sum"),
)
_EMF_METRICS: tuple[tuple[str, str, str], ...] = (
    (M.ROWS, "Rows", "Sum"),
    (M.DEGRADED, "Degraded", "Sum"),
    (M.TIMEOUTS, "Timeout", "Sum"),
    (M.CLIENT_ERRORS, "ClientError", "Sum"),
    (M.SHADOW_AGREEMENT, "ShadowAgree", "Average"),
    (M.SHADOW_COUNT, "ShadowAgree", "SampleCount"),
)
# Counts that are zero, not missing, when CloudWatch has no datapoint for a step.
ZERO_WHEN_ABSENT = frozenset({M.INVOCATIONS, M.SERVER_ERRORS, M.THROTTLES})


def lambda_queries(deployment: str, function: str, resource: str | None = None, *,
                   provisioned: bool = False) -> list[MetricQuery]:
    """The AWS/Lambda queries of a whole function (``resource`` None) or one alias/version."""
    dims: Dimensions = (("FunctionName", function),)
    if resource is not None:
        dims = (("FunctionName", function), ("Resource", f"{function}:{resource}"))
    specs = _LAMBDA_METRICS + (_PC_METRICS if provisioned and resource is not None else ())
    return [MetricQuery(deployment, key, LAMBDA_NAMESPACE, name, dims, stat) for key, name, stat in specs]


def emf_deployment(cfg: AwsDeploymentConfig) -> str:
    """The ``Deployment`` dimension the reference service writes for this function: the label
    ``inferwatch_deployment`` when set, else the function name without the ``inferwatch-`` prefix
    the reference template gives functions (``FunctionName: inferwatch-${DeploymentName}``)."""
    label = cfg.labels.get("inferwatch_deployment")
    if label:
        return label
    return cfg.function.removeprefix("inferwatch-") or cfg.function


def emf_queries(deployment: str, emf_deployment: str) -> list[MetricQuery]:
    """The reference service's EMF metrics for the ``Deployment`` dimension value it writes."""
    dims: Dimensions = (("Deployment", emf_deployment),)
    return [MetricQuery(deployment, key, EMF_NAMESPACE, name, dims, stat) for key, name, stat in _EMF_METRICS]


def plain_number(value: float) -> str:
    """Shortest round-trip digits in positional notation: the statistic syntax has no exponents
    (``repr`` of a tiny edge gives ``1e-45``)."""
    return str(np.format_float_positional(value, unique=True, trim="-"))


def percentile_rank_queries(deployment: str, key_prefix: str, dimensions: Dimensions, metric_name: str,
                            edges: Sequence[float]) -> list[MetricQuery]:
    """``SampleCount`` plus ``PR(:edge)`` per edge: the CDF of the metric's values at each edge."""
    out = [MetricQuery(deployment, f"{key_prefix}:n", EMF_NAMESPACE, metric_name, dimensions, "SampleCount")]
    out += [MetricQuery(deployment, f"{key_prefix}:{i}", EMF_NAMESPACE, metric_name, dimensions,
                        f"PR(:{plain_number(edge)})") for i, edge in enumerate(edges)]
    return out


def chunk(queries: Sequence[MetricQuery], size: int = MAX_QUERIES_PER_CALL) -> list[Sequence[MetricQuery]]:
    """Split into calls of at most ``size`` queries (AWS rejects more than 500)."""
    if size < 1 or size > MAX_QUERIES_PER_CALL:
        raise ValueError(f"chunk size must be in 1..{MAX_QUERIES_PER_CALL}, got {size}")
    return [queries[i:i + size] for i in range(0, len(queries), size)]


def window_steps(start: datetime, end: datetime, step_s: int) -> list[datetime]:
    """The step starts of ``[start, end)``."""
    count = int((end - start).total_seconds()) // step_s
    return [start + timedelta(seconds=i * step_s) for i in range(count)]


# One query's values by step start.
Datapoints = dict[datetime, float]


class CloudWatchReader:
    """Runs query sets through one CloudWatch client; botocore errors are translated here."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls = 0

    def fetch(self, queries: Sequence[MetricQuery], start: datetime, end: datetime,
              period_s: int) -> list[Datapoints]:
        """Values of every query (same order), each a mapping step start -> value."""
        out: list[Datapoints] = [{} for _ in queries]
        offset = 0
        for part in chunk(queries):
            requests = [q.as_request(f"q{i}", period_s) for i, q in enumerate(part)]
            for result in self._pages(requests, start, end):
                index = offset + int(result["Id"][1:])
                for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                    out[index][ts.astimezone(UTC)] = float(value)
            offset += len(part)
        return out

    def list_model_versions(self) -> dict[str, list[str]]:
        """``Deployment`` -> the ``ModelVersion`` values the service published PredictionScore under, for
        every deployment of the account and region at once (ListMetrics, paged by 500 metrics): one
        call per page for the whole unit, instead of one per function."""
        found: dict[str, set[str]] = defaultdict(set)
        token: str | None = None
        for _ in range(1000):
            kwargs: dict[str, Any] = {"Namespace": EMF_NAMESPACE, "MetricName": SCORE_METRIC}
            response = self._call("list_metrics", {**kwargs, **({"NextToken": token} if token else {})})
            for metric in response.get("Metrics", []):
                dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                if "Deployment" in dims and "ModelVersion" in dims:
                    found[str(dims["Deployment"])].add(str(dims["ModelVersion"]))
            token = response.get("NextToken")
            if not token:
                break
        return {deployment: sorted(versions) for deployment, versions in found.items()}

    def _pages(self, requests: list[dict[str, Any]], start: datetime, end: datetime) -> Iterable[dict[str, Any]]:
        token: str | None = None
        seen: set[str] = set()
        while True:
            kwargs: dict[str, Any] = {"MetricDataQueries": requests, "StartTime": start, "EndTime": end,
                                      "ScanBy": "TimestampAscending"}
            if token:
                kwargs["NextToken"] = token
            response = self._call("get_metric_data", kwargs)
            yield from response.get("MetricDataResults", [])
            token = response.get("NextToken")
            if not token:
                return
            if token in seen:  # a repeated token would loop forever; AWS documents none, be safe
                raise ProviderDataError("GetMetricData returned the same NextToken twice", provider="aws")
            seen.add(token)

    def _call(self, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return call_aws(self._client, "cloudwatch", operation, kwargs)


def to_points(queries: Sequence[MetricQuery], series: Sequence[Datapoints], steps: Sequence[datetime],
              step_s: int) -> list[MetricPoint]:
    """Normalized points: one per query and step that has a value (counts are 0 when absent)."""
    points: list[MetricPoint] = []
    for query, values in zip(queries, series, strict=True):
        if ":" in query.key:  # histogram inputs, combined by the caller
            continue
        for step in steps:
            value = values.get(step)
            if value is None and query.key in ZERO_WHEN_ABSENT:
                value = 0.0
            if value is not None:
                points.append(MetricPoint(query.deployment, query.key, step, step_s, value))
    return points


def by_key(queries: Sequence[MetricQuery], series: Sequence[Datapoints]) -> Mapping[tuple[str, str], Datapoints]:
    """Datapoints by (deployment, key), for callers combining several queries (histograms, EMF)."""
    out: dict[tuple[str, str], Datapoints] = defaultdict(dict)
    for query, values in zip(queries, series, strict=True):
        out[(query.deployment, query.key)].update(values)
    return out


@dataclass(frozen=True, slots=True)
class HistogramPlan:
    """The percentile-rank queries of one signal and how to turn their answers into counts."""
    deployment: str
    signal: str
    key_prefix: str
    baseline_id: str
    column: Any  # drift.baseline.NumericColumn
    layout: tuple[int, ...]


def plan_score_histogram(deployment: str, emf_deployment: str, model_version: str, baseline_id: str,
                         baseline: Baseline) -> tuple[HistogramPlan, list[MetricQuery]] | None:
    """``SampleCount`` + one ``PR(:edge)`` per cloud edge of the baseline's ``score`` column, or None
    when the baseline has no numeric score (or one with negative values, which CloudWatch cannot rank)."""
    column = baseline.columns.get("score")
    if not isinstance(column, NumericColumn):
        return None
    bins = bin_edges_for_cloud(column)
    if bins.cloudwatch_offset:
        return None
    prefix = f"pr:score:{model_version}"
    dims: Dimensions = (("Deployment", emf_deployment), ("ModelVersion", model_version))
    plan = HistogramPlan(deployment, "score", prefix, baseline_id, column, bins.layout)
    return plan, percentile_rank_queries(deployment, prefix, dims, SCORE_METRIC, bins.cloudwatch_edges)


def histogram_plans(reader: CloudWatchReader, functions: Sequence[tuple[str, str, str]],
                    baselines: BaselineLookup | None,
                    warnings: list[str]) -> tuple[list[HistogramPlan], list[MetricQuery]]:
    """PR(:edge) queries for each (deployment id, EMF ``Deployment`` value, service): every model version
    the function published scores for (one ListMetrics listing for all of them) that has a readable
    baseline. Nothing without a baseline lookup; an unreadable baseline costs its model's histograms
    only (a warning says so)."""
    plans: list[HistogramPlan] = []
    queries: list[MetricQuery] = []
    if baselines is None:
        return plans, queries
    published = reader.list_model_versions()
    for deployment, emf_name, service in functions:
        for version in published.get(emf_name, []):
            try:
                found = baselines(ModelKey(service, version))
            except DriftError as exc:
                warnings.append(f"{deployment} model {version}: no prediction histograms: {exc}")
                continue
            planned = plan_score_histogram(deployment, emf_name, version, *found) if found else None
            if planned is not None:
                plans.append(planned[0])
                queries += planned[1]
    return plans, queries


def to_histograms(plans: Sequence[HistogramPlan], series: Mapping[tuple[str, str], Datapoints],
                  steps: Sequence[datetime], step_s: int, warnings: list[str]) -> list[HistogramPoint]:
    """Window counts per step from CloudWatch's CDF at the edges (steps without values are skipped)."""
    out: list[HistogramPoint] = []
    for plan in plans:
        totals = series.get((plan.deployment, f"{plan.key_prefix}:n"), {})
        for step in steps:
            total = totals.get(step)
            if not total:
                continue
            ranks = [series.get((plan.deployment, f"{plan.key_prefix}:{i}"), {}).get(step)
                     for i in range(len(plan.layout))]
            if any(r is None for r in ranks):
                warnings.append(f"{plan.deployment} {plan.key_prefix} {step:%H:%M}: no percentile ranks "
                                "(CloudWatch gives none when a value is negative); step skipped")
                continue
            try:
                counts = WindowCounts.from_cdf_fractions(plan.column, [float(r or 0) / 100 for r in ranks],
                                                         round(total), layout=list(plan.layout))
            except DriftError as exc:
                warnings.append(f"{plan.deployment} {plan.key_prefix} {step:%H:%M}: {exc}; step skipped")
                continue
            out.append(HistogramPoint(plan.deployment, plan.signal, step, step_s, plan.baseline_id, counts.to_dict()))
    return out
