"""The weekly report as one self-contained HTML file: KPIs, the movers table, a stacked daily cost bar
per deployment, the cost-per-1,000-predictions trend, the advice and the price sources.

plotly.js is embedded once (first chart) so the file works offline and by e-mail. Jinja2 autoescapes
every value; names that go into chart data are HTML-escaped first, because plotly renders a small
HTML subset in legends and hover labels.
"""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import timedelta

import plotly.graph_objects as go
from jinja2 import Environment, select_autoescape

from costs.report_markdown import change, usd
from costs.report_model import WeeklyReport

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Inferwatch cost report {{ r.week.label }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2933; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #d9e2ec; padding: 0.35rem 0.6rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.kpis { display: flex; gap: 2rem; flex-wrap: wrap; }
.kpi { background: #f0f4f8; padding: 0.8rem 1.2rem; border-radius: 6px; }
.kpi b { display: block; font-size: 1.4rem; }
.muted { color: #627d98; font-size: 0.85rem; }
</style>
</head>
<body>
<h1>Inferwatch cost report {{ r.week.label }}</h1>
<p class="muted">Week {{ r.week.start.strftime("%Y-%m-%d") }} to {{ r.week.end.strftime("%Y-%m-%d") }}
(UTC, end exclusive). Costs are estimated from collected metrics and list prices; billed costs are shown
where collected.</p>
{% if r.is_empty %}
<p id="empty">No deployment had metrics in {{ r.week.label }} or the week before.</p>
{% else %}
<div class="kpis">
<div class="kpi">Total cost<b>{{ k.total }}</b></div>
<div class="kpi">Change vs previous week<b>{{ k.change }}</b></div>
<div class="kpi">Predictions<b>{{ k.predictions }}</b></div>
<div class="kpi">Cost per 1,000 predictions<b>{{ k.per_1k }}</b></div>
<div class="kpi">Idle warm capacity<b>{{ k.idle }}</b></div>
</div>
<h2>Daily cost</h2>
{{ charts.daily | safe }}
<h2>Cost per 1,000 predictions</h2>
{{ charts.per_1k | safe }}
<h2>Deployments</h2>
<table id="deployments">
<tr><th>Deployment</th><th>Provider</th><th>Version</th><th>Cost</th><th>Previous week</th><th>Change</th>
<th>Predictions</th><th>Per 1,000</th><th>Idle</th><th>Billed (gap)</th><th>Status</th><th>Top advice</th></tr>
{% for row in rows %}
<tr><td>{{ row.deployment }}</td><td>{{ row.provider }}</td><td>{{ row.version }}</td>
<td class="num">{{ row.cost }}</td><td class="num">{{ row.prev }}</td><td class="num">{{ row.change }}</td>
<td class="num">{{ row.predictions }}</td><td class="num">{{ row.per_1k }}</td><td class="num">{{ row.idle }}</td>
<td class="num">{{ row.billed }}</td><td>{{ row.status }}</td><td>{{ row.advice }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% if r.advice %}
<h2>Advice</h2>
<table id="advice">
<tr><th>Deployment</th><th>Advice</th><th>Saves per month</th><th>Latency</th><th>Cold starts</th>
<th>Confidence</th><th>Evidence</th></tr>
{% for a in r.advice %}
<tr><td>{{ a.deployment }}</td><td>{{ a.summary }}</td><td class="num">{{ usd(a.monthly_saving_usd) }}</td>
<td>{{ a.latency_effect }}</td><td>{{ a.cold_start_effect }}</td><td>{{ a.confidence }}</td>
<td>{% for e in a.evidence %}{{ e.render() }}{% if not loop.last %}; {% endif %}{% endfor %}</td></tr>
{% endfor %}
</table>
{% endif %}
{% if r.unpriced %}
<h2>Not priced</h2>
<ul>{% for dep, reason in r.unpriced %}<li>{{ dep }}: {{ reason }}</li>{% endfor %}</ul>
{% endif %}
<h2>Prices</h2>
<ul>{% for service, url,
     checked in r.sources %}<li>{{ service }}: {{ url }} (checked {{ checked }})</li>{% endfor %}</ul>
</body>
</html>
"""

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_COMPILED = _ENV.from_string(_TEMPLATE)


def _series(report: WeeklyReport) -> tuple[dict[str, str], dict[str, list[tuple[str, float]]],
                                            dict[str, list[tuple[str, float]]]]:
    names = {r.deployment: html.escape(r.deployment) for r in report.rows}
    cost: dict[str, list[tuple[str, float]]] = defaultdict(list)
    per_1k: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for w in report.daily:
        day = w.start.strftime("%Y-%m-%d")
        cost[w.key].append((day, round(w.cost.total_usd, 6)))
        if w.rows > 0:
            per_1k[w.key].append((day, round(1000.0 * w.cost.total_usd / w.rows, 6)))
    return names, cost, per_1k


DAY_MS = 86_400_000


def _week_axis(fig: go.Figure, report: WeeklyReport) -> go.Figure:
    """One tick per day and the whole week shown, however many days have data: with a single day
    plotly would zoom a date axis into milliseconds (ticks such as 23:59:59.999)."""
    half_day = timedelta(hours=12)
    fig.update_xaxes(type="date", range=[report.week.start - half_day, report.week.end - half_day],
                     dtick=DAY_MS, tickformat="%a %d %b")
    return fig


def daily_cost_figure(report: WeeklyReport) -> go.Figure:
    """Stacked daily cost per deployment (names HTML-escaped: plotly renders a subset of HTML)."""
    names, cost, _ = _series(report)
    fig = go.Figure([go.Bar(name=names.get(k, html.escape(k)), x=[d for d, _ in v], y=[c for _, c in v],
                            width=0.8 * DAY_MS) for k, v in sorted(cost.items())])
    fig.update_layout(barmode="stack", yaxis_title="USD per day", height=380, margin={"t": 20})
    return _week_axis(fig, report)


def cost_per_1k_figure(report: WeeklyReport) -> go.Figure:
    """Daily cost per 1,000 predictions per deployment."""
    names, _, per_1k = _series(report)
    fig = go.Figure([go.Scatter(name=names.get(k, html.escape(k)), x=[d for d, _ in v], y=[c for _, c in v],
                                mode="lines+markers") for k, v in sorted(per_1k.items())])
    fig.update_layout(yaxis_title="USD per 1,000 predictions", height=380, margin={"t": 20})
    return _week_axis(fig, report)


def _charts(report: WeeklyReport) -> dict[str, str]:
    config = {"displaylogo": False, "responsive": True}
    return {
        "daily": daily_cost_figure(report).to_html(full_html=False, include_plotlyjs=True, config=config,
                                                   div_id="chart-daily"),
        "per_1k": cost_per_1k_figure(report).to_html(full_html=False, include_plotlyjs=False, config=config,
                                                     div_id="chart-per-1k"),
    }


def render_html(report: WeeklyReport) -> str:
    """The report as a single self-contained HTML document (plotly.js inlined when there are charts)."""
    prev = report.prev_total_usd
    change_pct = 100.0 * (report.total_usd - prev) / prev if prev > 0 else None
    per_1k = 1000.0 * report.total_usd / report.total_predictions if report.total_predictions > 0 else None
    kpis = {"total": usd(report.total_usd), "change": change(report.total_usd - prev, change_pct),
            "predictions": f"{report.total_predictions:,.0f}", "per_1k": usd(per_1k, fine=True),
            "idle": usd(report.total_idle_usd)}
    rows = [{
        "deployment": r.deployment, "provider": r.provider, "version": r.model_version or "-",
        "cost": usd(r.cost_usd), "prev": usd(r.prev_cost_usd),
        "change": change(r.delta_usd, r.delta_pct), "predictions": f"{r.predictions:,.0f}",
        "per_1k": usd(r.cost_per_1k_usd, fine=True), "idle": usd(r.cost.idle_usd),
        "billed": "-" if r.billed_usd is None else f"{usd(r.billed_usd)} ({usd(r.gap_usd, signed=True)})",
        "status": r.status,
        "advice": f"{r.top_advice} ({usd(r.top_saving_usd)}/month)" if r.top_advice else "-",
    } for r in report.rows]
    charts = {} if report.is_empty else _charts(report)
    return _COMPILED.render(r=report, k=kpis, rows=rows, charts=charts, usd=usd)
