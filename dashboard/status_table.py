"""The Overview's table: one row per deployment, worst first, as plain HTML.

Plain HTML, not ``st.dataframe``: the landing page answers "is anything wrong?" for every deployment
at once, and Streamlit's data grid costs the browser more to mount than the rest of the page together
(measured in bench/dashboard_overview.py). The Deployment page, one link away, has the full charts;
every string from the store is escaped here.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from dashboard import charts
from inferwatch.config import SloSection
from readmodels.overview import BAD_AT_ERROR_BUDGETS

HEALTH_TEXT = {"bad": "bad", "warn": "warn", "no_data": "no data", "ok": "ok"}
DRIFT_STATE = {"drift": "bad", "warn": "warn", "ok": "ok"}  # drift status -> colour state
HEADERS = ("status", "deployment", "p99 vs SLO", "errors", "cold starts", "invocations", "$ / 1k predictions",
           "drift", "alerts")
NUMERIC = frozenset({"errors", "cold starts", "$ / 1k predictions", "alerts"})
STATES = ("ok", "warn", "bad", "neutral")


def table_css() -> str:
    """Theme-neutral styles (text colours inherit), one colour per state from :data:`charts.COLOURS`."""
    states = "".join(f".iw-status .iw-{state}{{--iw-c:{charts.COLOURS[state]}}}" for state in STATES)
    return (
        ".iw-status{width:100%;border-collapse:collapse;font-size:.875rem;font-variant-numeric:tabular-nums}"
        ".iw-status th{text-align:left;font-weight:600;padding:.35rem .4rem;vertical-align:bottom;"
        "border-bottom:2px solid rgba(128,128,128,.35)}"
        ".iw-status td{padding:.3rem .4rem;border-bottom:1px solid rgba(128,128,128,.18);vertical-align:middle}"
        ".iw-status .num{text-align:right;white-space:nowrap}"
        ".iw-status .sub{display:block;opacity:.65;font-size:.75rem}"
        ".iw-status .why{display:block;opacity:.75;font-size:.75rem;min-width:10rem;max-width:16rem}"
        ".iw-status .pair{display:flex;align-items:center;gap:.6rem;justify-content:flex-end}"
        ".iw-status a{white-space:nowrap}"
        ".iw-scroll{overflow-x:auto}"
        ".iw-status .iw-pill{display:inline-block;white-space:nowrap;padding:0 .5rem;border-radius:1rem;"
        "color:var(--iw-c);border:1px solid var(--iw-c)}"
        ".iw-status .iw-flag{color:var(--iw-c);font-weight:600}"
        ".iw-status .iw-spark{width:72px;height:26px;border-bottom:1px solid rgba(128,128,128,.4)}"
        ".iw-status .iw-spark>div{width:100%;height:100%}"
        ".iw-status .iw-empty{border:none;opacity:.5;line-height:26px;text-align:center}"
        + states)


def render_table_html(rows: pd.DataFrame, trends: Mapping[tuple[str, str], charts.Trend],
                      span: tuple[float, float], slo: SloSection, *, range_label: str,
                      link_params: Sequence[tuple[str, str]]) -> str:
    """``rows``: the overview frame (readmodels.overview.OverviewRow columns), already worst first.
    ``trends``: (deployment, metric) -> points over ``span``. ``link_params``: query parameters each
    deployment's link keeps (range and deployment filter), so the Deployment page opens on the same view."""
    body = "".join(_row(row, trends, span, slo, range_label, link_params) for row in rows.to_dict("records"))
    head = "".join(f'<th class="num">{h}</th>' if h in NUMERIC else f"<th>{h}</th>" for h in HEADERS)
    return (f'<style>{table_css()}</style><div class="iw-scroll"><table class="iw-status"><thead><tr>{head}</tr>'
            f"</thead><tbody>{body}</tbody></table></div>")


def _row(r: Mapping[Any, Any], trends: Mapping[tuple[str, str], charts.Trend], span: tuple[float, float],
         slo: SloSection, range_label: str, link_params: Sequence[tuple[str, str]]) -> str:
    esc = html.escape
    dep = str(r["deployment"])
    href = esc("deployment?" + urlencode([("d", dep), *link_params]), quote=True)
    about = " · ".join(part for part in (r["service"], f"model {r['model_version']}" if r["model_version"] else "",
                                         r["role"]) if part)
    health = str(r["health"])
    error_budget = 1 - slo.availability
    p99 = _flag(charts.format_ms(r["p99_ms"]), _level(r["p99_ms"], bad=r["slo_p99_ms"]))
    errors = _flag(charts.format_pct(r["error_rate"]), _level(r["error_rate"], warn=error_budget,
                                                                 bad=BAD_AT_ERROR_BUDGETS * error_budget))
    cold = _flag(charts.format_pct(r["cold_start_rate"]), _level(r["cold_start_rate"], warn=slo.cold_start_rate))
    drift = str(r["drift_status"])
    alerts = int(r["firing_alerts"])
    p99_trend = charts.sparkline_html(trends.get((dep, "latency_p99_ms"), []), span, label=f"p99, {range_label}",
                                      colour=charts.COLOURS["latency_p99_ms"], format_value=charts.format_ms)
    calls_trend = charts.sparkline_html(trends.get((dep, "invocations_count"), []), span,
                                        label=f"invocations per step, {range_label}", colour=charts.COLOURS["current"],
                                        format_value=lambda v: f"{v:,.0f}")
    cells = (
        _td(f'<span class="iw-pill iw-{_state(health)}">{esc(HEALTH_TEXT.get(health, health))}</span>'
            f'<span class="why">{esc(str(r["reasons"]))}</span>'),
        _td(f'<a href="{href}">{esc(dep)}</a><span class="sub">{esc(about)}</span>'),
        _td(_pair(f'{p99}<span class="sub">SLO {r["slo_p99_ms"]:,.0f} ms</span>', p99_trend)),
        _td(errors, "num"),
        _td(cold, "num"),
        _td(_pair(f"{int(r['invocations']):,}", calls_trend)),
        _td(charts.format_usd(r["cost_per_1k_usd"], 5), "num"),
        _td(_flag(esc(drift.replace("_", " ")), DRIFT_STATE.get(drift, ""))),
        _td(_flag(str(alerts), "bad" if alerts else ""), "num"),
    )
    return f'<tr data-deployment="{esc(dep, quote=True)}">{"".join(cells)}</tr>'


def _pair(number: str, sparkline: str) -> str:
    """A number with its trend beside it."""
    return f'<div class="pair"><span class="num">{number}</span>{sparkline}</div>'


def _td(content: str, css_class: str = "") -> str:
    return f'<td class="{css_class}">{content}</td>' if css_class else f"<td>{content}</td>"


def _level(value: float | None, *, warn: float | None = None, bad: float | None = None) -> str:
    """The state a number puts its cell in, by the same limits readmodels.overview judges health with."""
    if value is None or pd.isna(value):
        return ""
    if bad is not None and value > bad:
        return "bad"
    return "warn" if warn is not None and value > warn else ""


def _state(health: str) -> str:
    return {"bad": "bad", "warn": "warn", "ok": "ok"}.get(health, "neutral")


def _flag(text: str, state: str) -> str:
    """``text`` (already escaped) in its state's colour, or plain when ``state`` is empty."""
    return f'<span class="iw-flag iw-{state}">{text}</span>' if state else text
