"""Prediction-score histograms from a Cloud Monitoring DISTRIBUTION metric whose explicit bucket
bounds are the baseline's cloud bounds, read through the real client and stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from google.cloud import monitoring_v3

from collectors.gcp_monitoring import PREDICTION_METRIC
from drift.baseline import Baseline, NumericColumn, build_baseline
from drift.cloud import bin_edges_for_cloud
from drift.window import WindowCounts
from inferwatch.schema import Metric as M
from inferwatch.schema import ModelKey
from tests.collectors.gcp_standin import (
    NOW,
    PROJECT,
    REV_A,
    REV_B,
    SERVICE,
    STEP,
    GcpStandIn,
    at,
    distribution_series,
    make_collector,
    running,
    seed,
)

A = monitoring_v3.Aggregation.Aligner
R = monitoring_v3.Aggregation.Reducer
KEY = (PREDICTION_METRIC, A.ALIGN_DELTA, R.REDUCE_SUM, ("metric.labels.revision_name", "metric.labels.model_version"))
DEP_A = f"gcp:europe-west1:scorer:{REV_A}"


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    rng = np.random.default_rng(7)
    return build_baseline({"score": rng.beta(2.0, 5.0, 20_000)}, categorical=(), model_sha256="0" * 64,
                          version="v1")


@pytest.fixture
def standin() -> Iterator[GcpStandIn]:
    with running(GcpStandIn()) as s:
        seed(s)
        yield s


def gcp_bucket_counts(values: np.ndarray, bounds: tuple[float, ...]) -> list[int]:
    """What Cloud Monitoring stores: bucket 0 = (-inf, b0), bucket i = [b(i-1), b(i)), last = [b(n-1), inf)."""
    index = np.searchsorted(np.asarray(bounds), values, side="right")
    return [int(c) for c in np.bincount(index, minlength=len(bounds) + 1)]


def seed_predictions(standin: GcpStandIn, revision: str, version: str, values: np.ndarray,
                     bounds: tuple[float, ...]) -> None:
    labels = {"service_name": SERVICE, "revision_name": revision, "model_version": version}
    standin.add_series(KEY, distribution_series(
        PREDICTION_METRIC, {"project_id": PROJECT, "location": "europe-west1", "namespace": "inferwatch",
                            "job": SERVICE, "task_id": revision}, [(at(2), values.size, float(values.mean()),
                                                                    gcp_bucket_counts(values, bounds))],
        bounds=bounds, metric_labels=labels, resource_type="generic_task"))


def lookup(baseline: Baseline) -> Any:
    def find(key: ModelKey) -> tuple[str, Baseline] | None:
        return ("baseline-v1", baseline) if key.model_version == "v1" else None

    return find


def test_histogram_lands_on_the_baseline_bins(standin: GcpStandIn, baseline: Baseline) -> None:
    column = baseline.column("score")
    assert isinstance(column, NumericColumn)
    cloud = bin_edges_for_cloud(column)
    current = np.random.default_rng(11).beta(2.5, 5.0, 3000)
    seed_predictions(standin, REV_A, "v1", current, cloud.gcp_bounds)
    batch = make_collector(standin, baselines=lookup(baseline)).collect(NOW, None)
    (hist,) = batch.histograms
    assert (hist.deployment, hist.signal, hist.start, hist.step_s, hist.baseline_id) == (
        DEP_A, "score", at(2), STEP, "baseline-v1")
    window = WindowCounts.from_dict(hist.counts)
    # the cloud's left-closed buckets equal the baseline's right-closed bins, value for value
    exact = WindowCounts.from_values(column, current)
    assert window.counts.tolist() == exact.coarsened(np.asarray(cloud.layout)).tolist()
    assert window.total_count == 3000
    rows = {(p.deployment, p.metric): p.value for p in batch.points if p.metric == M.ROWS}
    assert rows == {(DEP_A, M.ROWS): 3000.0, ("gcp:europe-west1:scorer", M.ROWS): 3000.0}
    assert batch.warnings == ()


def test_missing_baseline_or_foreign_bounds_are_reported_not_guessed(standin: GcpStandIn,
                                                                     baseline: Baseline) -> None:
    values = np.random.default_rng(3).uniform(0, 1, 500)
    seed_predictions(standin, REV_A, "v1", values, (0.25, 0.5, 0.75))
    seed_predictions(standin, REV_B, "v9", values, (0.25, 0.5, 0.75))
    batch = make_collector(standin, baselines=lookup(baseline)).collect(NOW, None)
    assert batch.histograms == ()
    assert any("no baseline for model version 'v9'" in w for w in batch.warnings)
    assert any("not the gcp_bounds of baseline baseline-v1" in w for w in batch.warnings)
    rows = {p.deployment: p.value for p in batch.points if p.metric == M.ROWS}
    assert rows["gcp:europe-west1:scorer"] == 1000.0  # rows are counted either way
