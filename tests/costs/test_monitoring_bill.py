"""The monitoring bill's arithmetic, checked by hand against the price list, and its shape: today's grows
with requests, the window lines' with instances."""

from __future__ import annotations

import pytest

from costs.monitoring_bill import (
    Measured,
    Workload,
    aws_today,
    aws_window_lines,
    gcp_window_lines,
    load_monitoring_prices,
)

M = Measured(invocation_line_bytes=2000.0, declared_custom_metrics=20, window_line_bytes=8000.0,
             event_overhead_bytes=150.0, report_line_bytes=150.0, metric_queries=20, emf_queries=6,
             histogram_queries_per_hour=200, gcp_reads_per_collection=14)


def test_todays_aws_bill_by_hand() -> None:
    p = load_monitoring_prices().aws
    bill = aws_today(Workload(10), M, p)
    assert bill.custom_metrics_usd == pytest.approx(20 * 0.30)
    collections = 730 * 12  # every 5 minutes
    assert bill.get_metric_data_usd == pytest.approx((collections * 26 + 730 * 200) * 1e-5 + 730 * 1e-5)
    assert bill.logs_ingestion_usd == pytest.approx(10 * 730 * 3600 * 2000 / 1e9 * 0.50)
    reads_gb = 2 * 10 * 730 * 3600 * 300 / 1e9  # every REPORT, read twice (lateness)
    assert bill.data_transfer_out_usd == pytest.approx(reads_gb * 0.09)


def test_window_lines_cost_per_instance_not_per_request() -> None:
    p = load_monitoring_prices()
    one, ten = aws_window_lines(Workload(1), M, p.aws), aws_window_lines(Workload(10), M, p.aws)
    assert one.custom_metrics_usd == 0 and one.logs_ingestion_usd == ten.logs_ingestion_usd  # one instance each
    assert one.logs_ingestion_usd == pytest.approx(730 * 60 * 8000 / 1e9 * 0.50)
    assert one.get_metric_data_usd == pytest.approx(730 * 20 * 1e-5)  # hourly
    hundred = aws_window_lines(Workload(100), M, p.aws)  # ten busy instances
    assert hundred.logs_ingestion_usd == pytest.approx(10 * one.logs_ingestion_usd)
    assert ten.outside_aws_usd <= 0.50 and gcp_window_lines(Workload(10), M, p.gcp).total_usd <= 0.50
