"""The one reader of the probe's window lines (collectors/window_lines.py), on lines the real probe writes:
parsed with every off-contract member named, attributed to the step of their last invocation, latency
percentiles read from the merged histograms, and signals counted over a baseline's bins (exactly with a
bins file and for exact values; sketches to within their bucket width)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from inferwatch_probe import Probe
from inferwatch_probe.sketch import LogSketch, to_runs

from collectors.local_telemetry import TelemetryLineError
from collectors.window_lines import WindowLine, parse_window_line, step_of, window_batch
from drift import Baseline, WindowCounts, build_baseline
from drift.probe_bins import probe_bins_file
from drift.window import merge_all
from inferwatch.schema import Deployment, HistogramPoint, Metric, ModelKey

SEED = 20261201
DEP = Deployment(id="local:local:scorer", provider="local", region="local", name="scorer", service="scorer",
                 model_version="v1")


def probe_lines(tmp_path: Path, rows: dict[str, Any], *, bins: bytes | None = None, calls: int = 1,
                errors: int = 0) -> list[str]:
    """Window lines of a real in-process probe that recorded ``rows`` in ``calls`` invocations."""
    lines: list[str] = []
    bins_path = None
    if bins is not None:
        bins_path = tmp_path / "bins.json"
        bins_path.write_bytes(bins)
    probe = Probe("scorer", "v1", "binary", mode="window", sink=lines.append, env={}, bins=bins_path)
    try:
        for part in np.array_split(np.arange(len(rows["score"])), calls):
            with probe.invocation() as inv:
                inv.record(inputs={k[len("feature:"):]: np.asarray(v)[part] for k, v in rows.items()
                                   if k.startswith("feature:")},
                           scores=np.asarray(rows["score"])[part], classes=np.asarray(rows["class"])[part])
        for _ in range(errors):
            with pytest.raises(ValueError), probe.invocation():
                raise ValueError("bad row")
        probe.flush()
    finally:
        probe.close()
    assert probe.health.unreported() == 0, "the probe reported its own failures"
    return lines


def traffic(n: int, *, shift: float = 0.0, seed: int = SEED) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {"score": np.clip(rng.beta(2, 5, n) + shift, 0, 1), "class": rng.integers(0, 3, n),
            "feature:age": rng.poisson(30, n).astype(float) + shift * 10,
            "feature:income": rng.lognormal(10, 1, n) * (1 + shift),
            "feature:colour": rng.choice(["red", "white", "rose"], n)}


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    ref = traffic(20_000, seed=1)
    return build_baseline(ref, categorical={"class", "feature:colour"}, model_sha256="a" * 64, version="v1")


def lookup(baseline: Baseline, bid: str = "scorer-v1-base") -> Any:
    return lambda key: (bid, baseline) if key.model_version == "v1" else None


def test_a_real_window_line_parses_to_what_the_probe_counted(tmp_path: Path) -> None:
    rows = traffic(300)
    [line] = probe_lines(tmp_path, rows, calls=30, errors=2)
    w = parse_window_line(json.loads(line))
    assert (w.deployment, w.service, w.model_version, w.task, w.platform) == ("scorer", "scorer", "v1", "binary",
                                                                              "local")
    assert dict(w.invocations) == {"ok": 30, "client_error": 0, "timeout": 0, "degraded": 0, "error": 2}
    assert w.rows == 300 and dict(w.error_types) == {"ValueError": 2} and w.cold_starts == 1
    assert w.latency.count == 32 and w.latency.buckets.count == 32 and w.init is not None and w.init.cold
    assert w.model_key == ModelKey("scorer", "v1", None) and w.first_ms <= w.last_ms <= w.end_ms
    kinds = {name: (s.kind, s.type) for name, s in w.signals.items()}
    assert kinds == {"score": ("numeric", "sketch"), "class": ("categorical", "exact"),
                     "feature:age": ("numeric", "exact"), "feature:income": ("numeric", "sketch"),
                     "feature:colour": ("categorical", "exact")}
    assert all(s.count == 300 for s in w.signals.values())


def broken(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    *parents, last = path.split("/")
    target = out
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return out


BREAKS = [("deployment", "../etc", "deployment"), ("service", 7, "service"), ("reason", KeyError, "reason"),
          ("task", "ranking", "task"), ("last_ms", -1, "last_ms"), ("invocations/ok", 1.5, "invocations"),
          ("latency_ms/count", 10**6, "latency_ms.count"), ("latency_ms/runs", [[3, -1]], "latency_ms.runs"),
          ("signals/score/count", 1, "signals.score.count"), ("signals/score/kind", "text", "signals.score.kind"),
          ("signals/feature:age/values", ["a"], "signals.feature:age.values"), ("memory", [], "memory"),
          ("probe/version", KeyError, "probe.version"), ("bins_sha256", "xyz", "bins_sha256"),
          ("error_types", {"ValueError": 1}, "error_types"), ("signals/colour", {}, "signals.colour")]


@pytest.mark.parametrize(("path", "value", "field"), BREAKS, ids=[b[0] for b in BREAKS])
def test_an_off_contract_member_is_named(tmp_path: Path, path: str, value: Any, field: str) -> None:
    doc = json.loads(probe_lines(tmp_path, traffic(100), calls=10, errors=2)[0])
    with pytest.raises(TelemetryLineError) as info:
        parse_window_line(broken(doc, path, value))
    assert info.value.field == field and field in str(info.value)


def test_every_problem_of_a_line_is_listed(tmp_path: Path) -> None:
    doc = json.loads(probe_lines(tmp_path, traffic(100), calls=10)[0])
    doc = broken(broken(broken(doc, "role", "boss"), "rows", -3), "memory/max_used_mb", "a lot")
    with pytest.raises(TelemetryLineError) as info:
        parse_window_line(doc)
    assert [f for f, _ in info.value.problems] == ["role", "rows", "memory.max_used_mb"]
    assert "and 2 more: rows, memory.max_used_mb" in str(info.value)
    with pytest.raises(TelemetryLineError, match="not a window line"):
        parse_window_line({"schema": "inferwatch.window/2", "kind": "window"})


def _moved(line: WindowLine, doc: dict[str, Any], first_ms: int, last_ms: int) -> WindowLine:
    return parse_window_line(doc | {"start_ms": first_ms - 5, "first_ms": first_ms, "last_ms": last_ms,
                                    "end_ms": last_ms + 2})


def test_a_window_is_attributed_to_the_step_holding_its_last_invocation(tmp_path: Path) -> None:
    doc = json.loads(probe_lines(tmp_path, traffic(50), calls=5)[0])
    t0 = int(datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)
    spanning = _moved(parse_window_line(doc), doc, t0 + 50_000, t0 + 70_000)  # 12:00:50 .. 12:01:10
    assert step_of(spanning, 60) * 1000 == t0 + 60_000
    warnings: list[str] = []
    points, _ = window_batch([spanning], deployment_of=lambda w: DEP, step_s=60, baselines=None, probe_bins=None,
                             warnings=warnings)
    invocations = {p.start: p.value for p in points if p.metric == Metric.INVOCATIONS}
    assert invocations == {datetime(2026, 12, 1, 12, 1, tzinfo=UTC): 5.0} and warnings == []


def _latency_line(doc: dict[str, Any], instance: str, latencies: np.ndarray) -> WindowLine:
    """``doc`` holding ``latencies``, written by the probe's own sketch code (scale 8)."""
    sketch = LogSketch(8)
    sketch.add(latencies)
    member = {"scale": 8, "count": latencies.size, "sum": float(latencies.sum()), "min": float(latencies.min()),
              "max": float(latencies.max()), "zero": sketch.zero, "runs": to_runs(sketch.pos)}
    return parse_window_line(doc | {"instance_id": instance, "latency_ms": member, "error_types": {},
                                    "invocations": {"ok": int(latencies.size), "client_error": 0, "timeout": 0,
                                                    "degraded": 0, "error": 0}})


