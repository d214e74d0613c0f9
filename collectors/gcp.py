"""The Google Cloud provider: one ``GcpCollector`` per configured Cloud Run service.

Each run reads the service's configuration (GetService, then GetRevision for the revisions in its
traffic split), then one ListTimeSeries request per query of ``gcp_monitoring.QUERIES`` (plus the
prediction distribution) over the whole steps since the last complete window, re-reading
``lateness_s`` because Cloud Monitoring points arrive late; the same window always yields the same
records. With ``billing_export_table`` set it also reads the BigQuery billing export, at most once
an hour. Cost *estimates* (billable instance time x price) are computed downstream by ``costs/``.

Clients are built on first use: the real ``MetricServiceClient``, ``ServicesClient`` and
``RevisionsClient`` with Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS`` from
the given environment, else ``google.auth.default()``) and ``INFERWATCH_GCP_QUOTA_PROJECT`` as the
quota project; or, when ``ctx.endpoints["gcp"]`` is set (tests), the same clients on a plaintext
gRPC channel to that address.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from google.api_core import retry as gretry

from collectors.base import BaselineLookup, CollectorContext, ProbeBinsLookup, ProviderCheck, Window, plan_window
from collectors.errors import CollectorError, ProviderAuthError
from collectors.gcp_billing import (
    BigQueryBillingSource,
    BillingSource,
    billing_days,
    build_billing_query,
    cost_records,
    is_valid_table,
)
from collectors.gcp_client import PROVIDER, GcpClients, Target, connect, default_retry
from collectors.gcp_logging import CLOUD_METRICS, fetch_window_entries, probe_window_lines, window_points
from collectors.gcp_monitoring import PERMISSION as MONITORING_PERMISSION
from collectors.gcp_monitoring import (
    PREDICTION_METRIC,
    QUERIES,
    Kind,
    StepDistribution,
    build_request,
    fetch_series,
    prediction_query,
    probe_monitoring,
    read_query,
    startup_points,
)
from collectors.gcp_run_config import (
    ServiceDefaults,
    build_deployments,
    fetch_revision,
    fetch_service,
    retired_revision,
    traffic_revisions,
)
from collectors.window_merge import cloud_due, combine, cursor_time
from drift.baseline import NumericColumn
from drift.cloud import bin_edges_for_cloud
from drift.errors import DriftError
from drift.window import WindowCounts
from inferwatch.config import GcpDeploymentConfig, Settings
from inferwatch.errors import ConfigError
from inferwatch.schema import CollectionBatch, CostRecord, Deployment, HistogramPoint, MetricPoint, ModelKey
from inferwatch.schema import Metric as M

log = logging.getLogger(__name__)

BILLING_INTERVAL_S = 3600
# A service that wrote window lines this recently is still read as probe-instrumented when idle (no lines):
# Cloud Monitoring then stays on its interval instead of being read every run.
PROBE_MEMORY_S = 86_400
SCORE_SIGNAL = "score"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,61}[a-z0-9]$")


class GcpCollector:
    """Metrics, configuration, prediction histograms and billed cost of one Cloud Run service."""

    def __init__(self, target: Target, clients: Callable[[], GcpClients], *, step_s: int = 60,
                 lateness_s: int = 300, lookback_s: int = 3600, retry: gretry.Retry | None = None,
                 timeout_s: float = 30.0, defaults: ServiceDefaults | None = None,
                 baselines: BaselineLookup | None = None, prediction_metric: str = PREDICTION_METRIC,
                 billing_table: str | None = None,
                 billing: Callable[[GcpClients], BillingSource] | None = None,
                 probe_bins: ProbeBinsLookup | None = None, cloud_metrics_interval_s: int = 0) -> None:
        self.name = f"{PROVIDER}:{target.project}:{target.region}:{target.service}"
        self.target = target
        self._connect = clients
        self._clients: GcpClients | None = None
        self.step_s, self.lateness_s, self.lookback_s = step_s, lateness_s, lookback_s
        self.retry = retry or default_retry()
        self.timeout_s = timeout_s
        self.defaults = defaults or ServiceDefaults()
        self.baselines, self.probe_bins = baselines, probe_bins
        self.cloud_metrics_interval_s = cloud_metrics_interval_s
        self.queries = (*QUERIES, prediction_query(prediction_metric))
        self.billing_table = billing_table
        self._billing = billing or (lambda c: BigQueryBillingSource(target.project, credentials=c.credentials))

    def clients(self) -> GcpClients:
        if self._clients is None:
            self._clients = self._connect()
        return self._clients

    def collect(self, now: datetime, cursor: Mapping[str, Any] | None) -> CollectionBatch:
        window = plan_window(now, cursor, step_s=self.step_s, lateness_s=self.lateness_s,
                             lookback_s=self.lookback_s)
        deployments = self.fetch_deployments()
        warnings: list[str] = []
        points: list[MetricPoint] = []
        histograms: list[HistogramPoint] = []
        cloud_until = cursor_time(cursor, "cloud_complete_until")
        seen = cursor_time(cursor, "window_lines_seen_at")
        probed = seen is not None and (now - seen).total_seconds() < PROBE_MEMORY_S
        if window.start < window.end:
            points, histograms, cloud_until, lines = self.fetch_window(now, window, deployments, warnings,
                                                                       cloud_until if probed else None)
            seen = now if lines else seen
            known = {d.id for d in deployments}
            for revision in sorted({p.deployment for p in points} - known):
                deployments.append(retired_revision(self.target, revision.rsplit(":", 1)[-1]))
        next_cursor: dict[str, Any] = {**(cursor or {}), "complete_until": int(window.end.timestamp())}
        if cloud_until is not None:
            next_cursor["cloud_complete_until"] = int(cloud_until.timestamp())
        if seen is not None:
            next_cursor["window_lines_seen_at"] = int(seen.timestamp())
        costs: list[CostRecord] = []
        try:
            costs = self.fetch_costs(now, next_cursor)
        except CollectorError as exc:  # billing is hourly and optional: the metrics still land
            log.warning("%s: billing export not read: %s", self.name, exc)
            warnings.append(f"billing export not read: {exc}")
        return CollectionBatch(collector=self.name, deployments=tuple(deployments), points=tuple(points),
                               histograms=tuple(histograms), costs=tuple(costs), cursor=next_cursor,
                               warnings=tuple(warnings))

    def fetch_deployments(self) -> list[Deployment]:
        clients = self.clients()
        service = fetch_service(clients.services, self.target, retry=self.retry, timeout_s=self.timeout_s)
        revisions = [r for name in traffic_revisions(service)
                     if (r := fetch_revision(clients.revisions, self.target, name, retry=self.retry,
                                             timeout_s=self.timeout_s)) is not None]
        return build_deployments(self.target, service, revisions, self.defaults)

    def fetch_window(self, now: datetime, window: Window, deployments: Sequence[Deployment], warnings: list[str],
                     cloud_until: datetime | None = None,
                     ) -> tuple[list[MetricPoint], list[HistogramPoint], datetime | None, bool]:
        """The window's points and histograms, until when Cloud Monitoring has been read for a service that
        writes window lines (None for one that does not: it is read every run, as before the probe), and
        whether window lines were read.

        A service with window lines in this window or the last ``PROBE_MEMORY_S`` (``cloud_until`` given) has
        Cloud Monitoring read at most every ``cloud_metrics_interval_s`` (from ``cloud_until`` less the
        lateness), and its window lines over the same span when it is; an idle one is not read every run."""
        due = cloud_due(cloud_until, window.end, self.cloud_metrics_interval_s)
        cloud = plan_window(now, {"complete_until": int(cloud_until.timestamp())} if cloud_until else None,
                            step_s=self.step_s, lateness_s=self.lateness_s, lookback_s=self.lookback_s)
        lines_window = Window(min(window.start, cloud.start), window.end, window.step_s) if due else window
        entries = fetch_window_entries(self.clients().logging, self.target, lines_window.start, lines_window.end,
                                       retry=self.retry, timeout_s=self.timeout_s) if self.clients().logging else []
        probed = bool(entries) or cloud_until is not None
        monitored = window if not probed else lines_window if due else None
        points, histograms = self.fetch_monitoring(monitored, deployments, warnings) if monitored else ([], [])
        line_points, line_histograms = window_points(entries, self.target, lines_window, deployments,
                                                     baselines=self.baselines, probe_bins=self.probe_bins,
                                                     warnings=warnings)
        until = (window.end if due else cloud_until) if probed else None
        return (combine(points, line_points, cloud_metrics=CLOUD_METRICS, cloud_until=until),
                histograms + line_histograms, until, bool(entries))

    def fetch_monitoring(self, window: Window, deployments: Sequence[Deployment],
                         warnings: list[str]) -> tuple[list[MetricPoint], list[HistogramPoint]]:
        points: list[MetricPoint] = []
        histograms: list[HistogramPoint] = []
        versions = {d.id: d.model_version for d in deployments}
        for query in self.queries:
            request = build_request(query, self.target, window)
            series = fetch_series(self.clients().monitoring, request, retry=self.retry, timeout_s=self.timeout_s)
            result = read_query(query, series, self.target, window)
            warnings += result.warnings
            points += result.points
            if query.kind is Kind.STARTUPS:
                points += startup_points(result.distributions, self.target, window.step_s)
            elif query.kind is Kind.PREDICTIONS:
                hist, rows = prediction_histograms(result.distributions, self.target, window.step_s, versions,
                                                   self.baselines, warnings)
                histograms += hist
                points += rows
        points += zero_fill(points, self.target, window)
        return points, histograms

    def fetch_costs(self, now: datetime, cursor: dict[str, Any]) -> list[CostRecord]:
        """Billing-export rows, at most once per ``BILLING_INTERVAL_S`` (the export lags by hours)."""
        if not self.billing_table:
            return []
        checked = int(cursor.get("billing_checked_at", 0))
        if int(now.timestamp()) - checked < BILLING_INTERVAL_S:
            return []
        last = cursor.get("billing_until")
        start_day, end_day = billing_days(now, date.fromisoformat(last) if last else None)
        query = build_billing_query(self.billing_table, self.target, start_day, end_day)
        cursor["billing_checked_at"] = int(now.timestamp())  # a failure is retried next hour, not every run
        rows = self._billing(self.clients()).fetch_rows(query)
        cursor["billing_until"] = (end_day - timedelta(days=1)).isoformat()
        return cost_records(rows, query.scope, now.astimezone(UTC).date())


def prediction_histograms(dists: Sequence[StepDistribution], target: Target, step_s: int,
                          versions: Mapping[str, str], baselines: BaselineLookup | None,
                          warnings: list[str]) -> tuple[list[HistogramPoint], list[MetricPoint]]:
    """Score histograms per revision and step over the baseline's cloud bins, and rows predicted.

    A distribution whose bucket bounds are not the baseline's ``gcp_bounds`` cannot be mapped onto
    its bins: it is reported, not guessed."""
    rows: dict[tuple[str, datetime], float] = defaultdict(float)
    out: dict[tuple[str, datetime], HistogramPoint] = {}
    bins: dict[str, Any] = {}
    problems: set[str] = set()
    for d in dists:
        revision = d.labels.get("metric.revision_name", "")
        dep = target.revision_id(revision) if revision else target.service_id
        rows[(dep, d.start)] += d.count
        rows[(target.service_id, d.start)] += d.count if revision else 0
        version = d.labels.get("metric.model_version") or versions.get(dep, "")
        if baselines is None or not revision or not version:
            continue
        if version not in bins:
            found = baselines(ModelKey(target.service, version))
            try:
                if found is None:
                    raise LookupError(f"no baseline for model version {version!r}: histograms skipped")
                column = found[1].column(SCORE_SIGNAL)
                if not isinstance(column, NumericColumn):
                    raise LookupError(  # noqa: TRY004 (reported as a warning, like a missing baseline)
                        f"baseline {found[0]}: {SCORE_SIGNAL!r} is not numeric")
                bins[version] = (found[0], column, bin_edges_for_cloud(column))
            except (LookupError, DriftError) as exc:
                bins[version] = None
                problems.add(str(exc))
        entry = bins[version]
        if entry is None:
            continue
        baseline_id, column, cloud = entry
        if d.bounds != cloud.gcp_bounds:
            problems.add(f"{dep}: prediction buckets ({len(d.bounds)} bounds) are not the gcp_bounds of baseline "
                         f"{baseline_id} ({len(cloud.gcp_bounds)}): recreate the metric with those bounds")
            continue
        counts = WindowCounts.from_bucket_counts(column, d.bucket_counts, layout=cloud.layout)
        key = (dep, d.start)
        if key in out:
            problems.add(f"{dep}: several model versions in one step; kept the first")
            continue
        out[key] = HistogramPoint(dep, SCORE_SIGNAL, d.start, step_s, baseline_id, counts.to_dict())
    warnings += sorted(problems)
    points = [MetricPoint(dep, M.ROWS, start, step_s, value) for (dep, start), value in sorted(rows.items())]
    return [out[k] for k in sorted(out)], points


def zero_fill(points: Sequence[MetricPoint], target: Target, window: Window) -> list[MetricPoint]:
    """Steps of the window with no requests at all get ``invocations_count = 0`` for the service, so
    an idle service reads as idle rather than as missing data."""
    service_id = target.service_id
    seen = {p.start for p in points if p.deployment == service_id and p.metric == M.INVOCATIONS}
    out: list[MetricPoint] = []
    start = window.start
    while start < window.end:
        if start not in seen:
            out.append(MetricPoint(service_id, M.INVOCATIONS, start, window.step_s, 0.0))
        start += timedelta(seconds=window.step_s)
    return out


def _target(cfg: GcpDeploymentConfig, index: int) -> Target:
    for field, value, pattern in (("project", cfg.project, _PROJECT), ("service_name", cfg.service_name, _NAME),
                                  ("region", cfg.region, _NAME)):
        if not pattern.match(value):
            raise ConfigError(f"deployments[{index}].{field}: {value!r} is not a valid Google Cloud {field}",
                              field=f"deployments[{index}].{field}")
    if cfg.billing_export_table and not is_valid_table(cfg.billing_export_table):
        raise ConfigError(f"deployments[{index}].billing_export_table: {cfg.billing_export_table!r} is not of "
                          "the form project.dataset.table", field=f"deployments[{index}].billing_export_table")
    return Target(cfg.project, cfg.region, cfg.service_name)


def from_settings(settings: Settings, ctx: CollectorContext) -> list[GcpCollector]:
    """One collector per configured Cloud Run service; nothing touches the network until collect."""
    out: list[GcpCollector] = []
    for index, cfg in enumerate(settings.deployments):
        if not isinstance(cfg, GcpDeploymentConfig):
            continue
        target = _target(cfg, index)
        defaults = ServiceDefaults(role=cfg.role, slo_p99_ms=cfg.slo_p99_ms, labels=dict(cfg.labels))
        out.append(GcpCollector(
            target, lambda: connect(ctx), step_s=settings.collect.step_s, lateness_s=settings.collect.lateness_s,
            lookback_s=settings.collect.lookback_s, defaults=defaults, baselines=ctx.baselines,
            billing_table=cfg.billing_export_table, probe_bins=ctx.probe_bins,
            cloud_metrics_interval_s=settings.collect.cloud_metrics_interval_s))
    return out


def check(settings: Settings, ctx: CollectorContext, *, retry: gretry.Retry | None = None) -> list[ProviderCheck]:
    """Per service: are there credentials, do the APIs answer, do the permissions suffice."""
    retry = retry or default_retry(initial_s=0.5, maximum_s=2.0, deadline_s=10.0)
    out: list[ProviderCheck] = []
    clients: GcpClients | None = None
    for index, cfg in enumerate(settings.deployments):
        if not isinstance(cfg, GcpDeploymentConfig):
            continue
        scope = f"{cfg.project}/{cfg.region}/{cfg.service_name}"
        try:
            target = _target(cfg, index)
            clients = clients or connect(ctx)
        except (ConfigError, CollectorError) as exc:
            out.append(ProviderCheck(PROVIDER, scope, False, str(exc)))
            continue
        missing: list[str] = []
        problems: list[str] = []
        lines = 0
        for probe in ("service", "monitoring", "logging"):
            try:
                if probe == "service":
                    fetch_service(clients.services, target, retry=retry, timeout_s=10.0)
                elif probe == "monitoring":
                    probe_monitoring(clients.monitoring, target, datetime.now(UTC), retry=retry)
                else:
                    lines = probe_window_lines(clients.logging, target, datetime.now(UTC), retry=retry)
            except ProviderAuthError as exc:
                missing.append(exc.action or "unknown permission")
            except CollectorError as exc:
                problems.append(str(exc))
        detail = _check_detail(missing, problems, cfg.billing_export_table)
        if not missing and not problems:
            detail += (f"; {lines} probe window line(s) in the last hour" if lines else
                       "; no probe window line in the last hour: drift needs the probe (`inferwatch setup gcp`)")
        out.append(ProviderCheck(PROVIDER, scope, not missing and not problems, detail, tuple(missing)))
    return out


def _check_detail(missing: Sequence[str], problems: Sequence[str], billing_table: str | None) -> str:
    if missing:
        return f"permission denied: grant {', '.join(missing)} (deploy/iam/gcp-collector-role.yaml)"
    if problems:
        return "; ".join(problems)
    detail = f"credentials found; Cloud Run Admin and Cloud Monitoring answer ({MONITORING_PERMISSION} ok)"
    if billing_table:
        detail += f"; billing export {billing_table} configured (queried at most hourly, not probed)"
    return detail
