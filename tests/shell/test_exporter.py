"""The exporter over a real HTTP server: promtool accepts the page; the command serves it with a bearer
token end to end (401 without, 200 with), refuses other addresses without one, serves HTTPS; and a store
that is missing, locked, not a database, from an earlier version or being migrated still gets a 200
with what could be read and ``inferwatch_exporter_store_up``, never a 500."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from inferwatch.config import Settings
from inferwatch.schema import floor_time
from inferwatch.store import Store
from readmodels.overview import record_window_numbers
from shell.alert_job import run_once
from shell.exporter import TOKEN_ENV, Exporter, ExporterOptions, ExporterSecurityError, check_bind, make_server
from tests.alerts.builders import Clock
from tests.alerts.receivers import free_port, self_signed_cert
from tests.shell.exposition_store import DEPLOYMENTS, FAILING, FilledStore, fill
from tests.shell.monitoring import promtool

LOCK_WAIT_S = 1.0


def inferwatch_bin() -> str:
    return str(Path(sys.executable).parent / "inferwatch")


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a user with nothing set but the home folder."""
    drop = ("INFERWATCH_STORE_URL", "INFERWATCH_CONFIG", TOKEN_ENV)
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "INFERWATCH_HOME": str(home)}


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> FilledStore:
    return fill(tmp_path_factory.mktemp("exporter"), floor_time(datetime.now(UTC), 60))


