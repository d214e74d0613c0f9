"""The dashboard served on a non-loopback address, with its [auth] table in a secrets file outside the
working folder: a visitor in Chromium gets the sign-in page and nothing else, and signing in goes to
the identity provider that file names (so Streamlit reads the very file the bind check approved)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import clean_env, free_port, inferwatch_bin, stop, wait_healthy
from tests.dashboard.oidc_standin import oidc_standin
from tests.dashboard.test_overview import fill

pytestmark = pytest.mark.browser

SIGN_IN = "Sign in to see the dashboard"


def _secrets(path: Path, *, port: int, metadata_url: str) -> Path:
    path.parent.mkdir(parents=True)
    path.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "a-cookie-secret-only-this-test-knows"
client_id = "inferwatch-outside"
client_secret = "s3cr3t-value"
server_metadata_url = "{metadata_url}"
""", encoding="utf-8")
    return path


def _serve_public(work: Path, secrets: Path, port: int, user_home: Path) -> subprocess.Popen[bytes]:
    env = {**clean_env(work), "HOME": str(user_home)}  # no ~/.streamlit/secrets.toml to fall back on
    return subprocess.Popen([inferwatch_bin(), "dashboard", "--address", "0.0.0.0", "--port", str(port),
                             "--secrets", str(secrets)], env=env, cwd=work, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _only_the_sign_in_page(page: Any) -> None:
    page.get_by_text(SIGN_IN).or_(page.get_by_role("heading", name="Overview")).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # let a (wrongly) following page render, if there were one
    body = page.inner_text("body")
    assert SIGN_IN in body, f"no sign-in page; a visitor sees: {body[:300]!r}"
    for shown in ("scorer-v1", "Overview", "Deployment", "Costs and advice", "Alerts", "Sources"):
        assert shown not in body, f"{shown!r} is visible before sign-in"
    assert page.locator("[data-testid=stSidebarNav]").count() == 0
    assert page.locator(".js-plotly-plot").count() == 0 and page.locator("table").count() == 0


def test_a_public_bind_with_secrets_outside_the_working_folder_shows_only_sign_in(tmp_path: Path,
                                                                                   browser: Any) -> None:
    work, port = tmp_path / "work", free_port()
    work.mkdir()
    fill(work)  # a store with a deployment the visitor must not see
    with oidc_standin() as idp:
        secrets = _secrets(tmp_path / "elsewhere" / "secrets.toml", port=port, metadata_url=idp.metadata_url)
        proc = _serve_public(work, secrets, port, tmp_path / "user-home")
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path in ("/", "/deployment", "/costs"):
                page.goto(url + path)
                _only_the_sign_in_page(page)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{idp.base_url}/authorize*", timeout=30_000)
            page.close()
        finally:
            stop(proc)
    assert idp.authorize_requests[0]["client_id"] == ["inferwatch-outside"]
    assert idp.authorize_requests[0]["redirect_uri"] == [f"http://127.0.0.1:{port}/oauth2callback"]
