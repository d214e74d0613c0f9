"""The real Prometheus scrapes the exporter of a filled store (with the bearer token, as docs/integrations.md
configures it), and its HTTP API answers every query of the Grafana dashboard in deploy/grafana with the
series the exporter served: Grafana's template variables substituted, each legend's labels present, each
number the one the read model gave."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from inferwatch.schema import floor_time
from readmodels.exposition import Exposition
from shell.exporter import Exporter, ExporterOptions, make_server
from tests.alerts.receivers import self_signed_cert
from tests.shell.exposition_store import DEPLOYMENTS, FAILING, fill
from tests.shell.monitoring import Server, prometheus_config, promtool, query, query_range, start_prometheus

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "inferwatch.json"
VARIABLES = {"$service": ".*", "$deployment": FAILING.id}
AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"  # Debian's prometheus-alertmanager package


@dataclass
class Stack:
    prometheus: Server
    exposition: Exposition  # what the exporter served, from the read model


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("grafana")
    filled = fill(home, floor_time(datetime.now(UTC), 60))
    token = secrets.token_urlsafe(24)
    (home / "token").write_text(token)
    exporter = Exporter(filled.url, filled.runtime.settings)
    server = make_server(exporter, ExporterOptions(port=0, token=token))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"127.0.0.1:{server.server_address[1]}"
    prometheus = start_prometheus(home / "prometheus", prometheus_config(target, bearer_token_file=home / "token"))
    try:
        _wait_for_scrapes(prometheus)
        yield Stack(prometheus, exporter.exposition())
    finally:
        prometheus.stop()
        server.shutdown()
        server.server_close()
        exporter.close()


def _wait_for_scrapes(prometheus: Server, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if query(prometheus, "inferwatch_exporter_deployments") and query(prometheus, 'up{job="inferwatch"} == 1'):
            return
        time.sleep(0.5)
    targets = prometheus.get("/api/v1/targets")
    raise AssertionError(f"Prometheus did not scrape the exporter: {json.dumps(targets)[:2000]}")


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def targets() -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in dashboard()["panels"] for t in p.get("targets", [])]


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, expr
    return expr


def test_the_dashboard_is_ready_to_provision() -> None:
    d = dashboard()
    panels = d["panels"]
    assert d["uid"] == "inferwatch" and d["schemaVersion"] >= 36
    assert len({p["id"] for p in panels}) == len(panels)
    assert len({p["title"] for p in panels}) == len(panels)  # each found by its title
    assert all(0 <= p["gridPos"]["x"] and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels)
    assert {v["name"] for v in d["templating"]["list"]} == {"datasource", "service", "deployment"}
    for title, target in targets():
        assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, title
        assert target["expr"].strip(), title
    assert len(targets()) >= 30


def test_the_shipped_scrape_job_and_route_pass_promtool_and_amtool(tmp_path: Path) -> None:
    """deploy/prometheus/inferwatch-scrape.yml with its files where it names them (promtool checks that they
    exist), and deploy/alertmanager/inferwatch-route.yml."""
    cert, _ = self_signed_cert(tmp_path)
    (tmp_path / "inferwatch-token").write_text("t0ken")
    (tmp_path / "inferwatch-ca.pem").write_bytes(cert.read_bytes())
    scrape = (ROOT / "deploy" / "prometheus" / "inferwatch-scrape.yml").read_text()
    (tmp_path / "scrape.yml").write_text(scrape.replace("/etc/prometheus/", f"{tmp_path}/"))
    checked = promtool("check", "config", str(tmp_path / "scrape.yml"))
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    route = subprocess.run([AMTOOL, "check-config", str(ROOT / "deploy" / "alertmanager" / "inferwatch-route.yml")],
                           capture_output=True, text=True, timeout=60, check=False)
    assert route.returncode == 0 and "SUCCESS" in route.stdout, route.stdout + route.stderr


def test_the_scrape_config_is_valid_and_the_target_up(stack: Stack) -> None:
    (up,) = query(stack.prometheus, 'up{job="inferwatch"}')
    assert up["value"][1] == "1"
    assert promtool("check", "config", str(stack.prometheus.log.parent / "prometheus.yml")).returncode == 0


@pytest.mark.parametrize(("title", "target"), targets(), ids=[f"{t}:{x['refId']}" for t, x in targets()])
def test_every_panel_query_returns_its_series(stack: Stack, title: str, target: dict[str, Any]) -> None:
    expr = substitute(target["expr"])
    result = query(stack.prometheus, expr)
    assert result, f"{title}: {expr} returned nothing"
    legend_labels = re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", ""))
    for series in result:
        assert all(label in series["metric"] for label in legend_labels), (title, series)
        if 'deployment="$deployment"' in target["expr"] and "deployment" in series["metric"]:
            assert series["metric"]["deployment"] == FAILING.id, (title, series)
    if target["range"]:  # a time series panel asks for a range
        assert query_range(stack.prometheus, expr), f"{title}: {expr} returned no range"


def test_the_template_variables_list_the_services_and_deployments(stack: Stack) -> None:
    services = stack.prometheus.get("/api/v1/label/service/values", [("match[]", "inferwatch_deployment_info")])
    assert sorted(services["data"]) == sorted({d.service for d in DEPLOYMENTS})
    scorer = stack.prometheus.get("/api/v1/label/deployment/values",
                                  [("match[]", 'inferwatch_deployment_info{service=~"scorer"}')])
    assert sorted(scorer["data"]) == sorted(d.id for d in DEPLOYMENTS if d.service == "scorer")


def _number(stack: Stack, panel: str, ref: str = "A") -> float:
    (target,) = [t for title, t in targets() if title == panel and t["refId"] == ref]
    (series,) = query(stack.prometheus, substitute(target["expr"]))
    return float(series["value"][1])


def test_the_overview_questions_answer_with_the_read_model_numbers(stack: Stack) -> None:
    exp = stack.exposition
    assert _number(stack, "Deployments not ok") == sum(d.health in ("bad", "warn") for d in exp.deployments) == 2
    assert _number(stack, "Alerts firing") == sum(a.state == "firing" for a in exp.alerts) > 0
    assert _number(stack, "Deployments drifting") == 1
    assert _number(stack, "Collectors not ok") == 1  # the failing GCP collector
    assert _number(stack, "Store answering") == 1
    assert _number(stack, "Cost per hour") == pytest.approx(sum(d.cost_per_hour_usd or 0 for d in exp.deployments))
    savings = sum(v for d in exp.deployments for v in d.advice_savings_usd.values() if v > 0)
    assert savings > 0 and _number(stack, "Advice could save per month") == pytest.approx(savings)


def test_the_drill_down_answers_with_the_deployment_numbers(stack: Stack) -> None:
    failing = next(d for d in stack.exposition.deployments if d.deployment == FAILING.id)
    by_cause = {s["metric"]["cause"]: float(s["value"][1]) for s in query(
        stack.prometheus, substitute('max by (cause) (inferwatch_errors_per_second{deployment="$deployment"})'))}
    assert by_cause == pytest.approx({c: failing.figures[f"{c}_count"] / 900 for c in by_cause})
    assert set(by_cause) == {"server_error", "timeout", "degraded", "client_error", "oom_kill"}
    signals = query(stack.prometheus, substitute('inferwatch_drift_signal_effect{deployment="$deployment"}'
                                                 ' / inferwatch_drift_signal_threshold{deployment="$deployment"}'))
    assert sorted(s["metric"]["signal"] for s in signals) == ["feature:f0", "feature:f1", "feature:f2"]
    assert _number(stack, "Deployment cost per 1,000 predictions") == pytest.approx(failing.cost_per_1k_usd)
    assert _number(stack, "Deployment alerts firing") == failing.firing_alerts > 0
