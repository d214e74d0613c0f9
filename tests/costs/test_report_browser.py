"""The HTML report opens in Debian's Chromium without console errors, charts drawn, names inert."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from costs.catalogue import load_catalogue
from costs.report import IsoWeek, render_html
from inferwatch.schema import Deployment
from inferwatch.store import Store
from readmodels.costs import load_weekly_report
from tests.costs.builders import T0, steady
from tests.costs.report_store import write

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.browser
def test_html_report_opens_in_chromium_without_errors(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'b.db'}")
    names = ["scorer", "<script>alert(1)</script>", '=HYPERLINK("http://evil.example","x")',
             "<img src=x onerror=alert(2)>"]
    deps = [Deployment(id=f"local:local:{n}", provider="local", region="local", name=n, service=n, memory_mb=512)
            for n in names]
    write(store, deps, [p for d in deps for p in steady(d.id, {"invocations_count": 100, "rows_count": 300,
                                                                "duration_sum_ms": 4000.0}, hours=72, start=T0)])
    html_path = tmp_path / "report.html"
    html_path.write_text(render_html(load_weekly_report(store, IsoWeek.parse("2026-W47"), load_catalogue(),
                                                        step_s=3600)), encoding="utf-8")
    store.dispose()
    errors: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(html_path.as_uri())
            page.wait_for_selector("#chart-daily .main-svg", timeout=20_000)
            assert page.locator(".js-plotly-plot").count() == 2
            legend = page.locator("#chart-daily .legendtext").all_text_contents()
            table = page.locator("#deployments").inner_text()
            assert page.locator("img").count() == 0
        finally:
            browser.close()
    assert not errors, errors
    assert not dialogs, dialogs
    assert "local:local:<script>alert(1)</script>" in legend  # shown as text, not run
    assert "<script>alert(1)</script>" in table


@pytest.mark.browser
def test_a_week_with_one_day_of_data_has_day_ticks_not_milliseconds(tmp_path: Path) -> None:
    """A demo's first day: one bar, one point. Chromium draws the whole week, a tick per day."""
    store = Store.open(f"sqlite:///{tmp_path / 'one.db'}")
    d = Deployment(id="local:local:scorer", provider="local", region="local", name="scorer", service="scorer",
                   memory_mb=512)
    write(store, [d], steady(d.id, {"invocations_count": 100, "rows_count": 300, "duration_sum_ms": 4000.0},
                             hours=2, start=T0 + timedelta(days=2)))
    html_path = tmp_path / "report.html"
    html_path.write_text(render_html(load_weekly_report(store, IsoWeek.parse("2026-W47"), load_catalogue(),
                                                        step_s=3600)), encoding="utf-8")
    store.dispose()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            page = browser.new_page()
            page.goto(html_path.as_uri())
            page.wait_for_selector("#chart-per-1k .xtick text", timeout=20_000)
            ticks = {chart: page.locator(f"#{chart} .xtick text").all_text_contents()
                     for chart in ("chart-daily", "chart-per-1k")}
        finally:
            browser.close()
    for chart, labels in ticks.items():
        assert labels == ["Mon 16 Nov", "Tue 17 Nov", "Wed 18 Nov", "Thu 19 Nov", "Fri 20 Nov", "Sat 21 Nov",
                          "Sun 22 Nov"], (chart, labels)
