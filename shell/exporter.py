"""The Prometheus exporter: ``GET /metrics`` serves the numbers the store keeps
(:mod:`readmodels.exposition`, rendered by :mod:`shell.exporter_text`), plus the exporter's own
process and scrape metrics from prometheus_client.

Security as for the dashboard: it binds 127.0.0.1 by default, and any other address is refused unless
a bearer token is configured (``INFERWATCH_EXPORTER_TOKEN``); with a token every request must carry
``Authorization: Bearer <token>`` (else 401). ``--tls-cert``/``--tls-key`` serve HTTPS, so the token
does not cross the network in clear.

A scrape never fails because of the store: a store that is missing, locked, being migrated or
unreachable gives a 200 with what could be read, ``inferwatch_exporter_store_up 0`` and
``inferwatch_exporter_part_up{part=...} 0`` for what could not. A missing SQLite store is not created
(the exporter only reads), and no statement waits longer than ``lock_wait_s`` for another process.
"""

from __future__ import annotations

import gzip
import hmac
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from inferwatch.config import Settings
from inferwatch.errors import InferwatchError
from inferwatch.store import Store, StoreError, StoreSchemaError, parse_store_url
from readmodels.exposition import DRIFT_SIGNALS_PER_DEPLOYMENT, Exposition, exposition_version, load_exposition
from readmodels.exposition_kept import WINDOW_S
from shell.dashboard_server import is_loopback
from shell.exporter_text import render_exposition

log = logging.getLogger("inferwatch.exporter")

TOKEN_ENV = "INFERWATCH_EXPORTER_TOKEN"
DEFAULT_PORT = 9477
LOCK_WAIT_S = 2.0  # well under Prometheus's default 10 s scrape timeout
GZIP_LEVEL = 1  # a 4 MB page compresses ~15x at level 1 in a few ms; higher levels cost more than they save


class ExporterSecurityError(InferwatchError):
    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.address = address


def check_bind(address: str, token: str | None) -> None:
    """Loopback is always allowed; any other address only with a token (as the dashboard needs a login)."""
    if not is_loopback(address) and not token:
        raise ExporterSecurityError(
            f"refusing to serve metrics on {address}: they would be readable from other machines without "
            f"authentication. Set {TOKEN_ENV} (scrapers then send 'Authorization: Bearer <token>'; see "
            "docs/integrations.md) or bind 127.0.0.1.", address=address)


@dataclass(frozen=True)
class ExporterOptions:
    address: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = field(default=None, repr=False)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    drift_signals: int = DRIFT_SIGNALS_PER_DEPLOYMENT
    lock_wait_s: float = LOCK_WAIT_S


