"""Notifiers: Slack-compatible webhook, generic JSON webhook (optional HMAC-SHA256 signature), email
over SMTP with STARTTLS, a file / stdout sink, and (in their own modules) Alertmanager's v2 API and
PagerDuty's Events API v2. URLs and passwords come from the environment and
never appear in errors or logs (only the scheme and host of a URL do).

Every message carries its stable id (``Idempotency-Key`` header, ``id`` in the body, the email's
``Message-ID``) so a receiver can drop the repeat that at-least-once delivery may produce.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
import sys
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from alerts.alertmanager import AlertmanagerNotifier
from alerts.errors import AlertConfigError, DeliveryError
from alerts.http_post import post_json, redact_url
from alerts.pagerduty import PagerDutyNotifier
from alerts.settings import (
    AlertmanagerNotifierConfig,
    EmailNotifierConfig,
    FileNotifierConfig,
    PagerDutyNotifierConfig,
    SlackNotifierConfig,
    WebhookNotifierConfig,
)
from inferwatch.schema import OutboxMessage


class Notifier(Protocol):
    name: str

    def send(self, message: OutboxMessage) -> None:
        """Deliver or raise :class:`DeliveryError` (then the outbox retries later)."""
        ...


def render_text(message: OutboxMessage) -> str:
    p = message.payload
    lines = [f"[inferwatch] {p['group']}: {p['status']}"]
    for a in p["alerts"]:
        again = " (repeat)" if a["repeat"] else ""
        lines.append(f"- {a['status'].upper()}{again} [{a['severity']}] {a['rule']}: {a['summary']}")
    lines.append(f"notification id {message.id}")
    return "\n".join(lines)


class WebhookNotifier:
    """POSTs the message JSON; with a secret, ``X-Inferwatch-Signature: sha256=<hex>`` over
    ``<timestamp>.<body>`` and ``X-Inferwatch-Timestamp`` (verify both to stop replays)."""

    def __init__(self, name: str, url: str, *, secret: str | None = None, timeout_s: float = 10.0) -> None:
        self.name, self._url, self._secret, self.timeout_s = name, url, secret, timeout_s

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.name!r}, {redact_url(self._url)!r}, signed={self._secret is not None})"

    def send(self, message: OutboxMessage) -> None:
        body = json.dumps(message.payload, sort_keys=True).encode()
        headers = {"Idempotency-Key": message.id, "X-Inferwatch-Timestamp": str(message.created_at_s)}
        if self._secret:
            signed = f"{message.created_at_s}.".encode() + body
            digest = hmac.new(self._secret.encode(), signed, hashlib.sha256).hexdigest()
            headers["X-Inferwatch-Signature"] = f"sha256={digest}"
        post_json(self.name, self._url, body, headers, self.timeout_s)


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver runs to check :class:`WebhookNotifier`'s signature."""
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", signature)


class SlackNotifier:
    """Slack (or Mattermost, Rocket.Chat) incoming webhook: ``{"text": ...}``."""

    def __init__(self, name: str, url: str, *, timeout_s: float = 10.0) -> None:
        self.name, self._url, self.timeout_s = name, url, timeout_s

    def __repr__(self) -> str:
        return f"SlackNotifier({self.name!r}, {redact_url(self._url)!r})"

    def send(self, message: OutboxMessage) -> None:
        body = json.dumps({"text": render_text(message)}).encode()
        post_json(self.name, self._url, body, {"Idempotency-Key": message.id}, self.timeout_s)


