"""Every page under AppTest: on an empty store (an empty state that says what to do) and on a filled one."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.test_overview import APP, fill

PAGES = Path(APP).parent / "dashboard" / "pages"


def page_files() -> list[str]:
    return sorted(p.name for p in PAGES.glob("*.py"))


@pytest.mark.parametrize("page", page_files())
def test_page_renders_on_an_empty_store(home: Path, page: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(str(PAGES / page)).run()
    assert not at.exception, at.exception
    assert at.title, f"{page} has no title"


@pytest.mark.parametrize("page", page_files())
def test_page_renders_on_a_filled_store(home: Path, page: str) -> None:
    fill(home)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(str(PAGES / page)).run()
    assert not at.exception, at.exception
