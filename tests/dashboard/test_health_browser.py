"""The Model health page in real Chromium on the demo's data: the reference model's estimated accuracy
with its band against its baseline's level, from the demo's own traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.test_browser import TIMEOUT_MS, settle

pytestmark = pytest.mark.browser


def test_model_health_shows_the_demos_estimated_quality(browser: Any, dashboard_url: str, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{dashboard_url}/health?range=1h", wait_until="domcontentloaded")
        page.get_by_role("heading", name="Model health").first.wait_for(timeout=TIMEOUT_MS)
        settle(page)
        chart = page.locator(".js-plotly-plot").first
        chart.wait_for(state="visible", timeout=TIMEOUT_MS)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert chart.get_by_text("estimated accuracy (no labels)").count() > 0
        assert chart.get_by_text("95% band of the estimate").count() > 0
        assert chart.get_by_text("baseline 0.971").count() > 0
        metrics = page.locator('[data-testid="stMetric"]')
        texts = [metrics.nth(i).inner_text() for i in range(metrics.count())]
        shown = {text.split("\n")[0]: text for text in texts}
        assert "0.971" in shown["baseline accuracy"] and "vs baseline" in shown["estimated accuracy"]
        assert page.get_by_text("calibrated on 171 labelled reference rows").count() > 0
        page.screenshot(path=str(artifacts / "page-model-health.png"), full_page=True)
    finally:
        page.close()