def serve(exporter: Exporter, options: ExporterOptions | None = None) -> tuple[str, object]:
    server = make_server(exporter, options or ExporterOptions(port=0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scheme = "https" if (options and options.tls_cert) else "http"
    return f"{scheme}://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture()
def served() -> Iterator[list[object]]:
    servers: list[object] = []
    yield servers
    for server in servers:
        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]


def get(url: str, headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            body = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return response.status, body.decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(page: str, name: str) -> list[str]:
    return [line for line in page.splitlines() if line.startswith(name + "{") or line.startswith(name + " ")]


def value(page: str, name: str) -> float:
    (line,) = samples(page, name)
    return float(line.rsplit(" ", 1)[1])


def test_the_page_passes_promtool_and_holds_every_deployment(filled: FilledStore, served: list[object]) -> None:
    url, server = serve(Exporter(filled.url, filled.runtime.settings))
    served.append(server)
    status, page = get(f"{url}/metrics", {"Accept-Encoding": "gzip"})
    assert status == 200
    checked = promtool("check", "metrics", stdin=page.encode())
    assert checked.returncode == 0 and not checked.stdout and not checked.stderr, checked
    info = samples(page, "inferwatch_deployment_info")
    assert len(info) == len(DEPLOYMENTS)
    assert ('inferwatch_deployment_health{deployment="local:local:scorer-v2",service="scorer",provider="local",'
            'region="local",model_version="v2",role="canary",health="bad"} 1\n') in page
    assert value(page, "inferwatch_exporter_store_up") == 1.0
    # the drift bound: five flagged signals, three shown, the most flagged first
    effects = [s for s in samples(page, "inferwatch_drift_signal_effect") if FAILING.id in s]
    assert [s.split('signal="')[1].split('"')[0] for s in effects] == ["feature:f0", "feature:f1", "feature:f2"]
    assert f'inferwatch_drift_flagged_signals{{deployment="{FAILING.id}"' in page
    assert len(samples(page, "inferwatch_quality_estimate")) == 0 and "# TYPE inferwatch_quality_estimate gauge" in page
    for d in DEPLOYMENTS:  # the documented bound: 24, one per advice kind, two per shown drift signal
        series = [line for line in page.splitlines() if f'deployment="{d.id}"' in line and not line.startswith("#")]
        advice = samples(page, "inferwatch_advice_savings_usd_per_month")
        kinds = sum(f'deployment="{d.id}"' in line for line in advice)
        assert len(series) <= 24 + kinds + 2 * 3, (d.id, len(series))


def test_the_command_needs_the_token_end_to_end(filled: FilledStore, tmp_path: Path) -> None:
    port = free_port()
    env = {**clean_env(tmp_path), "INFERWATCH_STORE_URL": filled.url, TOKEN_ENV: "s3cret-t0ken"}
    process = subprocess.Popen([inferwatch_bin(), "exporter", "--port", str(port)], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for_port(port, process)
        url = f"http://127.0.0.1:{port}/metrics"
        assert get(url)[0] == 401
        assert get(url, {"Authorization": "Bearer wrong"})[0] == 401
        assert get(url, {"Authorization": "Basic czNjcmV0LXQwa2Vu"})[0] == 401
        status, page = get(url, {"Authorization": "Bearer s3cret-t0ken"})
        assert status == 200 and value(page, "inferwatch_exporter_deployments") == len(DEPLOYMENTS)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert b"(bearer token required)" in out and b"s3cret" not in out + err


def test_another_address_without_a_token_is_refused(tmp_path: Path) -> None:
    result = subprocess.run([inferwatch_bin(), "exporter", "--address", "0.0.0.0"], env=clean_env(tmp_path),
                            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("inferwatch: refusing to serve metrics on 0.0.0.0: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    for address in ("0.0.0.0", "::", "10.1.2.3", "example.com"):
        with pytest.raises(ExporterSecurityError):
            check_bind(address, None)
        check_bind(address, "a-token")
    check_bind("127.0.0.1", None)
    check_bind("::1", None)


def test_https_with_a_certificate(filled: FilledStore, served: list[object], tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    url, server = serve(Exporter(filled.url, filled.runtime.settings),
                        ExporterOptions(port=0, tls_cert=cert, tls_key=key, token="t"))
    served.append(server)
    status, page = get(f"{url}/metrics", {"Authorization": "Bearer t"}, ssl.create_default_context(cafile=cert))
    assert status == 200 and value(page, "inferwatch_exporter_store_up") == 1.0


def test_a_missing_store_is_reported_not_created(tmp_path: Path, served: list[object]) -> None:
    db = tmp_path / "nowhere" / "inferwatch.db"
    url, server = serve(Exporter(f"sqlite:///{db}", Settings(), lock_wait_s=LOCK_WAIT_S))
    served.append(server)
    status, page = get(f"{url}/metrics")
    assert status == 200 and value(page, "inferwatch_exporter_store_up") == 0.0
    assert value(page, "inferwatch_exporter_deployments") == 0.0
    assert not db.parent.exists()
    assert promtool("check", "metrics", stdin=page.encode()).returncode == 0


def test_a_file_that_is_not_a_store(tmp_path: Path, served: list[object]) -> None:
    db = tmp_path / "inferwatch.db"
    db.write_bytes(b"this is not a SQLite database" * 100)
    url, server = serve(Exporter(f"sqlite:///{db}", Settings(), lock_wait_s=LOCK_WAIT_S))
    served.append(server)
    status, page = get(f"{url}/metrics")
    assert status == 200 and value(page, "inferwatch_exporter_store_up") == 0.0


HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode=EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("DELETE FROM kept_windows")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def test_a_locked_store_answers_within_the_lock_wait(filled: FilledStore, served: list[object]) -> None:
    url, server = serve(Exporter(filled.url, filled.runtime.settings, lock_wait_s=LOCK_WAIT_S))
    served.append(server)
    db = filled.url.removeprefix("sqlite:///")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, db], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        started = time.monotonic()
        status, page = get(f"{url}/metrics")
        elapsed = time.monotonic() - started
    finally:
        holder.communicate(b"\n", timeout=30)
    assert status == 200 and value(page, "inferwatch_exporter_store_up") == 0.0
    assert elapsed < LOCK_WAIT_S + 3.0  # one wait, not one per part
    status, page = get(f"{url}/metrics")  # the lock is gone: everything again
    assert status == 200 and value(page, "inferwatch_exporter_store_up") == 1.0
    assert value(page, "inferwatch_exporter_deployments") == len(DEPLOYMENTS)


def test_a_store_from_an_earlier_version_serves_what_it_has(tmp_path: Path, served: list[object]) -> None:
    filled = fill(tmp_path, floor_time(datetime.now(UTC), 60))
    engine = create_engine(filled.url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE kept_figures"))  # made before the exporter existed
    engine.dispose()
    url, server = serve(Exporter(filled.url, filled.runtime.settings, lock_wait_s=LOCK_WAIT_S))
    served.append(server)
    status, page = get(f"{url}/metrics")
    assert status == 200 and value(page, "inferwatch_exporter_store_up") == 1.0
    assert 'inferwatch_exporter_part_up{part="figures"} 0' in page
    assert 'inferwatch_exporter_part_up{part="window"} 1' in page
    assert len(samples(page, "inferwatch_deployment_info")) == len(DEPLOYMENTS)
    assert samples(page, "inferwatch_errors_per_second") == []  # kept by newer rounds only
    assert promtool("check", "metrics", stdin=page.encode()).returncode == 0


def test_a_store_being_migrated(store_url: str, tmp_path: Path, served: list[object]) -> None:
    """A migration renames a table inside its transaction (as opening an older store does for the
    rollups). SQLite readers keep reading the last committed state; PostgreSQL readers would wait for the
    migration's lock: the exporter gives up after its lock wait and answers with store_up 0."""
    filled = fill(tmp_path, floor_time(datetime.now(UTC), 60), url=store_url)
    url, server = serve(Exporter(filled.url, filled.runtime.settings, lock_wait_s=LOCK_WAIT_S))
    served.append(server)
    with migrating(filled.url):
        started = time.monotonic()
        status, page = get(f"{url}/metrics")
        elapsed = time.monotonic() - started
    assert status == 200 and elapsed < LOCK_WAIT_S * 2 + 3.0
    assert value(page, "inferwatch_exporter_store_up") == (1.0 if store_url.startswith("sqlite") else 0.0)
    assert promtool("check", "metrics", stdin=page.encode()).returncode == 0


@contextmanager
def migrating(url: str) -> Iterator[None]:
    """A migration's open transaction that has renamed a table (rolled back at the end)."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # pysqlite would otherwise run the DDL outside any transaction
        conn.execute("ALTER TABLE kept_windows RENAME TO kept_windows_upgrading")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as pg, pg.begin() as transaction:
            pg.execute(text("ALTER TABLE kept_windows RENAME TO kept_windows_upgrading"))
            try:
                yield
            finally:
                transaction.rollback()
    finally:
        engine.dispose()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read() if process.stderr else b""
            raise AssertionError(f"exporter exited {process.returncode}: {err!r}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")



def test_a_page_is_built_again_only_when_the_kept_numbers_change(tmp_path: Path) -> None:
    filled = fill(tmp_path, floor_time(datetime.now(UTC), 60))
    clock = Clock(filled.now + timedelta(seconds=30))
    exporter = Exporter(filled.url, filled.runtime.settings, clock=clock)

    def scrape() -> str:
        return exporter.page().decode()

    first, second = scrape(), scrape()
    assert value(second, "inferwatch_exporter_pages_built_total") == 1  # the second came from memory
    assert first.split("# HELP inferwatch_exporter_scrapes")[0] == second.split("# HELP inferwatch_exporter_scrapes")[0]

    store = Store.open(filled.url)
    later = filled.now + timedelta(minutes=1)
    record_window_numbers(store, filled.runtime.settings, later)  # a collection round
    page = scrape()
    assert value(page, "inferwatch_exporter_pages_built_total") == 2
    assert f'inferwatch_numbers_timestamp_seconds{{numbers="overview"}} {later.timestamp()}' in page

    run_once(filled.runtime, clock=Clock(later))  # an alert run
    assert value(scrape(), "inferwatch_exporter_pages_built_total") == 3
    assert value(scrape(), "inferwatch_exporter_pages_built_total") == 3

    clock.now = filled.now + timedelta(minutes=46)  # the kept drift decisions (3 x 15 minutes) expire
    page = scrape()
    assert value(page, "inferwatch_exporter_pages_built_total") == 4
    assert f'deployment="{FAILING.id}"' in page and 'status="drift"' not in page
