"""A real collection round (`inferwatch collect` over local telemetry lines) keeps the exporter's figures
beside the Overview's numbers, and the exporter then serves errors by cause from them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from inferwatch.store import Store
from readmodels.exposition_kept import ADVICE_TOPIC, WINDOW_TOPIC
from shell.cli import app
from shell.exporter import Exporter
from shell.runtime import Runtime


def _telemetry(home: Path, at: datetime, statuses: dict[str, int]) -> None:
    path = home / "telemetry" / "scorer-v2" / "i1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        i = 0
        for status, n in statuses.items():
            for _ in range(n):
                ts = int((at + timedelta(milliseconds=10 * i)).timestamp() * 1000)
                i += 1
                handle.write(json.dumps({"_aws": {"Timestamp": ts}, "Deployment": "scorer-v2", "ModelVersion": "v2",
                                         "Status": status, "LatencyMs": 3.0, "Rows": 1, "PredictionScore": [0.7],
                                         "PredictedClass": [1]}) + "\n")


def test_a_collection_round_keeps_the_exporter_figures(tmp_path: Path) -> None:
    (tmp_path / "inferwatch.toml").write_text("")  # the built-in local deployments
    _telemetry(tmp_path, datetime.now(UTC) - timedelta(seconds=150), {"ok": 40, "error": 6, "timeout": 3})
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "--config", str(tmp_path / "inferwatch.toml"),
                                      "collect"], env={"INFERWATCH_STORE_URL": ""})
    assert result.exit_code == 0, result.output
    store = Store.open(f"sqlite:///{tmp_path / 'inferwatch.db'}")
    kept = store.load_kept_figures([WINDOW_TOPIC, ADVICE_TOPIC])
    assert sorted(kept) == [ADVICE_TOPIC, WINDOW_TOPIC]
    figures = kept[WINDOW_TOPIC].figures["local:local:scorer-v2"]
    assert (figures["server_error_count"], figures["timeout_count"]) == (6, 3)
    rt = Runtime.from_env({}, config=tmp_path / "inferwatch.toml", home=tmp_path)
    page = Exporter(rt.store_url, rt.settings).page().decode()
    assert 'deployment="local:local:scorer-v2"' in page and ',cause="timeout"} 0.003333333\n' in page
