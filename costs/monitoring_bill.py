"""What monitoring adds to a cloud bill per deployment-month, itemised, for today's per-invocation telemetry
and for the probe's window lines (docs/cloud.md). Pure arithmetic over list prices
(``costs/catalogues/monitoring.json``) and measured sizes; ``bench/monitoring_bill.py`` measures the sizes.

The workload: ``rps`` requests a second of ``request_s`` each, served by ``max(1, rps x request_s)`` busy
instances (Little's law), each writing one window line per ``flush_s``. Collection every ``collect_s``
re-reading ``lateness_s``, so each log line is read ``(collect_s + lateness_s) / collect_s`` times; the
cloud's own metrics read at every collection today, every ``cloud_metrics_s`` with window lines.
Free tiers are per account or project and shared, so they are not subtracted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costs.catalogue import SECONDS_PER_MONTH
from costs.errors import PriceCatalogueError

GB = 1e9  # AWS prices logs and transfer per GB
GIB = 2**30  # Google prices Cloud Logging per GiB


class _Prices(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class AwsMonitoringPrices(_Prices):
    source_url: str = Field(pattern="^https://")
    custom_metric_usd_per_month: float = Field(ge=0)
    get_metric_data_usd_per_metric: float = Field(ge=0)
    list_metrics_usd_per_request: float = Field(ge=0)
    logs_ingestion_usd_per_gb: float = Field(ge=0)
    logs_storage_usd_per_gb_month: float = Field(ge=0)
    data_transfer_out_usd_per_gb: float = Field(ge=0)


class GcpMonitoringPrices(_Prices):
    source_url: str = Field(pattern="^https://")
    logging_ingestion_usd_per_gib: float = Field(ge=0)
    logging_free_gib_per_project_month: float = Field(ge=0)
    monitoring_custom_usd_per_mib: float = Field(ge=0)
    monitoring_distribution_point_bytes: int = Field(ge=0)
    monitoring_read_usd_per_call: float = Field(ge=0)


class MonitoringPrices(_Prices):
    checked_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    aws: AwsMonitoringPrices
    gcp: GcpMonitoringPrices


def load_monitoring_prices() -> MonitoringPrices:
    """The packaged monitoring price list.

    Raises
    ------
    PriceCatalogueError
        When the packaged file does not validate.
    """
    text = resources.files("costs").joinpath("catalogues", "monitoring.json").read_text(encoding="utf-8")
    try:
        return MonitoringPrices.model_validate(json.loads(text))
    except ValidationError as exc:
        raise PriceCatalogueError(f"monitoring.json: {exc.errors()[0]['msg']}", field="monitoring") from exc


@dataclass(frozen=True, slots=True)
class Workload:
    rps: float
    request_s: float = 0.1
    flush_s: float = 60.0
    collect_s: float = 300.0
    lateness_s: float = 300.0
    cloud_metrics_s: float = 3600.0
    month_s: float = SECONDS_PER_MONTH

    @property
    def instances(self) -> float:
        return max(1.0, self.rps * self.request_s)

    @property
    def reads_per_line(self) -> float:
        return (self.collect_s + self.lateness_s) / self.collect_s


@dataclass(frozen=True, slots=True)
class Measured:
    """Sizes and counts measured on the real probe and the real collectors."""

    invocation_line_bytes: float  # today's per-invocation line
    declared_custom_metrics: int  # metric x dimension set declared by today's line
    window_line_bytes: float  # one window line at this workload's invocations per window
    event_overhead_bytes: float  # what a FilterLogEvents answer adds per event to its message
    report_line_bytes: float  # Lambda's REPORT record
    metric_queries: int  # GetMetricData metrics per read (AWS/Lambda of the function and its alias)
    emf_queries: int  # today's extra EMF metrics per read
    histogram_queries_per_hour: int  # today's PR(:edge) + SampleCount per model version
    gcp_reads_per_collection: int  # ListTimeSeries calls per collection


@dataclass(frozen=True, slots=True)
class AwsBill:
    custom_metrics_usd: float
    get_metric_data_usd: float
    logs_ingestion_usd: float
    logs_storage_usd: float
    log_reads_usd: float  # FilterLogEvents: no request or scan charge
    data_transfer_out_usd: float  # when the collector runs outside AWS
    ingested_gb: float
    read_gb: float

    @property
    def in_aws_usd(self) -> float:
        return (self.custom_metrics_usd + self.get_metric_data_usd + self.logs_ingestion_usd + self.logs_storage_usd
                + self.log_reads_usd)

    @property
    def outside_aws_usd(self) -> float:
        return self.in_aws_usd + self.data_transfer_out_usd

    def as_dict(self) -> dict[str, float]:
        return {**{k: round(v, 4) for k, v in asdict(self).items()}, "total_collector_in_aws_usd":
                round(self.in_aws_usd, 4), "total_collector_outside_aws_usd": round(self.outside_aws_usd, 4)}


@dataclass(frozen=True, slots=True)
class GcpBill:
    logging_ingestion_usd: float
    monitoring_custom_metrics_usd: float
    monitoring_reads_usd: float
    logging_reads_usd: float  # entries.list: no charge (quota only)
    ingested_gib: float

    @property
    def total_usd(self) -> float:
        return (self.logging_ingestion_usd + self.monitoring_custom_metrics_usd + self.monitoring_reads_usd
                + self.logging_reads_usd)

    def as_dict(self) -> dict[str, float]:
        return {**{k: round(v, 4) for k, v in asdict(self).items()}, "total_usd": round(self.total_usd, 4)}


def aws_today(w: Workload, m: Measured, p: AwsMonitoringPrices) -> AwsBill:
    """One EMF line per invocation declaring metrics; AWS/Lambda + EMF metrics at every collection, PR(:edge)
    histograms hourly; every REPORT read for cold starts."""
    requests = w.rps * w.month_s
    ingested = requests * m.invocation_line_bytes / GB
    metrics = w.month_s / w.collect_s * (m.metric_queries + m.emf_queries)
    hours = w.month_s / 3600
    gmd = (metrics + hours * m.histogram_queries_per_hour) * p.get_metric_data_usd_per_metric
    read = w.reads_per_line * requests * (m.report_line_bytes + m.event_overhead_bytes) / GB
    return AwsBill(m.declared_custom_metrics * p.custom_metric_usd_per_month,
                   gmd + hours * p.list_metrics_usd_per_request, ingested * p.logs_ingestion_usd_per_gb,
                   ingested * p.logs_storage_usd_per_gb_month, 0.0, read * p.data_transfer_out_usd_per_gb,
                   ingested, read)


def aws_window_lines(w: Workload, m: Measured, p: AwsMonitoringPrices) -> AwsBill:
    """Window lines, no custom metric; AWS/Lambda metrics every ``cloud_metrics_s``; one FilterLogEvents pass
    for the window lines and the cold starts' REPORTs (one per instance-hour, generously)."""
    lines = w.instances * w.month_s / w.flush_s
    ingested = lines * m.window_line_bytes / GB
    gmd = w.month_s / w.cloud_metrics_s * m.metric_queries * p.get_metric_data_usd_per_metric
    # lines are re-read for lateness, and once more when the cloud metrics' hour is read with them
    line_reads = (w.reads_per_line + w.collect_s / w.cloud_metrics_s) * lines * (m.window_line_bytes
                                                                                 + m.event_overhead_bytes)
    cold = w.reads_per_line * w.instances * w.month_s / 3600 * (m.report_line_bytes + m.event_overhead_bytes)
    read = (line_reads + cold) / GB
    return AwsBill(0.0, gmd, ingested * p.logs_ingestion_usd_per_gb, ingested * p.logs_storage_usd_per_gb_month, 0.0,
                   read * p.data_transfer_out_usd_per_gb, ingested, read)