def test_latency_percentiles_come_from_every_instances_histogram_merged(tmp_path: Path) -> None:
    doc = json.loads(probe_lines(tmp_path, traffic(10), calls=1)[0])
    rng = np.random.default_rng(SEED)
    fast, slow = rng.lognormal(1.0, 0.5, 4_000), rng.lognormal(3.0, 0.3, 1_000)
    lines = [_latency_line(doc, "a-1", fast), _latency_line(doc, "b-2", slow)]
    points, _ = window_batch(lines, deployment_of=lambda w: DEP, step_s=60, baselines=None, probe_bins=None,
                             warnings=[])
    got = {p.metric: p.value for p in points}
    both = np.concatenate([fast, slow])
    for metric, q in ((Metric.LATENCY_P50, 50), (Metric.LATENCY_P95, 95), (Metric.LATENCY_P99, 99)):
        assert got[metric] == pytest.approx(np.percentile(both, q), rel=0.045), metric
    assert got[Metric.LATENCY_AVG] == pytest.approx(both.mean()) and got[Metric.LATENCY_MAX] == both.max()
    assert got[Metric.INVOCATIONS] == 5_000 and got[Metric.INSTANCES_ACTIVE] == 2
    assert got[Metric.CONCURRENCY_MAX] == 2  # each instance's peak (1), added


