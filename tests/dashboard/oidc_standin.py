"""A local OpenID Connect provider stand-in: real HTTP on 127.0.0.1, serving the discovery document
and an authorization endpoint that records what it was asked. Enough to see where `st.login` sends a
visitor and with which client id; it signs no one in."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class OidcStandin:
    base_url: str
    authorize_requests: list[dict[str, list[str]]] = field(default_factory=list)

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"


@contextmanager
def oidc_standin() -> Iterator[OidcStandin]:
    state = OidcStandin(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/.well-known/openid-configuration":
                self._send("application/json", json.dumps(_discovery(state.base_url)))
            elif url.path == "/authorize":
                state.authorize_requests.append(parse_qs(url.query))
                self._send("text/html", "<html><body><h1>stand-in identity provider</h1></body></html>")
            else:
                self.send_error(404)

        def _send(self, content_type: str, body: str) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # quiet in tests
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="oidc-standin", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _discovery(base_url: str) -> dict[str, object]:
    return {"issuer": base_url, "authorization_endpoint": f"{base_url}/authorize",
            "token_endpoint": f"{base_url}/token", "jwks_uri": f"{base_url}/jwks",
            "userinfo_endpoint": f"{base_url}/userinfo", "response_types_supported": ["code"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"]}
