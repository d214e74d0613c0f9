"""The Overview's status table and its sparklines, built from plain rows (no Streamlit)."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from dashboard import charts
from dashboard.status_table import render_table_html
from inferwatch.config import SloSection
from readmodels.overview import OverviewRow
from tests.dashboard.status_html import read_status_table

SLO = SloSection(p99_ms=250, availability=0.999, cold_start_rate=0.1)
SPAN = (0.0, 3600.0)
ROW = OverviewRow(deployment="aws:us-east-1:fn", service="scorer", role="stable", model_version="v2", health="ok",
                  reasons="", invocations=1200, predictions=2400, p50_ms=5.0, p95_ms=9.0, p99_ms=20.0,
                  slo_p99_ms=250.0, error_rate=0.0, cold_start_rate=0.01, cost_usd=0.01, cost_per_1k_usd=0.004,
                  drift_status="ok", firing_alerts=0)


def table(*rows: OverviewRow, trends: dict[tuple[str, str], charts.Trend] | None = None,
          link_params: list[tuple[str, str]] | None = None) -> str:
    frame = pd.DataFrame([r.as_dict() for r in rows])
    return render_table_html(frame, trends or {}, SPAN, SLO, range_label="1h", link_params=link_params or [])


def test_each_row_shows_its_numbers_in_the_dashboards_units() -> None:
    row = read_status_table(table(ROW))["aws:us-east-1:fn"]
    assert row.cells["p99 vs SLO"].startswith("20.0 ms SLO 250 ms")
    assert row.cells["errors"] == "0.00%" and row.cells["cold starts"] == "1.00%"
    assert row.cells["invocations"].startswith("1,200")
    assert row.cells["$ / 1k predictions"] == "$0.00400"
    assert row.cells["drift"] == "ok" and row.cells["alerts"] == "0"
    assert "scorer · model v2 · stable" in row.cells["deployment"]


def test_numbers_past_their_limits_take_the_states_colour() -> None:
    bad = replace(ROW, deployment="bad", health="bad", p99_ms=400.0, error_rate=0.02, firing_alerts=2,
                  drift_status="drift", reasons="p99 400 ms > SLO 250 ms")
    warn = replace(ROW, deployment="warn", health="warn", error_rate=0.002, cold_start_rate=0.3)
    rows = read_status_table(table(bad, warn))
    assert rows["bad"].flags == {"status": "bad", "p99 vs SLO": "bad", "errors": "bad",
                                 "drift": "bad", "alerts": "bad"}
    assert rows["bad"].cells["status"] == "bad p99 400 ms > SLO 250 ms"
    assert rows["warn"].flags == {"status": "warn", "errors": "warn", "cold starts": "warn", "drift": "ok"}
    assert list(rows) == ["bad", "warn"]  # the frame's order (worst first) is kept


def test_missing_numbers_read_as_a_dash_not_nan() -> None:
    quiet = replace(ROW, health="no_data", invocations=0, p99_ms=None, error_rate=None, cold_start_rate=None,
                    cost_per_1k_usd=None, drift_status="no_data", reasons="no traffic in the window")
    row = read_status_table(table(quiet))["aws:us-east-1:fn"]
    assert row.cells["errors"] == "—" and row.cells["$ / 1k predictions"] == "—"
    assert row.cells["p99 vs SLO"].startswith("— SLO 250 ms")
    assert row.cells["drift"] == "no data" and row.flags["status"] == "neutral"
    assert "nan" not in table(quiet).lower()


def test_what_comes_from_the_store_is_escaped() -> None:
    hostile = replace(ROW, deployment='local:x:<img src=x onerror="alert(1)">', service="<b>svc</b>",
                      reasons="<script>alert(2)</script>")
    body = table(hostile, link_params=[("range", "6h"), ("deployment", "a&b")])
    assert "<img" not in body and "<script>" not in body and "<b>" not in body
    row = read_status_table(body)[hostile.deployment]
    assert row.cells["status"].endswith("<script>alert(2)</script>")  # shown as text
    link = "deployment?d=local%3Ax%3A%3Cimg+src%3Dx+onerror%3D%22alert%281%29%22%3E&range=6h&deployment=a%26b"
    assert row.links == [link]


def test_a_sparkline_places_points_at_their_time_and_scales_to_its_peak() -> None:
    trend = [(1800.0, 10.0), (2700.0, 20.0), (3600.0, 0.0)]
    html = charts.sparkline_html(trend, SPAN, colour="#000", label="p99", format_value=charts.format_ms)
    outline = html.split("polygon(", 1)[1].split(")", 1)[0].split(",")
    assert outline == ["50% 100%", "50% 54%", "75% 8%", "100% 100%", "100% 100%"]
    assert 'aria-label="p99: last 0.0 ms, peak 20.0 ms, 3 points"' in html


def test_a_sparkline_of_one_point_is_a_visible_bar_and_of_none_a_dash() -> None:
    one = charts.sparkline_html([(900.0, 5.0)], SPAN, colour="#000", label="x", format_value=str)
    outline = one.split("polygon(", 1)[1].split(")", 1)[0].split(",")
    assert outline[1:3] == ["24% 8%", "26% 8%"]
    for empty in ([], [(900.0, math.nan)]):
        html = charts.sparkline_html(empty, SPAN, colour="#000", label="x", format_value=str)
        assert "polygon" not in html and "no data" in html
    flat = charts.sparkline_html([(0.0, 0.0), (60.0, 0.0)], SPAN, colour="#000", label="x", format_value=str)
    assert "0% 100%,2% 100%" in flat  # all zero: along the baseline, no division by zero
