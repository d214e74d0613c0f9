"""Three models that are not the demo's (tests/own_models.py: a multiclass classifier with string inputs, a
regressor, a binary classifier) monitored end to end, as a team would:

- in the emulator: `inferwatch demo --model --data` for the three at once, twice side by side, once with
  unshifted traffic and once with every row shifted by the drift switch;
- in their own handlers: the probe around a Lambda handler (unshifted rows) and around a WSGI app served
  over HTTP (shifted rows), after `inferwatch baseline create --model --data`;

then `collect`, `status`, `drift check` (quiet on unshifted traffic, drift when shifted), `advise`,
`report weekly`, `alerts run` and every dashboard page. The runs are stopped right after one whole
collection step of traffic (60 s) so the checked window holds nothing but that traffic.
"""

from __future__ import annotations

import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from reference_service.emulator.table_inputs import TableSampler
from shell.cli import app
from tests.homes import use_home
from tests.own_models import OwnModel
from tests.shell.own_handlers import LambdaContext, lambda_handler, post, probe_for, served, wsgi_app

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = ROOT / "dashboard" / "pages"
INFERWATCH = str(Path(sys.executable).parent / "inferwatch")
SHIFTED = {"wine": "feature:alcohol", "diabetes": "feature:age", "churn": "feature:tenure"}  # the switch's choice
REQUESTS, ROWS = 150, 10  # per handler deployment: 1,500 rows


@dataclass(frozen=True)
class Homes:
    quiet: Path  # the demo with unshifted traffic
    shifted: Path  # the demo with every row shifted
    handlers: Path  # the team's own handlers
    step_end: int  # epoch s: the evaluated demo step is [step_end - 60, step_end)
    handlers_end: int  # epoch s: the handlers' traffic is in the 5 minutes before it
    outputs: dict[str, str]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("INFERWATCH_STORE_URL", "INFERWATCH_CONFIG")}
    env["INFERWATCH_HOME"] = str(home)
    return env


