"""One corrupted row in the baselines table of a real store (SQLite and PostgreSQL), then the real
commands: collection still stores every deployment, and `drift check`, the alert job and `baseline list`
name the unreadable baseline and the command that recreates it. Only that model's drift is lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from inferwatch.schema import Metric
from inferwatch.store import Store
from shell.cli import app
from shell.reference_baselines import reference_baseline_id

DEPLOYMENTS = {"scorer-v1": "v1", "scorer-v2": "v2"}  # the built-in local demo deployments
LINES = 60  # per deployment and round: below drift's 500 rows, so the readable model reads insufficient_data
V1 = reference_baseline_id("scorer", "v1")  # reports-v1 has its own baseline of v1: its drift is unaffected
REMEDY = "inferwatch baseline create --version v1 --service scorer"


def _cli(home: Path, store_url: str, *args: str) -> tuple[int, str]:
    config = home / "inferwatch.toml"
    if not config.exists():
        config.write_text("")  # the built-in local deployments, whatever the working directory holds
    result = CliRunner().invoke(app, ["--home", str(home), "--config", str(config), *args],
                                env={"INFERWATCH_STORE_URL": store_url})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _telemetry(home: Path, at: datetime) -> None:
    for name, version in DEPLOYMENTS.items():
        path = home / "telemetry" / name / "i1.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            for i in range(LINES):
                ts = int((at + timedelta(milliseconds=10 * i)).timestamp() * 1000)
                handle.write(json.dumps({"_aws": {"Timestamp": ts}, "Deployment": name, "ModelVersion": version,
                                         "Status": "ok", "LatencyMs": 3.0, "Rows": 1, "PredictionScore": [0.7],
                                         "PredictedClass": [1]}) + "\n")


def _corrupted(stored: str, variant: str, dialect: str) -> str:
    """The stored payload text after one kind of damage; PostgreSQL's json type only holds valid JSON,
    so there the unparseable variants become the nearest damage it can hold."""
    doc: dict[str, Any] = json.loads(stored)
    if variant == "not JSON":
        return "this is not json" if dialect == "sqlite" else json.dumps("this is not json")
    if variant == "empty object":
        return "{}"
    if variant == "truncated":
        if dialect == "sqlite":
            return stored[: len(stored) // 2]
        doc["columns"]["score"]["edges"] = doc["columns"]["score"]["edges"][:10]
        return json.dumps(doc)
    if variant == "non-finite edges":
        doc["columns"]["score"]["edges"][3] = 1e308
        return json.dumps(doc).replace("1e+308", "NaN" if dialect == "sqlite" else "1e999")
    doc["columns"]["score"]["null_constants"]["ks"] = "x"  # wrong types
    doc["columns"]["class"]["categories"] = [[c] for c in doc["columns"]["class"]["categories"]]
    return json.dumps(doc)


def _corrupt(store_url: str, variant: str) -> None:
    engine = create_engine(store_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            stored = conn.execute(text("SELECT CAST(payload AS TEXT) FROM baselines WHERE id = :id"),
                                  {"id": V1}).scalar()
            damaged = _corrupted(str(stored), variant, engine.dialect.name)
            cast = "CAST(:p AS json)" if engine.dialect.name == "postgresql" else ":p"
            conn.execute(text(f"UPDATE baselines SET payload = {cast} WHERE id = :id"), {"p": damaged, "id": V1})
    finally:
        engine.dispose()


def _invocations(store: Store, name: str) -> float:
    return sum(p.value for p in store.load_metrics(deployments=[f"local:local:{name}"], metrics=[Metric.INVOCATIONS]))


@pytest.mark.parametrize("variant", ["not JSON", "empty object", "truncated", "non-finite edges", "wrong types"])
def test_a_corrupt_baseline_costs_the_drift_of_its_model_only(tmp_path: Path, store_url: str, variant: str) -> None:
    home = tmp_path
    assert _cli(home, store_url, "baseline", "create")[0] == 0
    _telemetry(home, datetime.now(UTC) - timedelta(seconds=150))
    assert _cli(home, store_url, "collect")[0] == 0
    _corrupt(store_url, variant)
    _telemetry(home, datetime.now(UTC) - timedelta(seconds=2))  # in the step still open after that round

    # by hand in the same [collect] interval: without --again the unit collected in it would be left alone
    code, out = _cli(home, store_url, "collect", "--again")
    assert code == 0, out
    assert f"baseline {V1} is unreadable" in out and REMEDY in out
    store = Store.open(store_url)
    assert (_invocations(store, "scorer-v1"), _invocations(store, "scorer-v2")) == (2 * LINES, 2 * LINES)
    newest = {h.deployment: h.start for h in store.load_histograms()}
    assert newest["local:local:scorer-v2"] > newest["local:local:scorer-v1"]  # v2 still counted for drift

    code, out = _cli(home, store_url, "drift", "check")
    assert code == 2, out  # drift unknown (v2 has too few rows to drift)
    assert f"local:local:scorer-v1  drift unknown: baseline {V1} is unreadable" in out and REMEDY in out
    code, out = _cli(home, store_url, "drift", "check", "--json")
    report = json.loads(out)
    assert code == 2 and report["status"] == "baseline_unreadable"
    assert [(u["deployment"], u["baseline_id"], u["remedy"]) for u in report["unreadable_baselines"]] == [
        ("local:local:scorer-v1", V1, REMEDY)]
    assert [d["deployment"] for d in report["deployments"]] == ["local:local:scorer-v2"]

    code, out = _cli(home, store_url, "alerts", "run")
    # the drift rule and the estimated-quality rule of v1 both need its baseline; nothing else errs
    assert code == 1 and "2 alerts could not be evaluated" in out, out
    errors = {(s.rule, s.entity) for s in store.load_alert_states().values() if s.state == "error"}
    assert errors == {("PredictionDrift", "local:local:scorer-v1"),
                      ("EstimatedQualityBelowBaseline", "local:local:scorer-v1")}
    drift_states = {s.entity: s for s in store.load_alert_states().values() if s.rule == "PredictionDrift"}
    assert drift_states["local:local:scorer-v1"].state == "error"
    summary = drift_states["local:local:scorer-v1"].summary
    assert V1 in summary and REMEDY in summary
    assert drift_states["local:local:scorer-v2"].state != "error"

    code, out = _cli(home, store_url, "baseline", "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4, out  # scorer's v1 and v2, reports' v1, the remedy
    v1_line = next(i for i, line in enumerate(lines) if line.startswith(V1))
    assert lines[v1_line + 1].strip().startswith("UNREADABLE") and REMEDY in lines[v1_line + 1]

    assert _cli(home, store_url, *REMEDY.split()[1:])[0] == 0  # the remedy it names works
    code, out = _cli(home, store_url, "drift", "check")
    assert code == 0 and "unreadable" not in out, out
    store.dispose()
