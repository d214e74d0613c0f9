"""`inferwatch advise` and `inferwatch report weekly` through the real CLI on a fixed store."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inferwatch.schema import MetricPoint, floor_time
from inferwatch.store import Store
from shell.cli import app
from tests.costs.builders import T0, lam
from tests.costs.report_store import fixed_store, write

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    fixed_store(home / "fixed.db").dispose()
    (home / "inferwatch.toml").write_text("[collect]\nstep_s = 3600\n", encoding="utf-8")
    return home


@pytest.fixture
def env(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INFERWATCH_STORE_URL", f"sqlite:///{home / 'fixed.db'}")
    monkeypatch.setenv("INFERWATCH_CONFIG", str(home / "inferwatch.toml"))
    monkeypatch.setenv("INFERWATCH_HOME", str(home))
    return home


def test_report_weekly_writes_every_format_and_a_manifest(env: Path) -> None:
    out = env / "out"
    result = RUNNER.invoke(app, ["report", "weekly", "--week", "2026-W47", "--out", str(out)])
    assert result.exit_code == 0, result.output
    stem = "inferwatch-cost-2026-W47"
    names = {p.name for p in out.iterdir()}
    assert names == {f"{stem}.summary.csv", f"{stem}.detail.csv", f"{stem}.md", f"{stem}.html",
                     f"{stem}.manifest.json"}
    golden = (Path(__file__).parents[1] / "costs" / "golden" / "weekly.csv").read_text(encoding="utf-8")
    assert (out / f"{stem}.summary.csv").read_text(encoding="utf-8") == golden
    manifest = json.loads((out / f"{stem}.manifest.json").read_text(encoding="utf-8"))
    digest = hashlib.sha256((out / f"{stem}.md").read_bytes()).hexdigest()
    assert manifest["files"][f"{stem}.md"] == digest and manifest["week"] == "2026-W47"
    rows = list(csv.DictReader(io.StringIO((out / f"{stem}.summary.csv").read_text(encoding="utf-8"), newline="")))
    assert rows[-1]["deployment"] == "TOTAL"


def test_report_weekly_rejects_bad_options(env: Path) -> None:
    result = RUNNER.invoke(app, ["report", "weekly", "--week", "2026-47"])
    assert result.exit_code == 2 and "YYYY-Www" in result.output
    result = RUNNER.invoke(app, ["report", "weekly", "--format", "pdf"])
    assert result.exit_code == 2 and "--format" in result.output


def test_advise_json(env: Path) -> None:
    result = RUNNER.invoke(app, ["advise", "--json", "--until", "2026-11-23"])
    assert result.exit_code == 0, result.output
    advice = json.loads(result.output)
    assert advice[0]["deployment"] == "aws:us-east-1:scorer" and advice[0]["proposed"] == "2 provisioned"
    assert advice[0]["monthly_saving_usd"] == pytest.approx(87.6, abs=0.01) and advice[0]["evidence"]
    table = RUNNER.invoke(app, ["advise", "--until", "2026-11-23"])
    assert table.exit_code == 0 and "Inferwatch advice" in table.output and "$87.60" in table.output
    bad = RUNNER.invoke(app, ["advise", "--power-tuning", "nofile"])
    assert bad.exit_code == 2 and "DEPLOYMENT_ID=FILE" in bad.output


def _minutes(deployment: str, values: dict[str, float], n: int) -> list[MetricPoint]:
    return [MetricPoint(deployment, metric, T0 + timedelta(minutes=i), 60, float(value))
            for i in range(n) for metric, value in values.items()]


@pytest.mark.parametrize(("minutes", "values", "says"), [
    (0, {}, "no deployment has priced metrics in the window"),
    (1, {"invocations_count": 100, "duration_sum_ms": 500.0},
     "the window holds 60 seconds of metrics; advice needs at least 2 minutes"),
    (30, {"invocations_count": 1, "duration_sum_ms": 1.0, "memory_max_used_mb": 90.0},
     ("nothing to change saves at least $0.01 a month over 30 minutes of metrics from 1 deployment "
      "(1 smaller saving left out)")),
], ids=["no-data", "too-little-data", "below-minimum"])
def test_advise_says_why_there_is_no_advice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minutes: int,
                                            values: dict[str, float], says: str) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'why.db'}")
    d = lam("scorer", memory_mb=128)
    write(store, [d], _minutes(d.id, values, minutes))
    store.dispose()
    monkeypatch.setenv("INFERWATCH_STORE_URL", f"sqlite:///{tmp_path / 'why.db'}")
    monkeypatch.setenv("INFERWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("INFERWATCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    until = (T0 + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    result = RUNNER.invoke(app, ["advise", "--until", until])
    assert result.exit_code == 0, result.output
    assert says in " ".join(result.output.split())
    assert result.output.startswith("No advice over ")
    as_json = RUNNER.invoke(app, ["advise", "--json", "--until", until])
    assert as_json.exit_code == 0 and json.loads(as_json.stdout) == []
    assert says in " ".join(as_json.stderr.split())


def test_advise_ends_its_window_at_the_last_complete_step_not_the_hour(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A store minutes old has advice without --until (main's window ended at the start of the hour)."""
    start = floor_time(datetime.now(UTC), 60) - timedelta(minutes=5)  # five minutes and the open one
    store = Store.open(f"sqlite:///{tmp_path / 'young.db'}")
    d = lam("young", pc=3, memory_mb=512)
    write(store, [d], [MetricPoint(d.id, metric, start + timedelta(minutes=i), 60, value) for i in range(6)
                       for metric, value in (("invocations_count", 60.0), ("duration_sum_ms", 120.0),
                                             ("provisioned_concurrency_count", 3.0),
                                             ("provisioned_utilization_ratio", 0.1))])
    store.dispose()
    monkeypatch.setenv("INFERWATCH_STORE_URL", f"sqlite:///{tmp_path / 'young.db'}")
    monkeypatch.setenv("INFERWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("INFERWATCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    result = RUNNER.invoke(app, ["advise", "--json"])
    assert result.exit_code == 0, result.output
    kinds = {(a["kind"], a["action"]) for a in json.loads(result.stdout)}
    assert ("warm_capacity", "reduce") in kinds and ("idle_cost", "info") in kinds
