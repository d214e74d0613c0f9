"""The seam between the function and the collectors: what the reference service writes, the local
collector reads back exactly (docs/telemetry.md)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.local_telemetry import parse_emf_line
from tests.collectors.preprobe_lines import InvocationRecord, ShadowOutcome, encode_line

finite = st.floats(0, 1e6, allow_nan=False, allow_infinity=False)
scores = st.lists(st.floats(0, 1, allow_nan=False), max_size=100).map(tuple)
classes = st.lists(st.integers(0, 9), max_size=100).map(tuple)
names = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=20)
shadows = st.none() | st.builds(ShadowOutcome, version=st.sampled_from(["v1", "v2"]),
                                status=st.sampled_from(["ok", "error", "timeout"]), scores=scores, classes=classes,
                                agree=st.none() | st.floats(0, 1), latency_ms=st.none() | finite)
records = st.builds(
    InvocationRecord, timestamp_ms=st.integers(0, 2**45), deployment=names, model_version=names,
    role=st.sampled_from(["stable", "canary", "blue", "green", "shadow"]), request_id=st.uuids().map(str),
    status=st.sampled_from(["ok", "client_error", "timeout", "degraded", "error"]), latency_ms=finite,
    cold_start=st.integers(0, 1), init_ms=finite, memory_mb=st.integers(128, 10240), max_memory_used_mb=finite,
    rows=st.integers(0, 500), scores=scores, classes=classes,
    input_summary=st.none() | st.dictionaries(names, st.lists(st.floats(-1e6, 1e6), max_size=8), max_size=5),
    error_type=st.none() | st.just("ModelLoadError"), shadow=shadows)


@settings(max_examples=200, deadline=None)
@given(records)
def test_emf_lines_parse_back_to_the_values_that_produced_them(r: InvocationRecord) -> None:
    got = parse_emf_line(encode_line(r, max_line_bytes=10**7))
    assert (got.timestamp_ms, got.deployment, got.model_version, got.role, got.request_id, got.status) == (
        r.timestamp_ms, r.deployment, r.model_version, r.role, r.request_id, r.status)
    assert (got.latency_ms, got.cold_start, got.init_ms, got.memory_mb, got.max_memory_used_mb, got.rows) == (
        r.latency_ms, bool(r.cold_start), r.init_ms, r.memory_mb, r.max_memory_used_mb, r.rows)
    assert got.prediction_score == r.scores and got.predicted_class == r.classes
    assert dict(got.input_summary) == {k: tuple(v) for k, v in (r.input_summary or {}).items()}
    assert got.error_type == (r.error_type if r.status != "ok" else None)
    if r.shadow is None:
        assert got.shadow_version is None
    else:
        assert (got.shadow_version, got.shadow_status, got.shadow_score, got.shadow_class) == (
            r.shadow.version, r.shadow.status, r.shadow.scores, r.shadow.classes)
        assert got.shadow_agree == r.shadow.agree and got.shadow_latency_ms == r.shadow.latency_ms
