"""POSTing JSON to a receiver, shared by the HTTP notifiers. A receiver's URL may hold a secret (a
Slack webhook path, basic-auth credentials): errors and logs show only its scheme and host."""

from __future__ import annotations

import base64
import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

from alerts.errors import DeliveryError

USER_AGENT = "inferwatch-alerts/0.1"


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{':' + str(parts.port) if parts.port else ''}/…"


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """``http://user:password@host/...`` -> the URL without them and a basic ``Authorization`` header
    (urllib would refuse the URL as it is)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port else ""
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def post_json(name: str, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> bytes:
    """POST ``body`` as JSON; the answer's body on a 2xx, else :class:`DeliveryError` (with the
    receiver's ``Retry-After`` when it gave one)."""
    try:
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        retry = exc.headers.get("Retry-After") if exc.headers else None
        retry_s = float(retry) if retry and retry.isdigit() else None
        raise DeliveryError(f"{name}: {redact_url(url)} answered HTTP {exc.code}", receiver=name,
                            retry_after_s=retry_s) from None  # the HTTPError's text holds the secret URL
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{name}: {redact_url(url)} unreachable: {type(reason).__name__}: {reason}",
                            receiver=name) from None
    except ValueError:  # e.g. "unknown url type": its text would print the whole (secret) URL
        raise DeliveryError(f"{name}: {redact_url(url)} is not a usable http(s) URL", receiver=name) from None
