"""The alert job's inputs for quality rules, from a real store: the demo model's realised accuracy
from ingested labels falls under its baseline's and the default rule fires for that deployment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alerts.evaluate import evaluate
from inferwatch.schema import AlertStatus
from readmodels.alert_inputs import load_data
from readmodels.labels import LabelInput, ingest_labels
from shell.alert_job import load_settings
from tests.alerts.builders import runtime
from tests.readmodels.quality_data import DEP, collect, serve

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_realised_quality_under_the_baseline_fires_the_default_rule(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    store = rt.open_store()
    served = serve(NOW, minutes=30, per_minute=20, shift_after_min=0, shift_sd=3.0)
    collect(store, tmp_path, served, NOW)
    items = [LabelInput(line=i, label=s.truth[0], request_id=s.request_id) for i, s in enumerate(served)]
    assert ingest_labels(store, items, now=NOW, source="l.csv", step_s=60).stored_count == len(served)
    settings = load_settings(rt)
    data = load_data(store, settings, NOW, config=rt.settings, sections=rt.sections)
    assert data.quality is not None and set(data.quality) == {3600, 86400}
    daily = data.quality[86400][DEP.id]
    assert daily.realised["accuracy"].value < 0.85 and daily.baseline["accuracy"] > 0.97
    assert data.quality[3600][DEP.id].estimated["accuracy"].high is not None
    states = evaluate(settings.rules, data, {}, NOW).states
    firing = {(s.rule, s.entity) for s in states.values() if s.state is AlertStatus.FIRING}
    assert ("RealisedQualityBelowBaseline", DEP.id) in firing
