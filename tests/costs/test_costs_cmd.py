"""`inferwatch advise` and `inferwatch report weekly` through the real CLI on a fixed store."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inferwatch.cli import app
from tests.costs.report_store import fixed_store

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
    golden = (Path(__file__).parent / "golden" / "weekly.csv").read_text(encoding="utf-8")
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
