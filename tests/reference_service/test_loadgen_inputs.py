"""Load generator inputs and settings (no processes): sampling, drift shift, malformed bodies, targets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_service.core import parse_request
from reference_service.emulator import LoadGenError
from reference_service.emulator.inputs import MALFORMED_KINDS, InputSampler, malformed_body
from reference_service.errors import InvalidInputError
from reference_service.loadgen import DriftSpec, LoadProfile, check_target, run_load
from reference_service.model import ModelCard

SAMPLER = InputSampler.from_model_dir("v1")
CARD = ModelCard.load("v1")


@pytest.mark.parametrize(
    "url",
    ["http://example.com/predict", "https://127.0.0.1/predict", "http://10.0.0.1:80/x", "ftp://localhost/",
     "http://127.0.0.1:notaport/"],
)
def test_non_loopback_targets_are_refused(url: str) -> None:
    with pytest.raises(LoadGenError) as info:
        check_target(url)
    assert info.value.field == "target_url"


def test_loopback_targets_are_split() -> None:
    assert check_target("http://127.0.0.1:8123/services/s/predict") == ("127.0.0.1", 8123, "/services/s/predict")
    assert check_target("http://localhost:9/") == ("localhost", 9, "/")


def test_run_load_refuses_remote_targets_before_sending() -> None:
    with pytest.raises(LoadGenError):
        run_load("http://192.0.2.1:80/predict", LoadProfile(duration_s=0.1))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"rate_per_s": 0.0}, "rate_per_s"), ({"duration_s": float("inf")}, "duration_s"),
     ({"rows_min": 3, "rows_max": 2}, "rows_min"), ({"malformed_fraction": 1.5}, "malformed_fraction"),
     ({"max_in_flight": 0}, "max_in_flight"), ({"max_requests": -1}, "max_requests"),
     ({"noise_sd": float("nan")}, "noise_sd"), ({"burst_every_s": 0.0, "burst_size": 2}, "burst_every_s"),
     ({"burst_every_s": 1.0, "burst_size": 0}, "burst_size"),
     ({"burst_every_s": 1.0, "burst_size": 33, "max_in_flight": 32}, "burst_size")],
)
def test_bad_profiles_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(LoadGenError) as info:
        LoadProfile(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_drift_needs_known_features() -> None:
    with pytest.raises(LoadGenError) as info:
        DriftSpec(1.0, (), 2.0)
    assert info.value.field == "drift.features"
    with pytest.raises(LoadGenError, match="unknown features"):
        SAMPLER.feature_index(["no such feature"])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 64), st.floats(0.0, 3.0))
def test_sampled_rows_are_always_valid_requests(seed: int, rows: int, noise_sd: float) -> None:
    rng = np.random.default_rng(seed)
    shift = np.zeros(len(SAMPLER.feature_names))
    shift[SAMPLER.feature_index(["mean radius", "worst area"])] = 5.0 * SAMPLER.std[[0, 23]]
    x = SAMPLER.sample(rng, rows, noise_sd, shift if seed % 2 else None)
    assert x.shape == (rows, 30) and np.isfinite(x).all()
    parsed = parse_request(json.dumps({"instances": x.tolist()}).encode(), CARD, max_rows=256)
    assert parsed.shape == (rows, 30)


def test_drift_shifts_only_the_chosen_features_by_k_sd() -> None:
    index = SAMPLER.feature_index(["mean texture"])
    shift = np.zeros(len(SAMPLER.feature_names))
    shift[index] = 1.0 * SAMPLER.std[index]
    before = SAMPLER.sample(np.random.default_rng(7), 4000, 0.1, None)
    after = SAMPLER.sample(np.random.default_rng(7), 4000, 0.1, shift)
    moved = (after.mean(axis=0) - before.mean(axis=0)) / SAMPLER.std
    assert moved[index[0]] == pytest.approx(1.0, abs=0.05)  # a 1 sd shift stays almost entirely in range
    others = np.delete(moved, index)
    assert np.abs(others).max() == 0.0  # same draws: nothing else moved


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_every_malformed_kind_is_refused_by_the_service_core(kind: str) -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        row = SAMPLER.sample(rng, 1, 0.1)[0]
        body = malformed_body(kind, row, SAMPLER, rng)
        with pytest.raises(InvalidInputError) as info:
            parse_request(body, CARD, max_rows=256)
        assert info.value.fields and all(p.field for p in info.value.fields)


def test_unknown_malformed_kind_is_an_error() -> None:
    with pytest.raises(LoadGenError):
        malformed_body("gibberish", SAMPLER.inputs[0], SAMPLER, np.random.default_rng(0))
