"""Real local receivers: an HTTP webhook server that can be down, slow, failing or up, and an SMTP
server (aiosmtpd) with STARTTLS and AUTH over a self-signed certificate made here."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alerts.notify import verify_signature


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    id: str
    body: dict[str, Any]
    signed_ok: bool | None = None


@dataclass
class WebhookReceiver:
    """Records every request (before answering, so a 'slow' answer the sender gave up on still
    counts as arrived) and answers per ``mode``: up (200), fail (500), slow (sleep, then 200),
    block (wait for ``release``), throttle (429 + Retry-After)."""

    port: int = field(default_factory=free_port)
    mode: str = "up"
    secret: str | None = None
    slow_s: float = 2.0
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/T000/secret-path-token"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signature = self.headers.get("X-Inferwatch-Signature")
                signed_ok = (verify_signature(receiver.secret, self.headers["X-Inferwatch-Timestamp"], body,
                                              signature) if receiver.secret and signature else None)
                receiver.received.append(Received(self.headers.get("Idempotency-Key", ""), json.loads(body),
                                                  signed_ok))
                receiver.arrived.set()
                if receiver.mode == "slow":
                    time.sleep(receiver.slow_s)
                if receiver.mode == "block":
                    receiver.release.wait(30)
                code = {"fail": 500, "throttle": 429}.get(receiver.mode, 200)
                self.send_response(code)
                if code == 429:
                    self.send_header("Retry-After", "900")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:  # keep test output clean
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self.release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def unique(self) -> dict[str, dict[str, Any]]:
        """What a deduplicating receiver keeps: one body per notification id."""
        return {r.id: r.body for r in self.received}


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class MailHandler:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, bytes]] = []
        self.tls_seen: list[bool] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.messages.append((envelope, bytes(envelope.original_content or b"")))
        self.tls_seen.append(session.ssl is not None)
        return "250 OK"


class SmtpReceiver:
    def __init__(self, folder: Path, *, user: str = "alerts", password: str = "pa55-w0rd") -> None:
        self.port = free_port()
        self.cert, key = self_signed_cert(folder)
        self.handler = MailHandler()
        self.user, self.password = user, password
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=True, auth_require_tls=True,
                                     authenticator=self._authenticate)

    def _authenticate(self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login.decode(), auth_data.password.decode()) == (
            self.user, self.password)
        return AuthResult(success=ok)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
