"""Starting the Streamlit dashboard safely: loopback by default; any other address only with
authentication configured (Streamlit OIDC via .streamlit/secrets.toml [auth])."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

from inferwatch.errors import InferwatchError

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class DashboardSecurityError(InferwatchError):
    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.address = address


def is_loopback(address: str) -> bool:
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def auth_configured(secrets_path: Path) -> bool:
    """True when secrets.toml has an [auth] table with the keys st.login needs."""
    try:
        secrets = tomllib.loads(secrets_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        return False
    auth = secrets.get("auth")
    if not isinstance(auth, dict):
        return False
    required = ("redirect_uri", "cookie_secret")
    provider_keys = ("client_id", "client_secret", "server_metadata_url")
    flat = all(k in auth for k in provider_keys)
    named = any(isinstance(v, dict) and all(k in v for k in provider_keys) for v in auth.values())
    return all(k in auth for k in required) and (flat or named)


def app_path() -> Path:
    spec = importlib.util.find_spec("app")
    if spec is None or spec.origin is None:
        raise InferwatchError("cannot find the dashboard's app.py (is inferwatch installed?)")
    return Path(spec.origin)


def check_bind(address: str, secrets_path: Path) -> None:
    if is_loopback(address):
        return
    if not auth_configured(secrets_path):
        raise DashboardSecurityError(
            f"refusing to serve the dashboard on {address}: it would be reachable from other machines "
            f"without authentication. Configure [auth] in {secrets_path} (see README, 'Dashboard "
            "authentication') or bind 127.0.0.1.", address=address)


# A served dashboard, not a development loop. Streamlit's default file watcher registers every
# imported module under the app's folder (the virtualenv included) for each new browser session and
# rescans them after every run: about 1 s on each first page load, measured in bench/dashboard_overview.py.
# Nor a full garbage collection after every script run (postScriptGC): with pandas, Plotly and
# SQLAlchemy loaded it took 0.12-0.15 s of CPU per run, every page load and every auto-refresh, while
# the browser draws what the run sent. Python's own generational collector still runs.
SERVER_OPTIONS = {"server.headless": "true", "server.fileWatcherType": "none", "server.runOnSave": "false",
                  "runner.postScriptGC": "false", "browser.gatherUsageStats": "false",
                  "client.toolbarMode": "viewer", "client.showErrorDetails": "none"}


def streamlit_command(address: str, port: int) -> list[str]:
    options = {**SERVER_OPTIONS, "server.address": address, "server.port": str(port)}
    return [sys.executable, "-m", "streamlit", "run", str(app_path()),
            *(arg for name, value in options.items() for arg in (f"--{name}", value))]


def start_dashboard(address: str, port: int, *, env: Mapping[str, str], log_path: Path,
                    secrets_path: Path | None = None) -> subprocess.Popen[bytes]:
    """Start Streamlit in its own process group (so stopping it stops its children too)."""
    check_bind(address, secrets_path or Path(".streamlit/secrets.toml"))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(streamlit_command(address, port), env={**os.environ, **env}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
