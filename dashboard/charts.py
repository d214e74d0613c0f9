"""Every chart is built here, so units, colours and layout are the same on every page."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go

# One colour per meaning, everywhere.
COLOURS: Mapping[str, str] = {
    "latency_p50_ms": "#4C78A8", "latency_p95_ms": "#F58518", "latency_p99_ms": "#E45756",
    "ok": "#54A24B", "warn": "#ECA82C", "bad": "#E45756", "neutral": "#9D9DA0",
    "baseline": "#9D9DA0", "current": "#4C78A8", "threshold": "#E45756", "noise": "rgba(157,157,160,0.25)",
}
PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#B279A2", "#72B7B2", "#FF9DA6", "#9D755D", "#BAB0AC")
LABELS: Mapping[str, str] = {
    "latency_p50_ms": "p50", "latency_p95_ms": "p95", "latency_p99_ms": "p99",
    "invocations_count": "invocations", "cold_starts_count": "cold starts",
    "init_avg_ms": "init (mean)", "init_max_ms": "init (max)", "restores_count": "of which SnapStart restores",
    "restore_avg_ms": "restore (mean)", "restore_max_ms": "restore (max)",
    "billed_restore_sum_ms": "restore time billed",
    "server_errors_count": "server errors", "timeouts_count": "timeouts", "degraded_count": "degraded answers",
    "client_errors_count": "client errors (4xx)", "throttles_count": "throttles",
    "concurrency_max_count": "concurrency (max)", "instances_active_count": "active instances",
    "instances_idle_count": "idle instances", "provisioned_concurrency_count": "provisioned concurrency",
    "provisioned_utilization_ratio": "provisioned utilisation",
    "memory_max_used_mb": "memory used (max)", "memory_configured_mb": "memory configured",
}
CONFIG = {"displaylogo": False, "responsive": True}
MISSING = "—"  # what an empty table cell shows (st.dataframe's placeholder; its default is "None")


TimeRange = tuple[datetime, datetime]


LONE_POINT_PAD = timedelta(minutes=30)  # either side of a time chart whose points all share one instant


def base_layout(fig: go.Figure, *, title: str, y_title: str, height: int = 320,
                x_range: TimeRange | None = None) -> go.Figure:
    """``x_range``: the picked time range, so the axis spans it whatever the data covers (a single
    step would otherwise be zoomed into millisecond ticks, and a gap at the end would be hidden).
    Without one, a time axis whose points all sit at one instant spans half an hour either side."""
    if x_range is None and (lone := lone_instant(fig)) is not None:
        x_range = (lone - LONE_POINT_PAD, lone + LONE_POINT_PAD)
    if x_range is not None:
        fig.update_xaxes(range=list(x_range), type="date")
    fig.update_layout(title={"text": title, "x": 0, "font": {"size": 15}}, height=height,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="x unified",
                      legend={"orientation": "h", "y": -0.2}, template="plotly_white")
    fig.update_yaxes(title_text=y_title, rangemode="tozero")
    return fig


def lone_instant(fig: go.Figure) -> datetime | None:
    """The x of a chart whose x values are all times and all the same instant, else None (categories
    and numbers are left to plotly)."""
    values = [v for trace in fig.data for v in (() if getattr(trace, "x", None) is None else trace.x)]
    if not values or not all(isinstance(v, datetime | np.datetime64) for v in values):
        return None
    instants = set(pd.to_datetime(pd.Series(values), utc=True))
    return next(iter(instants)).to_pydatetime() if len(instants) == 1 else None


def latency_chart(frame: pd.DataFrame, *, title: str, slo_ms: float | None = None,
                  x_range: TimeRange | None = None) -> go.Figure:
    """p50/p95/p99 over time; ``frame`` is long (metric, start, value) for one deployment."""
    fig = go.Figure()
    for metric in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"):
        part = frame[frame["metric"] == metric]
        if not part.empty:
            fig.add_trace(go.Scatter(x=part["start"], y=part["value"], name=LABELS[metric], mode=_mode(part),
                                     line={"color": COLOURS[metric], "width": 2}))
    if slo_ms is not None:
        fig.add_hline(y=slo_ms, line={"color": COLOURS["threshold"], "dash": "dash"},
                      annotation_text=f"SLO p99 {slo_ms:.0f} ms")
    return base_layout(fig, title=title, y_title="latency (ms)", x_range=x_range)


def series_chart(frame: pd.DataFrame, *, title: str, y_title: str, by: str = "deployment",
                 kind: str = "line", x_range: TimeRange | None = None) -> go.Figure:
    """One trace per value of ``by`` over time (long frame with start, value); ``kind`` line, bar
    (stacked: parts of a whole) or grouped (bars side by side: one count and a subset of it)."""
    fig = go.Figure()
    for i, (name, part) in enumerate(frame.groupby(by, sort=True)):
        colour = COLOURS.get(str(name), PALETTE[i % len(PALETTE)])
        if kind in ("bar", "grouped"):
            fig.add_trace(go.Bar(x=part["start"], y=part["value"], name=LABELS.get(str(name), str(name)),
                                 marker_color=colour))
        else:
            fig.add_trace(go.Scatter(x=part["start"], y=part["value"], name=LABELS.get(str(name), str(name)),
                                     mode=_mode(part), line={"color": colour, "width": 2}))
    if kind in ("bar", "grouped"):
        fig.update_layout(barmode="stack" if kind == "bar" else "group")
    return base_layout(fig, title=title, y_title=y_title, x_range=x_range)


def quality_chart(frame: pd.DataFrame, *, title: str, metric: str, baseline: float | None,
                  x_range: TimeRange | None = None) -> go.Figure:
    """Estimated quality with its 95% band and realised quality over time, with the baseline's level.
    ``frame``: one row per window (end, estimated, estimated_low, estimated_high, realised)."""
    fig = go.Figure()
    band = frame.dropna(subset=["estimated_low", "estimated_high"])
    if not band.empty:
        fig.add_trace(go.Scatter(x=band["end"], y=band["estimated_high"], mode="lines", line={"width": 0},
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=band["end"], y=band["estimated_low"], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor=COLOURS["noise"], name="95% band of the estimate"))
    estimated = frame.dropna(subset=["estimated"])
    if not estimated.empty:  # whiskers too: a band of one window is not drawn as an area
        whiskers = {"type": "data", "symmetric": False, "color": COLOURS["current"], "thickness": 1,
                    "array": (estimated["estimated_high"] - estimated["estimated"]).tolist(),
                    "arrayminus": (estimated["estimated"] - estimated["estimated_low"]).tolist()}
        fig.add_trace(go.Scatter(x=estimated["end"], y=estimated["estimated"], mode="lines+markers",
                                 name=f"estimated {metric} (no labels)", line={"color": COLOURS["current"]},
                                 error_y=whiskers))
    realised = frame.dropna(subset=["realised"])
    if not realised.empty:
        fig.add_trace(go.Scatter(x=realised["end"], y=realised["realised"], mode="markers",
                                 name=f"realised {metric} (labels)",
                                 marker={"color": PALETTE[1], "size": 10, "symbol": "diamond"}))
    if baseline is not None:
        fig.add_hline(y=baseline, line={"color": COLOURS["baseline"], "dash": "dash"},
                      annotation_text=f"baseline {baseline:.3f}")
    fig = base_layout(fig, title=title, y_title=metric, x_range=x_range)
    fig.update_yaxes(rangemode="normal")  # a quality of 0.9 against 0.97 is lost on an axis from 0
    return fig


def _mode(part: pd.DataFrame) -> str:
    """Markers too while a series is short: a single point drawn as a line is invisible."""
    return "lines+markers" if len(part) < 30 else "lines"


def status_colour(state: str) -> str:
    return {"ok": COLOURS["ok"], "warn": COLOURS["warn"], "pending": COLOURS["warn"],
            "bad": COLOURS["bad"], "firing": COLOURS["bad"], "drift": COLOURS["bad"]}.get(state, COLOURS["neutral"])


def format_ms(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:,.1f} ms"


def format_pct(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value * 100:.2f}%"


def format_mb(value: float | None) -> str:
    """A memory size; "memory unknown" when the deployment has none configured (pandas holds it as NaN)."""
    return "memory unknown" if value is None or pd.isna(value) else f"{value:,.0f} MB"


def format_usd(value: float | None, digits: int = 4) -> str:
    return "—" if value is None or pd.isna(value) else f"${value:,.{digits}f}"


TREND_METRICS = ("latency_p99_ms", "invocations_count")
Trend = list[tuple[float, float]]  # (epoch seconds, value), oldest first


def sparkline_html(trend: Trend, span: tuple[float, float], *, colour: str, label: str,
                   format_value: Callable[[float], str]) -> str:
    """A filled sparkline as one clipped ``div``: ``st.html`` sanitizes with DOMPurify's HTML profile,
    which drops inline SVG, and an SVG image per sparkline costs the browser a document each (100
    of them made the Overview's table most of its render time). Points sit at their time within
    ``span`` (so a series that starts late starts late); the y axis runs from 0 to the series' peak."""
    points = [(t, v) for t, v in trend if math.isfinite(v)]
    if not points:
        return '<div class="iw-spark iw-empty" title="no data in the range">—</div>'
    start, end = span
    peak = max(max(v for _, v in points), 0.0)
    xy = [(100 * min(max((t - start) / (end - start), 0.0), 1.0), 100 - 92 * (max(v, 0.0) / peak if peak > 0 else 0.0))
          for t, v in points]
    if len(xy) == 1:  # one point: a thin bar, where a line would be invisible
        (x, y), = xy
        xy = [(max(x - 1.5, 0.0), y), (min(x + 1.5, 100.0), y)]
    outline = ",".join(f"{x:.0f}% {y:.0f}%" for x, y in xy)  # a percent is under a pixel of 72
    summary = html.escape(f"{label}: last {format_value(points[-1][1])}, peak {format_value(peak)}, "
                          f"{len(points)} points", quote=True)
    return (f'<div class="iw-spark" role="img" aria-label="{summary}" title="{summary}">'
            f'<div style="background:{colour};clip-path:polygon({xy[0][0]:.0f}% 100%,{outline},'
            f'{xy[-1][0]:.0f}% 100%)"></div></div>')


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:.0f} {unit}"
    return f"{seconds:.0f} s"