def _histograms(points: list[HistogramPoint]) -> dict[str, WindowCounts]:
    by_signal: dict[str, list[WindowCounts]] = {}
    for h in points:
        by_signal.setdefault(h.signal, []).append(WindowCounts.from_dict(h.counts))
    return {name: merge_all(ws) for name, ws in by_signal.items()}


def test_signals_without_a_bins_file_land_on_the_baselines_bins(tmp_path: Path, baseline: Baseline) -> None:
    rows = traffic(3_000, seed=7)
    lines = [parse_window_line(json.loads(x)) for x in probe_lines(tmp_path, rows, calls=30)]
    warnings: list[str] = []
    _, points = window_batch(lines, deployment_of=lambda w: DEP, step_s=60, baselines=lookup(baseline),
                             probe_bins=None, warnings=warnings)
    got = _histograms(points)
    assert warnings == [] and set(got) == set(rows)
    for name in ("class", "feature:age", "feature:colour"):  # exact values: exactly what raw binning gives
        raw = WindowCounts.from_values(baseline.column(name), rows[name])
        assert got[name].counts.tolist() == raw.counts.tolist(), name
    for name in ("score", "feature:income"):  # sketches: only values within 1.1 % of an edge may move a bin
        column = baseline.column(name)
        raw = WindowCounts.from_values(column, rows[name])
        assert got[name].total_count == raw.total_count
        cum_gap = np.abs(np.cumsum(got[name].counts)[:-1] - np.cumsum(raw.counts)[:-1])
        values = np.asarray(rows[name])
        near = np.array([np.count_nonzero(np.abs(values - e) <= abs(e) * (2 ** (1 / 64) - 1)) for e in column.edges])
        assert np.all(cum_gap <= near), name


def test_signals_counted_over_a_bins_file_map_back_exactly(tmp_path: Path, baseline: Baseline) -> None:
    content = probe_bins_file("scorer-v1-base", baseline)
    rows = traffic(2_000, seed=8)
    lines = [parse_window_line(json.loads(x)) for x in probe_lines(tmp_path, rows, bins=content, calls=20)]
    assert {s.type for s in lines[0].signals.values()} == {"bins"}
    files = {lines[0].bins_sha256: {"baseline_id": "scorer-v1-base", "content": content}}
    warnings: list[str] = []
    _, points = window_batch(lines, deployment_of=lambda w: DEP, step_s=60, baselines=lookup(baseline),
                             probe_bins=files.get, warnings=warnings)
    got = _histograms(points)
    assert warnings == [] and set(got) == set(rows)
    for name, values in rows.items():
        raw = WindowCounts.from_values(baseline.column(name), values)
        if got[name].layout is None:
            assert got[name].counts.tolist() == raw.counts.tolist(), name
        else:
            assert got[name].counts.tolist() == raw.coarsened(got[name].layout).tolist(), name


def test_a_bins_file_of_another_baseline_is_not_used(tmp_path: Path, baseline: Baseline) -> None:
    content = probe_bins_file("scorer-v1-old", baseline)
    lines = [parse_window_line(json.loads(x)) for x in probe_lines(tmp_path, traffic(500), bins=content)]
    for files, expected in (({}, "which the store does not hold"),
                            ({lines[0].bins_sha256: {"baseline_id": "scorer-v1-old", "content": content}},
                             "exported from baseline scorer-v1-old, but the model's baseline is scorer-v1-base")):
        warnings: list[str] = []
        points, histograms = window_batch(lines, deployment_of=lambda w: DEP, step_s=60,
                                          baselines=lookup(baseline), probe_bins=files.get, warnings=warnings)
        assert histograms == [] and len(warnings) == 1 and expected in warnings[0]
        assert sum(p.value for p in points if p.metric == Metric.INVOCATIONS) == 1  # the metrics still land


def test_lines_of_deployments_not_collected_are_counted_in_one_warning(tmp_path: Path) -> None:
    lines = [parse_window_line(json.loads(x)) for x in probe_lines(tmp_path, traffic(10))]
    warnings: list[str] = []
    points, _ = window_batch(lines * 3, deployment_of=lambda w: None, step_s=60, baselines=None, probe_bins=None,
                             warnings=warnings)
    assert points == [] and warnings == ["3 window lines of deployments not collected here were skipped "
                                         "(deployments: scorer)"]
