"""The weekly report as Markdown (for a pull request, a wiki or an e-mail body).

Every name is escaped twice over: HTML-significant characters become entities (Markdown renderers
pass raw HTML through) and Markdown syntax is backslash-escaped, so a deployment named ``<script>``
or ``[x](javascript:...)`` renders as text.
"""

from __future__ import annotations

from costs.report_model import ReportRow, WeeklyReport

_MD_SPECIAL = "\\`*_[]|#!"


def escape_markdown(value: str) -> str:
    out = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = "".join("\\" + c if c in _MD_SPECIAL else c for c in out)
    return " ".join(out.splitlines())


def usd(value: float | None, *, signed: bool = False, fine: bool = False) -> str:
    """Dollars: cents from $0.01 up (four decimals when ``fine``, for unit costs), six below."""
    if value is None:
        return "-"
    if abs(value) < 5e-7:
        value = 0.0  # float noise must not print as "-$0.000000"
    sign = ("+" if value >= 0 else "-") if signed else ("-" if value < 0 else "")
    if value == 0 or abs(value) >= (1.0 if fine else 0.01):
        return f"{sign}${abs(value):,.2f}"
    return f"{sign}${abs(value):,.4f}" if abs(value) >= 0.01 else f"{sign}${abs(value):,.6f}"


def change(delta: float | None, delta_pct: float | None) -> str:
    if delta is None:
        return "-"
    return f"{usd(delta, signed=True)} {pct(delta_pct)}" if delta_pct is not None else usd(delta, signed=True)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _row(r: ReportRow) -> str:
    billed = "-" if r.billed_usd is None else f"{usd(r.billed_usd)} ({usd(r.gap_usd, signed=True)})"
    advice = f"{escape_markdown(r.top_advice)} ({usd(r.top_saving_usd)}/month)" if r.top_advice else "-"
    cells = [escape_markdown(r.deployment), escape_markdown(r.provider), escape_markdown(r.model_version or "-"),
             usd(r.cost_usd), usd(r.prev_cost_usd), change(r.delta_usd, r.delta_pct),
             f"{r.predictions:,.0f}", usd(r.cost_per_1k_usd, fine=True), usd(r.cost.idle_usd), billed, r.status, advice]
    return "| " + " | ".join(cells) + " |"


def render_markdown(report: WeeklyReport) -> str:
    """The report as GitHub-flavoured Markdown."""
    week = report.week
    lines = [f"# Inferwatch cost report {week.label}", "",
             (f"Week {week.start:%Y-%m-%d} to {week.end:%Y-%m-%d} (UTC, end exclusive). Costs are estimated "
              "from collected metrics and list prices; billed costs are shown where collected."), ""]
    if report.is_empty:
        lines += [f"No deployment had metrics in {week.label} or the week before.", ""]
    else:
        prev = report.prev_total_usd
        change_pct = 100.0 * (report.total_usd - prev) / prev if prev > 0 else None
        per_1k = 1000.0 * report.total_usd / report.total_predictions if report.total_predictions > 0 else None
        lines += [("| Total cost | Change vs previous week | Predictions | Cost per 1,000 predictions | "
                   "Idle warm capacity |"), "|---:|---:|---:|---:|---:|",
                  (f"| {usd(report.total_usd)} | {change(report.total_usd - prev, change_pct)} | "
                   f"{report.total_predictions:,.0f} | {usd(per_1k, fine=True)} | {usd(report.total_idle_usd)} |"), "",
                  "## Deployments", "",
                  ("| Deployment | Provider | Version | Cost | Previous week | Change | Predictions | Per 1,000 "
                   "| Idle | Billed (gap) | Status | Top advice (saves) |"),
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
        lines += [_row(r) for r in report.rows]
        lines.append("")
    if report.advice:
        lines += ["## Advice", "", "| Deployment | Advice | Saves per month | Latency | Cold starts | Confidence |",
                  "|---|---|---:|---|---|---|"]
        lines += [(f"| {escape_markdown(a.deployment)} | {escape_markdown(a.summary)} | "
                   f"{usd(a.monthly_saving_usd, signed=True)} | {escape_markdown(a.latency_effect)} | "
                   f"{escape_markdown(a.cold_start_effect)} | {a.confidence} |") for a in report.advice]
        lines.append("")
    if report.unpriced:
        lines += ["## Not priced", ""]
        lines += [f"- {escape_markdown(dep)}: {escape_markdown(reason)}" for dep, reason in report.unpriced]
        lines.append("")
    lines += ["## Prices", ""]
    lines += [f"- {service}: {url} (checked {checked})" for service, url, checked in report.sources]
    return "\n".join(lines) + "\n"