def gcp_today(w: Workload, m: Measured, p: GcpMonitoringPrices) -> GcpBill:
    """One structured line per invocation into Cloud Logging, the score distribution metric (a point a minute),
    Cloud Monitoring read at every collection."""
    ingested = w.rps * w.month_s * m.invocation_line_bytes / GIB
    custom_mib = w.month_s / 60 * p.monitoring_distribution_point_bytes / 2**20
    reads = w.month_s / w.collect_s * m.gcp_reads_per_collection
    return GcpBill(ingested * p.logging_ingestion_usd_per_gib, custom_mib * p.monitoring_custom_usd_per_mib,
                   reads * p.monitoring_read_usd_per_call, 0.0, ingested)


def gcp_window_lines(w: Workload, m: Measured, p: GcpMonitoringPrices) -> GcpBill:
    """Window lines into Cloud Logging, read with entries.list; Cloud Monitoring every ``cloud_metrics_s``."""
    ingested = w.instances * w.month_s / w.flush_s * m.window_line_bytes / GIB
    reads = w.month_s / w.cloud_metrics_s * m.gcp_reads_per_collection
    return GcpBill(ingested * p.logging_ingestion_usd_per_gib, 0.0, reads * p.monitoring_read_usd_per_call, 0.0,
                   ingested)


def bills(w: Workload, m: Measured, prices: MonitoringPrices) -> dict[str, Any]:
    """Both designs on both clouds for one workload."""
    return {"instances": w.instances,
            "aws": {"today": aws_today(w, m, prices.aws).as_dict(),
                    "window_lines": aws_window_lines(w, m, prices.aws).as_dict()},
            "gcp": {"today": gcp_today(w, m, prices.gcp).as_dict(),
                    "window_lines": gcp_window_lines(w, m, prices.gcp).as_dict()}}