class Exporter:
    """Builds one page per scrape; thread-safe (the store opens a connection per read)."""

    def __init__(self, store_url: str, settings: Settings, *, drift_signals: int = DRIFT_SIGNALS_PER_DEPLOYMENT,
                 lock_wait_s: float = LOCK_WAIT_S, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._url, self._settings, self._clock = store_url, settings, clock
        self._drift_signals, self._lock_wait_s = drift_signals, lock_wait_s
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._missing: list[str] = []  # the parts unavailable at the last scrape
        # (the store's version, the page's Inferwatch families): reused while the version stays the same
        self._cached: tuple[Any, bytes] | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)
        self._scrapes = Counter("inferwatch_exporter_scrapes", "Scrapes served, by outcome (ok, partial, store_down).",
                                ["outcome"], registry=self.registry)
        self._built = Counter("inferwatch_exporter_pages_built", "Pages built from the store (the others were served "
                              "from memory: the kept numbers had not changed).", registry=self.registry)
        self._duration = Histogram("inferwatch_exporter_scrape_duration_seconds", "Time to build a page.",
                                   buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                   registry=self.registry)

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()

    def _open(self) -> Store | str:
        """The store, or why not: a SQLite store that does not exist is reported, never created."""
        url = parse_store_url(self._url)
        if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
            return f"no store at {url.database}"
        with self._lock:
            if self._store is None:
                self._store = Store.open(self._url, create=False, lock_wait_s=self._lock_wait_s)
            return self._store

    def exposition(self, now: datetime | None = None) -> Exposition:
        """What a scrape at ``now`` serves; the store's problems are in the result, never raised."""
        now = now or self._clock()
        try:
            store = self._open()
            if isinstance(store, str):
                return self._down(store)
            return load_exposition(store, self._settings, now, drift_signals=self._drift_signals)
        except StoreError as exc:
            return self._down(str(exc))
        except Exception as exc:  # noqa: BLE001  e.g. a file that is not a database: served as store down
            log.exception("reading the store failed")
            return self._down(f"{type(exc).__name__}: {exc}")

    def _down(self, reason: str) -> Exposition:
        return Exposition(WINDOW_S, self._drift_signals, unavailable={"store": " ".join(reason.split())[:300]})

    def _version(self, now: datetime) -> tuple[Any, ...] | Exposition | None:
        """The store's version of what a page shows (None: an older store that cannot say; then every
        scrape reads it part by part), or the page of a store that does not answer."""
        try:
            store = self._open()
            return self._down(store) if isinstance(store, str) else exposition_version(store, now)
        except StoreSchemaError:
            return None
        except StoreError as exc:
            return self._down(str(exc))
        except Exception as exc:  # noqa: BLE001  as in exposition()
            log.exception("reading the store failed")
            return self._down(f"{type(exc).__name__}: {exc}")

    def page(self) -> bytes:
        """The page: Inferwatch's families, built again only when the store's kept numbers changed since
        the last page (a collection round, an alert run, a decision expiring), then the exporter's own."""
        started = time.perf_counter()
        now = self._clock()
        version = self._version(now)
        cached = self._cached
        if isinstance(version, tuple) and cached is not None and cached[0] == version:
            body, outcome = cached[1], "ok"
        else:
            exp = version if isinstance(version, Exposition) else self.exposition(now)
            outcome = "store_down" if not exp.store_up else "partial" if exp.unavailable else "ok"
            self._say_unavailable(exp)
            body = render_exposition(exp).encode("utf-8")
            self._built.inc()
            self._cached = (version, body) if outcome == "ok" and isinstance(version, tuple) else None
        self._scrapes.labels(outcome).inc()
        self._duration.observe(time.perf_counter() - started)
        return body + generate_latest(self.registry)

    def _say_unavailable(self, exp: Exposition) -> None:
        missing = sorted(exp.unavailable)
        if missing != self._missing:  # said once when it changes, not on every scrape
            self._missing = missing
            if missing:
                log.warning("serving what could be read; unavailable: %s",
                            "; ".join(f"{k}: {v}" for k, v in sorted(exp.unavailable.items())))
            else:
                log.warning("the store answers again: serving every part")


def _authorized(header: str | None, token: str | None) -> bool:
    if not token:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def make_server(exporter: Exporter, options: ExporterOptions) -> ThreadingHTTPServer:
    """The HTTP server, bound (and wrapped in TLS when configured) but not serving yet."""
    check_bind(options.address, options.token)
    token = options.token

    class Handler(BaseHTTPRequestHandler):
        server_version = "inferwatch-exporter"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if not _authorized(self.headers.get("Authorization"), token):
                self._send(401, b"unauthorized\n", "text/plain; charset=utf-8",
                           {"WWW-Authenticate": 'Bearer realm="inferwatch"'})
                return
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                try:
                    body = exporter.page()
                except Exception:  # noqa: BLE001  a bug: logged with its traceback, never sent to the client
                    log.exception("building the metrics page failed")
                    self._send(500, b"internal error (see the exporter's log)\n", "text/plain; charset=utf-8")
                    return
                if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                    self._send(200, gzip.compress(body, compresslevel=GZIP_LEVEL), CONTENT_TYPE_LATEST,
                               {"Content-Encoding": "gzip"})
                else:
                    self._send(200, body, CONTENT_TYPE_LATEST)
            elif path == "/":
                self._send(200, b"Inferwatch exporter: metrics at /metrics\n", "text/plain; charset=utf-8")
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")

        def _send(self, code: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
            log.debug("%s " + format, self.address_string(), *args)

    server = ThreadingHTTPServer((options.address, options.port), Handler)
    server.daemon_threads = True
    if options.tls_cert is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(options.tls_cert, options.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server
