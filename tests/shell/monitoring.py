"""The real Prometheus and Alertmanager (Debian's packages, installed by .ci/system-deps.sh), started on
127.0.0.1 with free ports, their own data folders and a generated configuration (written as JSON, which
is YAML), and stopped by their process ids. promtool checks every generated Prometheus configuration
before it is used."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.alerts.receivers import free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
MISSING = ("{} is not installed: run `bash .ci/system-deps.sh` (Debian's prometheus and prometheus-alertmanager "
           "packages)")


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    if not Path(PROMTOOL).exists():
        raise AssertionError(MISSING.format("promtool"))
    return subprocess.run([PROMTOOL, *args], input=stdin, capture_output=True, timeout=60, check=False)


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready after {timeout_s} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)

    def get(self, path: str, params: Mapping[str, str] | Sequence[tuple[str, str]] = ()) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}{'?' + query if query else ''}", timeout=10) as response:
            return json.loads(response.read())


def _start(name: str, command: list[str], port: int, folder: Path) -> Server:
    if not Path(command[0]).exists():
        raise AssertionError(MISSING.format(name))
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, process, port, log)
    try:
        server.wait_ready()
    except AssertionError:
        server.stop()
        raise
    return server


def prometheus_config(target: str, *, interval_s: int = 1, bearer_token_file: Path | None = None) -> dict[str, Any]:
    job: dict[str, Any] = {"job_name": "inferwatch", "static_configs": [{"targets": [target]}]}
    if bearer_token_file is not None:
        job["authorization"] = {"type": "Bearer", "credentials_file": str(bearer_token_file)}
    return {"global": {"scrape_interval": f"{interval_s}s", "scrape_timeout": f"{interval_s}s",
                       "evaluation_interval": f"{interval_s}s"}, "scrape_configs": [job]}


def start_prometheus(folder: Path, config: Mapping[str, Any]) -> Server:
    """Prometheus with ``config`` (checked by ``promtool check config`` first)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prometheus.yml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    checked = promtool("check", "config", str(path))
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    port = free_port()
    return _start("prometheus", [PROMETHEUS, f"--config.file={path}", f"--storage.tsdb.path={folder / 'data'}",
                                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], port, folder)


def start_alertmanager(folder: Path, config: Mapping[str, Any]) -> Server:
    """Alertmanager with ``config``, clustering off (a single instance)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "alertmanager.yml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    port = free_port()
    return _start("alertmanager", [ALERTMANAGER, f"--config.file={path}", f"--storage.path={folder / 'data'}",
                                   f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                                   "--log.level=warn"], port, folder)


def query(prometheus: Server, expr: str) -> list[dict[str, Any]]:
    """An instant query's result (vector or scalar samples), failing on an error answer."""
    try:
        answer = prometheus.get("/api/v1/query", {"query": expr})
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{expr}: HTTP {exc.code}: {exc.read().decode()[:500]}") from exc
    assert answer["status"] == "success", answer
    data = answer["data"]
    if data["resultType"] == "scalar":
        return [{"metric": {}, "value": data["result"]}]
    result: list[dict[str, Any]] = data["result"]
    return result


def query_range(prometheus: Server, expr: str, seconds: int = 60) -> list[dict[str, Any]]:
    """A range query over the last ``seconds`` at a 1 s step (what a Grafana time series panel sends)."""
    end = time.time()
    answer = prometheus.get("/api/v1/query_range", {"query": expr, "start": str(end - seconds), "end": str(end),
                                                    "step": "1"})
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result
