"""Fixtures for the dashboard tests: a store filled by a real run of the local demo, the dashboard
served by `inferwatch dashboard` on 127.0.0.1, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.homes import use_home

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
DEMO_SECONDS = 40


def inferwatch_bin() -> str:
    return str(Path(sys.executable).parent / "inferwatch")


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("INFERWATCH_STORE_URL", "INFERWATCH_CONFIG")}
    env["INFERWATCH_HOME"] = str(home)
    return env


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home filled by `inferwatch demo`: real processes, real traffic, real collection."""
    home = tmp_path_factory.mktemp("demo-home")
    proc = subprocess.run(
        [inferwatch_bin(), "demo", "--duration", str(DEMO_SECONDS), "--no-dashboard", "--rate", "12",
         "--drift-after", "15"],
        check=False, env=clean_env(home), cwd=home, capture_output=True, text=True, timeout=DEMO_SECONDS + 120)
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout}\n{proc.stderr}"
    return home


@pytest.fixture()
def demo_store_home(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's home, for AppTest runs in this process."""
    return use_home(demo_home, monkeypatch)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"dashboard at {url} did not become healthy")


def serve(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([inferwatch_bin(), "dashboard", "--port", str(port)], env=clean_env(home), cwd=home,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url)
    return proc, url


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def dashboard_url(demo_home: Path) -> Iterator[str]:
    proc, url = serve(demo_home)
    yield url
    stop(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium; its absence fails the run (CI installs it), never skips."""
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); `make test` does it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
