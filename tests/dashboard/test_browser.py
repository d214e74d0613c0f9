"""The dashboard in real Chromium (Debian's /usr/bin/chromium through Playwright) on demo data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

PAGES = ["Overview", "Deployment", "Versions", "Drift", "Model health", "Costs and advice", "Alerts", "Sources"]
# Plotly charts; the Overview's trends are sparklines in its table
WITH_CHARTS = {"Deployment", "Versions", "Drift", "Model health"}
CHART = {"Overview": "table.iw-status .iw-spark"}
TIMEOUT_MS = 60_000


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name="Overview").first.wait_for(timeout=TIMEOUT_MS)
    return page


def settle(page: Any) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_timeout(500)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=TIMEOUT_MS)


@pytest.mark.parametrize("title", PAGES)
def test_every_page_renders_without_an_exception(browser: Any, dashboard_url: str, artifacts: Path,
                                                 title: str) -> None:
    page = open_page(browser, dashboard_url)
    try:
        page.get_by_role("link", name=title).first.click()
        page.get_by_role("heading", name=title).first.wait_for(timeout=TIMEOUT_MS)
        settle(page)
        if title in WITH_CHARTS or title in CHART:
            chart = CHART.get(title, ".js-plotly-plot .main-svg")
            page.locator(chart).first.wait_for(state="visible", timeout=TIMEOUT_MS)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(artifacts / f"page-{title.lower().replace(' ', '-')}.png"), full_page=True)
    finally:
        page.close()


def test_time_range_picker_is_kept_in_the_url(browser: Any, dashboard_url: str) -> None:
    page = open_page(browser, dashboard_url)
    try:
        page.get_by_text("6h", exact=True).first.click()
        page.wait_for_url("**range=6h**", timeout=TIMEOUT_MS)
        settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        page.close()


def test_a_shared_url_reopens_the_same_view(browser: Any, dashboard_url: str, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{dashboard_url}/deployment?range=24h&deployment=local:local:scorer-v2&d=local:local:scorer-v2")
        page.get_by_role("heading", name="Deployment").first.wait_for(timeout=TIMEOUT_MS)
        settle(page)
        checked = page.locator('[data-testid="stRadio"] input[type="radio"]:checked')
        assert checked.first.evaluate("e => e.closest('label').innerText").strip() == "24h"
        assert page.get_by_text("scorer-v2").count() > 0
        assert "range=24h" in page.url and "scorer-v2" in page.url
        page.screenshot(path=str(artifacts / "shared-url.png"), full_page=True)
    finally:
        page.close()


def test_a_deployment_name_on_the_overview_opens_its_page(browser: Any, dashboard_url: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{dashboard_url}/?range=6h", wait_until="domcontentloaded")
        link = page.locator("table.iw-status a", has_text="local:local:scorer-v2")
        link.wait_for(timeout=TIMEOUT_MS)
        link.click()
        page.get_by_role("heading", name="Deployment").first.wait_for(timeout=TIMEOUT_MS)
        settle(page)
        picked = page.locator('[data-testid="stSelectbox"] input').first.input_value()
        assert picked == "local:local:scorer-v2"
        checked = page.locator('[data-testid="stRadio"] input[type="radio"]:checked')
        assert checked.first.evaluate("e => e.closest('label').innerText").strip() == "6h"
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        page.close()