class EmailNotifier:
    """SMTP with STARTTLS (certificate verified) and optional login; Message-ID is the stable id."""

    def __init__(self, name: str, config: EmailNotifierConfig, *, username: str | None = None,
                 password: str | None = None) -> None:
        self.name, self.config = name, config
        self._username, self._password = username, password
        self._context = ssl.create_default_context(cafile=config.ca_file)

    def __repr__(self) -> str:
        return f"EmailNotifier({self.name!r}, {self.config.host}:{self.config.port})"

    def send(self, message: OutboxMessage) -> None:
        c = self.config
        mail = EmailMessage()
        mail["From"], mail["To"] = c.sender, ", ".join(c.to)
        mail["Subject"] = f"[inferwatch] {message.payload['status']}: {message.payload['group']}"
        mail["Message-ID"] = f"<{message.id}@inferwatch>"
        mail["X-Inferwatch-Notification-Id"] = message.id
        mail.set_content(render_text(message))
        mail.add_attachment(json.dumps(message.payload, indent=2).encode(), maintype="application",
                            subtype="json", filename="alerts.json")
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout) as smtp:
                if c.starttls:
                    smtp.starttls(context=self._context)
                if self._username and self._password:
                    smtp.login(self._username, self._password)
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{self.name}: SMTP {c.host}:{c.port} failed: {type(exc).__name__}: {exc}",
                                receiver=self.name) from exc


class FileNotifier:
    """Appends one JSON line per message to a file, or writes it to stdout (``-``)."""

    def __init__(self, name: str, path: Path | None) -> None:
        self.name, self.path = name, path

    def send(self, message: OutboxMessage) -> None:
        line = json.dumps(message.payload, sort_keys=True) + "\n"
        if self.path is None:
            sys.stdout.write(line)
            sys.stdout.flush()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise DeliveryError(f"{self.name}: cannot write {self.path}: {exc}", receiver=self.name) from exc


def default_file_path(home: Path) -> Path:
    return home / "alerts" / "notifications.jsonl"


def _env(env: Mapping[str, str], name: str, key: str, var: str) -> str:
    value = env.get(var)
    if not value:
        field = f"notifiers.{name}.{key}"
        raise AlertConfigError(f"{field}: environment variable {var[:80]} is not set", field=field)
    return value


def _email(name: str, config: EmailNotifierConfig, env: Mapping[str, str]) -> EmailNotifier:
    try:  # the CA file is read here, once: a missing or unreadable one is a configuration error
        return EmailNotifier(name, config, username=env.get(config.username_env) or None,
                             password=env.get(config.password_env) or None)
    except (OSError, ssl.SSLError, ValueError) as exc:
        field = f"notifiers.{name}.ca_file"
        raise AlertConfigError(f"{field}: cannot load {str(config.ca_file)[:200]!r}: {type(exc).__name__}: "
                               f"{getattr(exc, 'strerror', None) or exc}", field=field) from exc


def build_notifier(name: str, config: Any, env: Mapping[str, str], home: Path) -> Notifier:
    """One notifier from its validated config, its secrets from ``env``."""
    if isinstance(config, SlackNotifierConfig):
        return SlackNotifier(name, _env(env, name, "url_env", config.url_env), timeout_s=config.timeout)
    if isinstance(config, WebhookNotifierConfig):
        secret = env.get(config.secret_env) if config.secret_env else None
        return WebhookNotifier(name, _env(env, name, "url_env", config.url_env), secret=secret or None,
                               timeout_s=config.timeout)
    if isinstance(config, EmailNotifierConfig):
        return _email(name, config, env)
    if isinstance(config, AlertmanagerNotifierConfig):
        return AlertmanagerNotifier(name, _env(env, name, "url_env", config.url_env), hold_s=config.hold_for,
                                    dashboard_url=config.dashboard_url, timeout_s=config.timeout)
    if isinstance(config, PagerDutyNotifierConfig):
        url = _env(env, name, "url_env", config.url_env) if config.url_env else None
        return PagerDutyNotifier(name, _env(env, name, "routing_key_env", config.routing_key_env), url=url,
                                 severity_map={s.value: v for s, v in config.severity_map.items()},
                                 dashboard_url=config.dashboard_url, timeout_s=config.timeout)
    if isinstance(config, FileNotifierConfig):
        if config.path == "-":
            return FileNotifier(name, None)
        return FileNotifier(name, Path(config.path) if config.path else default_file_path(home))
    raise AlertConfigError(f"notifiers.{name}: unknown notifier type", field=f"notifiers.{name}")