def _demo(home: Path, models: dict[str, OwnModel], drift_after: float
          ) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    args = [INFERWATCH, "demo", "--no-dashboard", "--duration", "600", "--rate", "4", "--drift-after",
            str(drift_after)]
    for m in models.values():
        args += ["--model", str(m.model), "--data", str(m.data), "--label-column", m.label]
    proc = subprocess.Popen(args, cwd=home, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    def pump() -> None:
        try:
            for line in stdout:
                lines.put(line)
        except ValueError:  # closed by the test once the demo has stopped
            pass

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def _wait_for(lines: queue.Queue[str], text: str, seen: list[str], timeout_s: float = 240) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return time.time()
    raise AssertionError(f"no {text!r} within {timeout_s} s:\n{''.join(seen)}")


def _cli(home: Path, *args: str, config: Path | None = None) -> tuple[int, str]:
    config = config or home / "inferwatch.toml"
    result = CliRunner().invoke(app, ["--home", str(home), "--config", str(config), *args], env=_env(home))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _handlers_config(home: Path, models: dict[str, OwnModel]) -> None:
    lines = []
    for m in models.values():
        for kind in ("lambda", "cloudrun"):
            lines += ["[[deployments]]", 'provider = "local"', f'name = "{m.name}-{kind}"', f'service = "{m.name}"',
                      'model_version = "1"', f"model_path = {json.dumps(str(m.model))}", f'task = "{m.task}"', ""]
    (home / "inferwatch.toml").write_text("\n".join(lines))


def _rows(m: OwnModel, shifted: bool, n: int, seed: int) -> list[list[dict[str, object]]]:
    """Requests of rows of the model's reference data, shifted as the demo's drift switch shifts them."""
    import numpy as np

    frame = pd.read_csv(m.data)
    names = (*m.numeric, *m.strings)
    sampler = TableSampler(names, tuple(frame[c].to_numpy(object if c in m.strings else np.float64) for c in names))
    shift = sampler.shift_for([SHIFTED[m.name].removeprefix("feature:")], 1.0) if shifted else None
    rng = np.random.default_rng(seed)
    return [[dict(zip(names, row, strict=True)) for row in sampler.sample(rng, ROWS, 0.0, shift).tolist()]
            for _ in range(n)]


def _handler_traffic(home: Path, models: dict[str, OwnModel]) -> None:
    """Each model behind a Lambda handler (unshifted rows) and a WSGI app over HTTP (shifted rows)."""
    for m in models.values():
        probe, session = probe_for(m, f"{m.name}-lambda", home / "telemetry")
        handler = lambda_handler(m, probe, session)
        for i, rows in enumerate(_rows(m, False, REQUESTS, 1)):
            answer = handler({"body": json.dumps({"rows": rows})}, LambdaContext(f"l-{i}"))
            assert answer["statusCode"] == 200
        assert handler({"body": json.dumps({"rows": []})}, LambdaContext("bad"))["statusCode"] == 400
        probe.close()
        probe, session = probe_for(m, f"{m.name}-cloudrun", home / "telemetry")
        with served(wsgi_app(m, probe, session)) as url:
            assert all(post(url, rows) == 200 for rows in _rows(m, True, REQUESTS, 2))
        probe.close()


@pytest.fixture(scope="module")
def homes(own_models: dict[str, OwnModel], tmp_path_factory: pytest.TempPathFactory) -> Homes:
    quiet, shifted, handlers = (tmp_path_factory.mktemp(n) for n in ("quiet", "shifted", "handlers"))
    runs = {"quiet": _demo(quiet, own_models, 86_400), "shifted": _demo(shifted, own_models, 0)}
    _handlers_config(handlers, own_models)
    for m in own_models.values():
        code, out = _cli(handlers, "baseline", "create", "--model", str(m.model), "--data", str(m.data), "--service",
                         m.name, "--model-version", "1", "--label-column", m.label, "--bins-out",
                         str(handlers / f"{m.name}.bins.json"))
        assert code == 0, out
    _handler_traffic(handlers, own_models)
    handlers_end = math.ceil(time.time() / 60) * 60
    seen: dict[str, list[str]] = {name: [] for name in runs}
    up = max(_wait_for(lines, "emulator up", seen[name]) for name, (_, lines) in runs.items())
    step_end = math.ceil((up + 10) / 60) * 60 + 60  # the first whole step after every service has traffic
    time.sleep(max(0.0, step_end + 2 - time.time()))
    for proc, _ in runs.values():
        os.killpg(proc.pid, signal.SIGTERM)  # the demo stops as on Ctrl-C: everything it started, reaped
    for name, (proc, lines) in runs.items():
        assert proc.wait(timeout=120) == 0, "".join(seen[name])
        _wait_for(lines, "demo stopped", seen[name], timeout_s=10)
        assert proc.stdout is not None
        proc.stdout.close()
    time.sleep(max(0.0, max(step_end, handlers_end) + 32 - time.time()))  # steps stay open 30 s
    for home in (quiet, shifted):
        code, out = _cli(home, "collect", config=home / "own-models.toml")
        assert code == 0, out
    code, out = _cli(handlers, "collect")
    assert code == 0, out
    return Homes(quiet, shifted, handlers, step_end, handlers_end, {k: "".join(v) for k, v in seen.items()})


def _drift(home: Path, at: str, window_s: int, config: Path) -> tuple[int, dict[str, dict[str, object]]]:
    code, out = _cli(home, "drift", "check", "--json", "--at", str(at), "--window-s", str(window_s), "--windows", "1",
                     config=config)
    assert code in (0, 1), out
    report = json.loads(out)
    return code, {d["deployment"]: d for d in report["deployments"]}


def _drifted(entry: dict[str, object]) -> set[str]:
    return {r["signal"] for r in entry["results"] if r["status"] == "drift"}  # type: ignore[attr-defined, index]


def test_the_demo_runs_each_model_and_status_shows_it(homes: Homes) -> None:
    for home in (homes.quiet, homes.shifted):
        code, out = _cli(home, "status", config=home / "own-models.toml")
        assert code == 0, out
        for name in ("wine", "diabetes", "churn"):
            line = next(row for row in out.splitlines() if row.startswith(f"local:local:{name} "))
            assert int(line.split()[1]) > 100, line  # invocations
    assert "inference failed" not in homes.outputs["quiet"]


def test_drift_check_is_quiet_on_unshifted_traffic_and_finds_the_shift(homes: Homes) -> None:
    at = datetime_text(homes.step_end)
    code, quiet = _drift(homes.quiet, at, 60, homes.quiet / "own-models.toml")
    assert code == 0, quiet
    assert set(quiet) == {f"local:local:{n}" for n in SHIFTED}
    assert all(not _drifted(d) for d in quiet.values()), {k: _drifted(d) for k, d in quiet.items()}
    code, shifted = _drift(homes.shifted, at, 60, homes.shifted / "own-models.toml")
    assert code == 1
    for name, signal_ in SHIFTED.items():
        entry = shifted[f"local:local:{name}"]
        assert entry["status"] == "drift" and signal_ in _drifted(entry), entry
        found = next(r for r in entry["results"] if r["signal"] == signal_ and r["check"] == "distribution")  # type: ignore[attr-defined]
        assert found["n_current"] > 500, found  # a whole minute of traffic


def test_the_probe_in_your_own_handlers_is_monitored_the_same_way(homes: Homes) -> None:
    code, out = _cli(homes.handlers, "status")
    assert code == 0 and "local:local:wine-lambda" in out and "local:local:churn-cloudrun" in out, out
    code, report = _drift(homes.handlers, datetime_text(homes.handlers_end), 600, homes.handlers / "inferwatch.toml")
    assert code == 1
    for name, signal_ in SHIFTED.items():
        assert not _drifted(report[f"local:local:{name}-lambda"]), report[f"local:local:{name}-lambda"]
        assert signal_ in _drifted(report[f"local:local:{name}-cloudrun"])


def test_costs_advice_and_alerts_work_unchanged(homes: Homes, tmp_path: Path) -> None:
    config = homes.shifted / "own-models.toml"
    code, out = _cli(homes.shifted, "advise", config=config)
    assert code == 0 and "Traceback" not in out, out
    code, out = _cli(homes.shifted, "report", "weekly", "--out", str(tmp_path / "report"), config=config)
    assert code == 0, out
    code, out = _cli(homes.shifted, "alerts", "run", config=config)
    assert code in (0, 1) and "Traceback" not in out, out


@pytest.mark.parametrize("page", sorted(p.name for p in PAGES.glob("*.py")))
def test_every_dashboard_page_renders_your_models(homes: Homes, page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    use_home(homes.shifted, monkeypatch)
    monkeypatch.setenv("INFERWATCH_CONFIG", str(homes.shifted / "own-models.toml"))
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(str(PAGES / page)).run()
    assert not at.exception, at.exception



def datetime_text(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat()
