"""Starting the Streamlit dashboard safely: loopback by default; any other address only with
authentication configured (Streamlit OIDC via the [auth] table of a secrets.toml).

The secrets file the bind check reads is the only one Streamlit reads (``--secrets.files``): by
default Streamlit merges ./.streamlit/secrets.toml and ~/.streamlit/secrets.toml instead, so a file
given elsewhere would pass the check and then be ignored, serving every page without a login."""

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
DEFAULT_SECRETS = Path(".streamlit/secrets.toml")


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
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):  # missing, a folder, unreadable, not TOML
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


def secrets_file(path: Path, *, address: str) -> Path:
    """The absolute path Streamlit is given: it reads a secrets path as TOML only when the name ends
    in .toml (anything else it takes for a folder of Kubernetes-style secrets)."""
    if path.suffix != ".toml":
        raise DashboardSecurityError(f"secrets file {path}: the name must end in .toml (Streamlit reads "
                                     "nothing else as a secrets.toml)", address=address)
    return path.absolute()


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


def streamlit_command(address: str, port: int, secrets_path: Path = DEFAULT_SECRETS) -> list[str]:
    options = {**SERVER_OPTIONS, "server.address": address, "server.port": str(port),
               "secrets.files": str(secrets_file(secrets_path, address=address))}
    return [sys.executable, "-m", "streamlit", "run", str(app_path()),
            *(arg for name, value in options.items() for arg in (f"--{name}", value))]


def start_dashboard(address: str, port: int, *, env: Mapping[str, str], log_path: Path,
                    secrets_path: Path = DEFAULT_SECRETS) -> subprocess.Popen[bytes]:
    """Start Streamlit in its own process group (so stopping it stops its children too), reading
    its secrets from ``secrets_path`` only: the file the bind check approved."""
    check_bind(address, secrets_path)
    command = streamlit_command(address, port, secrets_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(command, env={**os.environ, **env}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
