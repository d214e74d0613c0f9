"""`inferwatch labels ingest` through the real CLI: CSV and JSON lines, bad rows listed with their line
and counted while the others are stored, a file that cannot be used at all refused in one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from inferwatch.store import Store
from shell.cli import app
from tests.readmodels.quality_data import DEP, Served, collect, serve

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def _run(home: Path, *args: str) -> Result:
    config = home / "inferwatch.toml"
    if not config.exists():
        config.write_text("")  # the built-in local defaults, whatever the working directory holds
    return CliRunner().invoke(app, ["--home", str(home), "--config", str(config), *args])


@pytest.fixture(scope="module")
def served() -> list[Served]:
    return serve(NOW, minutes=10, per_minute=10, shift_after_min=None)


@pytest.fixture()
def home(tmp_path: Path, served: list[Served]) -> Path:
    collect(Store.open(f"sqlite:///{tmp_path / 'inferwatch.db'}"), tmp_path, served, NOW)
    return tmp_path


def test_a_csv_by_request_id_is_stored_once(home: Path, served: list[Served]) -> None:
    path = home / "labels.csv"
    path.write_text("request_id,label,comment\n" + "".join(f"{s.request_id},{s.truth[0]},fine\n" for s in served[:30]))
    first = _run(home, "labels", "ingest", str(path))
    assert first.exit_code == 0, first.output
    assert f"stored 30 labels (30 new, 0 already there) for {DEP.id} (30)" in first.output
    again = _run(home, "labels", "ingest", str(path), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["new"] == 0


def test_bad_rows_are_listed_with_their_line_and_the_rest_stored(home: Path, served: list[Served]) -> None:
    at = (NOW - timedelta(minutes=2)).isoformat()
    rows = [json.dumps({"request_id": s.request_id, "label": int(s.truth[0])}) for s in served[:10]]
    rows.insert(2, "{not json")
    rows.insert(4, json.dumps({"request_id": served[11].request_id, "label": "benign"}))
    rows.insert(6, json.dumps({"request_id": served[12].request_id}))
    rows.append(json.dumps({"timestamp": at.replace("+00:00", ""), "prediction": 1, "label": 1,
                            "deployment": DEP.id}))
    rows.append(json.dumps({"request_id": "never-seen", "label": 1}))
    path = home / "labels.jsonl"
    path.write_text("\n".join(rows) + "\n")
    result = _run(home, "labels", "ingest", str(path))
    assert result.exit_code == 1
    assert "stored 10 labels" in result.stdout and "1 labels matched no prediction" in result.stdout
    assert "4 rows refused" in result.stderr
    assert "line 3: not JSON" in result.stderr
    assert "line 5: label 'benign' is not a class of model 'v1' (classes: 1, 0)" in result.stderr
    assert "line 7: no label" in result.stderr
    assert "line 14: timestamp" in result.stderr and "has no time zone" in result.stderr


@pytest.mark.parametrize(("text", "problem"), [
    ("request_id,y\nreq-0-0,1\n", "no 'label' column (columns: request_id, y)"),
    ("label,prediction\n1,1\n", "needs a request_id column, or timestamp and prediction columns"),
    ('{"request_id": "a", "y": 1}\n', "no 'label' column (columns: request_id, y)"),
    ("{not json\n", "no row is a JSON object"),
    ("", "no header row"),
])
def test_a_file_without_the_columns_labels_need_is_one_line(home: Path, text: str, problem: str) -> None:
    path = home / ("labels.jsonl" if text.startswith("{") else "labels.csv")
    path.write_text(text)
    result = _run(home, "labels", "ingest", str(path))
    assert result.exit_code == 2 and problem in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_that_is_not_utf8_or_missing_is_one_line(home: Path) -> None:
    path = home / "labels.csv"
    path.write_bytes(b"request_id,label\n\xff\xfe,1\n")
    result = _run(home, "labels", "ingest", str(path))
    assert result.exit_code == 2 and "not UTF-8" in result.stderr
    missing = _run(home, "labels", "ingest", str(home / "nope.csv"))
    assert missing.exit_code == 2 and "nope.csv" in missing.stderr and "Traceback" not in missing.output
