"""The local demo gives advice of every kind within minutes: a real `inferwatch demo` (emulated
functions, bursts of traffic, collection into its store), then the advice `inferwatch advise` prints and
the Costs page shows, read through the one function both use."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from costs.advice import AdviceResult
from costs.catalogue import load_catalogue
from readmodels.costs import advice_end, load_advice
from shell.runtime import Runtime
from tests.dashboard.conftest import clean_env, inferwatch_bin
from tests.homes import use_home

# Two complete 1-minute steps after the traffic starts, whatever the second the demo starts at: the
# least advice is given on (AdvicePolicy.min_observed_s).
DEMO_SECONDS = 140
PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "costs.py")
REPORTS, SCORER_V1 = "local:local:reports-v1", "local:local:scorer-v1"


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("advice-demo")
    proc = subprocess.run([inferwatch_bin(), "demo", "--duration", str(DEMO_SECONDS), "--no-dashboard"],
                          check=False, env=clean_env(home), cwd=home, capture_output=True, text=True,
                          timeout=DEMO_SECONDS + 120)
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout}\n{proc.stderr}"
    return home


def _advice(home: Path) -> AdviceResult:
    rt = Runtime.from_env({"INFERWATCH_HOME": str(home)})
    store = rt.open_store()
    try:
        end = advice_end(datetime.now(UTC), rt.settings.collect.step_s)
        return load_advice(store, end - timedelta(days=7), end, load_catalogue(), step_s=rt.settings.collect.step_s)
    finally:
        store.dispose()


@pytest.mark.slow
def test_a_fresh_demo_has_advice_of_every_kind_with_evidence_and_dollars(demo_home: Path) -> None:
    result = _advice(demo_home)
    assert result.reason is None, result.explanation
    found = {(a.deployment, a.kind, a.action): a for a in result.advice}
    reduce = found[(REPORTS, "warm_capacity", "reduce")]  # three warm instances it hardly uses
    assert reduce.current == "3 provisioned" and reduce.monthly_saving_usd > 1.0
    spill = found[(SCORER_V1, "warm_capacity", "raise")]  # the bursts spill over its one warm instance
    assert spill.current == "1 provisioned" and {e.name: e.value for e in spill.evidence}[
        "spillover invocations"] > 0
    memory = [a for a in result.advice if a.kind == "memory"]
    assert {a.deployment for a in memory} >= {REPORTS, SCORER_V1} and all(a.proposed == "128 MB" for a in memory)
    assert any(a.kind == "architecture" and a.proposed == "arm64" for a in result.advice)
    for a in result.advice:
        assert a.evidence and a.confidence == "low"  # minutes of data
        assert a.action == "info" or a.monthly_saving_usd != 0


@pytest.mark.slow
def test_inferwatch_advise_prints_the_same_advice(demo_home: Path) -> None:
    out = subprocess.run([inferwatch_bin(), "advise", "--json"], env=clean_env(demo_home), cwd=demo_home,
                         capture_output=True, text=True, check=True, timeout=60)
    printed = {(a["deployment"], a["kind"], a["action"]) for a in json.loads(out.stdout)}
    assert printed == {(a.deployment, a.kind, a.action) for a in _advice(demo_home).advice}
    table = subprocess.run([inferwatch_bin(), "advise"], env={**clean_env(demo_home), "COLUMNS": "250"},
                           cwd=demo_home, capture_output=True, text=True, check=True, timeout=60).stdout
    assert "Inferwatch advice" in table and "spillover invocations" in table and "reduce it to" in table


@pytest.mark.slow
def test_the_costs_page_shows_it(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_home(demo_home, monkeypatch)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    labels = [e.label for e in at.expander]
    assert {label.split(" — ", 1)[0] for label in labels} == {a.deployment for a in _advice(demo_home).advice}
    for deployment, says in ((REPORTS, "reduce it to"), (SCORER_V1, "raise it to"), (REPORTS, "128 MB keeps"),
                             (REPORTS, "arm64 is 20% cheaper")):
        assert any(label.startswith(f"{deployment} — ") and says in label for label in labels), (says, labels)
    assert any("reduce it to" in label and "saves $" in label for label in labels)
    evidence = [df.value for df in at.dataframe if list(df.value.columns) == ["evidence", "value", "unit"]]
    assert len(evidence) == len(labels) and all(len(frame) > 0 for frame in evidence)
    assert not [i.value for i in at.info if "No advice" in i.value]
