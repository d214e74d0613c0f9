"""Dashboard security: loopback by default, no public bind without auth, login gate with auth."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.auth import allowed
from shell.dashboard_server import DashboardSecurityError, auth_configured, check_bind, streamlit_command
from tests.dashboard.conftest import clean_env, free_port, inferwatch_bin
from tests.dashboard.test_overview import APP, fill

AUTH = """[auth]
redirect_uri = "https://iw.example.com/oauth2callback"
cookie_secret = "not-a-real-secret-but-long-enough"
client_id = "inferwatch"
client_secret = "s3cr3t-value"
server_metadata_url = "https://accounts.example.com/.well-known/openid-configuration"
"""


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_nothing(address: str, tmp_path: Path) -> None:
    check_bind(address, tmp_path / "missing.toml")


@pytest.mark.parametrize("address", ["0.0.0.0", "192.0.2.10", "::"])
def test_public_bind_without_auth_is_refused(address: str, tmp_path: Path) -> None:
    with pytest.raises(DashboardSecurityError):
        check_bind(address, tmp_path / "missing.toml")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[auth]\nredirect_uri = 'x'\n")  # incomplete
    with pytest.raises(DashboardSecurityError):
        check_bind(address, secrets)


def test_public_bind_with_auth_is_allowed(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(AUTH)
    assert auth_configured(secrets)
    check_bind("0.0.0.0", secrets)


def test_the_command_refuses_in_one_line(tmp_path: Path) -> None:
    out = subprocess.run([inferwatch_bin(), "dashboard", "--address", "0.0.0.0", "--secrets",
                          str(tmp_path / "none.toml")], env=clean_env(tmp_path), cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "refusing to serve the dashboard on 0.0.0.0" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("kind", ["folder", "not-toml-name", "not-utf8"])
def test_a_secrets_path_streamlit_could_not_read_is_refused_in_one_line(kind: str, tmp_path: Path) -> None:
    # Streamlit reads a secrets path as TOML only when its name ends in .toml; the check must not
    # approve a file Streamlit would then ignore (serving without a login), nor crash on a folder.
    secrets = {"folder": tmp_path / "folder.toml", "not-toml-name": tmp_path / "secrets.txt",
               "not-utf8": tmp_path / "latin1.toml"}[kind]
    if kind == "folder":
        secrets.mkdir()
    elif kind == "not-toml-name":
        secrets.write_text(AUTH)
    else:
        secrets.write_bytes(AUTH.encode() + b"# caf\xe9\n")
    out = subprocess.run([inferwatch_bin(), "dashboard", "--address", "0.0.0.0", "--port", str(free_port()),
                          "--secrets", str(secrets)], env=clean_env(tmp_path), cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 2, out.stdout
    assert out.stderr.count("\n") == 1 and str(secrets) in out.stderr and "Traceback" not in out.stderr


def test_login_gate_hides_everything_until_signed_in(home: Path) -> None:
    fill(home)
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "x", "cookie_secret": "y", "client_id": "z", "client_secret": "w",
                          "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration"}
    at.run()
    assert not at.exception
    assert any("Sign in" in i.value for i in at.info)
    assert not at.get("plotly_chart") and not at.dataframe and not at.html
    assert "w" not in [t.value for t in at.text]


def test_signed_in_users_see_the_overview(home: Path) -> None:
    fill(home)
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "x", "cookie_secret": "y", "client_id": "z", "client_secret": "w",
                          "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration"}
    at.user = {"is_logged_in": True, "email": "ops@example.com"}  # type: ignore[assignment]
    at.run()
    assert not at.exception
    assert at.title[0].value == "Overview" and at.html


def test_allow_list() -> None:
    policy = {"allowed_domains": ["example.com"], "allowed_emails": ["a@other.org"]}
    assert allowed("ops@EXAMPLE.com", policy) and allowed("a@other.org", policy)
    assert not allowed("x@evil.com", policy) and not allowed(None, policy)
    assert allowed("anyone@anywhere", {})


def test_sigterm_to_the_dashboard_command_stops_streamlit(home: Path) -> None:
    import time

    from tests.dashboard.conftest import serve, stop

    proc, _ = serve(home)
    children = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True,
                                               check=False).stdout.split()]
    assert children, "the dashboard command should have started streamlit"
    stop(proc)  # SIGTERM
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in children)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return "zombie" not in status.read()
    except FileNotFoundError:
        return False


def test_streamlit_reads_exactly_the_secrets_file_that_was_checked(tmp_path: Path) -> None:
    outside = _options(streamlit_command("0.0.0.0", 8765, tmp_path / "elsewhere" / "secrets.toml"))
    assert outside["--secrets.files"] == str(tmp_path / "elsewhere" / "secrets.toml")
    default = _options(streamlit_command("127.0.0.1", 8765))  # not also ~/.streamlit/secrets.toml
    assert default["--secrets.files"] == str(Path.cwd() / ".streamlit" / "secrets.toml")


def _options(command: list[str]) -> dict[str, str]:
    return dict(zip(command[5::2], command[6::2], strict=True))


def test_the_dashboard_is_served_without_development_file_watching_or_forced_collections() -> None:
    command = streamlit_command("127.0.0.1", 8765)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("app.py")
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.fileWatcherType"] == "none"
    assert options["--server.runOnSave"] == "false"
    assert options["--runner.postScriptGC"] == "false"
    assert options["--server.address"] == "127.0.0.1" and options["--server.port"] == "8765"
