"""`inferwatch setup aws|gcp`: the exact steps, the bins file written and kept in the store (the real probe
reads it and its lines name it), and `--apply` against moto: the probe's variables merged into the
function's own, the log group's retention set."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from inferwatch_probe.bins import parse_bins
from typer.testing import CliRunner

from drift.probe_bins import probe_bins_file
from inferwatch.store import Store, store_url_from_env
from shell.cli import app
from tests.collectors.aws_standin import REGION, boto_client, make_function, shared
from tests.collectors.probe_lines import BASELINE_ID, VERSION, model

runner = CliRunner()


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    m = model()
    with Store.open(store_url_from_env(tmp_path, {})) as store:
        store.save_baseline(BASELINE_ID, service="scorer", model_version=VERSION, model_sha256=m.sha256,
                            source="test", payload=m.baseline.to_dict(), created_at=datetime.now(UTC))
    (tmp_path / "inferwatch.toml").write_text("", encoding="utf-8")
    return tmp_path


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {"INFERWATCH_HOME": str(home), "INFERWATCH_CONFIG": str(home / "inferwatch.toml"), **extra}


def test_setup_aws_prints_the_steps_writes_the_bins_file_and_applies_against_moto(home: Path) -> None:
    moto, _ = shared()
    fn = f"scorer-{uuid.uuid4().hex[:8]}"
    make_function(moto.endpoint, fn)
    lam = boto_client("lambda", moto.endpoint)
    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": {"OWN_SETTING": "kept"}})
    env = _env(home, AWS_ENDPOINT_URL=moto.endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    result = runner.invoke(app, ["setup", "aws", fn, "--region", REGION, "--model-version", VERSION,
                                 "--service", "scorer", "--task", "binary", "--apply"], env=env)
    assert result.exit_code == 0, result.output
    content = probe_bins_file(BASELINE_ID, model().baseline)
    sha = hashlib.sha256(content).hexdigest()
    written = home / "probe-bins" / f"{BASELINE_ID}.json"
    assert written.read_bytes() == content and parse_bins(content).sha256 == sha  # what the probe will name
    with Store.open(store_url_from_env(home, {})) as store:
        assert store.load_probe_bins(sha) == (BASELINE_ID, content)
    out = result.output
    assert f"aws lambda update-function-configuration --region {REGION} --function-name {fn}" in out
    assert "INFERWATCH_PROBE_BINS=/var/task/inferwatch-bins.json" in out and sha in out
    assert f"--log-group-name /aws/lambda/{fn} --retention-in-days 14" in out
    assert f"aws:{REGION}:{fn}" in out and "inferwatch config check" in out
    variables = lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]
    assert variables["OWN_SETTING"] == "kept" and variables["INFERWATCH_MODEL_VERSION"] == VERSION
    assert variables["INFERWATCH_TASK"] == "binary" and variables["INFERWATCH_DEPLOYMENT"] == fn
    groups = boto_client("logs", moto.endpoint).describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{fn}")
    assert groups["logGroups"][0]["retentionInDays"] == 14 and "log group created" in out


def test_setup_gcp_prints_the_service_update_and_the_collector_role(home: Path) -> None:
    result = runner.invoke(app, ["setup", "gcp", "scorer", "--project", "demo-project", "--region", "europe-west1",
                                 "--model-version", VERSION, "--task", "binary"], env=_env(home))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "gcloud run services update scorer --project demo-project --region europe-west1 --update-env-vars" in out
    assert "INFERWATCH_PROBE_BINS=/app/inferwatch-bins.json" in out and "logging.logEntries.list" in out
    assert "no custom metric is needed" in out and 'service_name = "scorer"' in out
    assert json.loads((home / "probe-bins" / f"{BASELINE_ID}.json").read_text())["baseline_id"] == BASELINE_ID


def test_setup_without_a_baseline_says_how_to_make_one(home: Path) -> None:
    result = runner.invoke(app, ["setup", "gcp", "scorer", "--project", "demo-project", "--region", "europe-west1",
                                 "--model-version", "v9", "--task", "binary"], env=_env(home))
    assert result.exit_code == 2 and "inferwatch baseline create" in result.output
    assert "Traceback" not in result.output
