"""The job reads little (the last hour, plus database sums for longer windows) yet every window a
rule asks about totals exactly what the full series would."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from alerts.series import EvalData
from inferwatch.schema import MetricPoint
from readmodels.alert_inputs import ADDITIVE_METRICS, SERIES_FREE_KINDS, load_data, plan_windows
from shell.alert_job import load_settings
from tests.alerts.builders import DEP, T0, fill_store, runtime


def test_plan_for_the_default_rules(tmp_path: Path) -> None:
    settings = load_settings(runtime(tmp_path))
    assert plan_windows(settings.rules) == (3600, (21600,))


@pytest.mark.parametrize("offset_s", [0, 17, 59])
def test_windows_total_exactly_what_the_full_series_does(tmp_path: Path, offset_s: int) -> None:
    rng = np.random.default_rng(3)
    rt = runtime(tmp_path)
    store = rt.open_store()
    points = [MetricPoint(DEP.id, m.value, T0 - timedelta(minutes=i), 60, float(rng.integers(0, 1000)))
              for i in range(1, 8 * 60) for m in ADDITIVE_METRICS]
    fill_store(store, points)
    now = T0 + timedelta(seconds=offset_s)
    now_s = int(now.timestamp())
    settings = load_settings(rt)
    lean = load_data(store, settings, now, config=rt.settings, sections=rt.sections)
    full = EvalData.from_records([DEP], points)
    assert len(lean.series) == len(ADDITIVE_METRICS)
    assert sum(s.ts.size for s in lean.series.values()) < len(points) / 4
    for rule in settings.rules:
        if rule.kind in SERIES_FREE_KINDS:  # reads no metric series (quality_below reads its own source)
            continue
        for window in {rule.window_s, rule.short_window_s or rule.window_s}:
            for m in ADDITIVE_METRICS:
                expected = full.get(DEP.id, m).total(now_s - window, now_s)
                assert lean.get(DEP.id, m).total(now_s - window, now_s) == expected, (rule.name, window, m)
