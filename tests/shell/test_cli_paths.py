"""An unusable --home, INFERWATCH_HOME, --config or --out is one line naming the path and the problem,
exit code 2, no traceback, on every verb: the command's own ``main()`` (every verb, in this process,
which is quick) and the installed `inferwatch` in a subprocess (the cases the issue reported)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from shell.cli import main
from tests.shell.test_cli import all_command_paths

INFERWATCH = str(Path(sys.executable).parent / "inferwatch")
# Every verb that reads the home or the config; `alerts test FILE` reads only its FILE (tested below).
VERBS = [p for p in all_command_paths() if p and not any(q[:len(p)] == p and q != p for q in all_command_paths())
         and p != ["alerts", "test"]]
# Arguments a verb needs before it reads anything (`labels ingest FILE`, `telemetry validate FILE` and
# `profile --model M --data D` read the config first, then their files; `setup aws|gcp` need the deployment).
ARGUMENTS = {("labels", "ingest"): ["labels.csv"], ("telemetry", "validate"): ["telemetry.jsonl"],
             ("profile",): ["--model", "model.onnx", "--data", "data.csv"],
             ("setup", "aws"): ["scorer", "--region", "eu-west-1", "--model-version", "v1", "--task", "binary"],
             ("setup", "gcp"): ["scorer", "--project", "p", "--region", "europe-west1", "--model-version", "v1",
                                "--task", "binary"]}


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("INFERWATCH_")}
    # long-running verbs (demo, dashboard, serve) would still be running at the timeout if they started
    return subprocess.run([INFERWATCH, *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True,
                          text=True, timeout=60, check=False)


def assert_one_line(out: subprocess.CompletedProcess[str], expected: str) -> None:
    assert "Traceback" not in out.stderr and "─" not in out.stderr, out.stderr
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert out.stderr.splitlines() == [f"inferwatch: {expected}"]


def _file(tmp: Path) -> Path:
    (tmp / "a-file").write_text("x")
    return tmp / "a-file"


def _not_utf8(tmp: Path) -> Path:
    (tmp / "latin1.toml").write_bytes(b"# caf\xe9\n[slo]\np99_ms = 200\n")
    return tmp / "latin1.toml"


# (name, how to break it: tmp -> (global options, environment, the line expected))
CASES: dict[str, Callable[[Path], tuple[list[str], dict[str, str], str]]] = {
    "--home is a device": lambda t: (["--home", "/dev/null"], {}, "--home /dev/null: not a folder"),
    "INFERWATCH_HOME under a file": lambda t: ([], {"INFERWATCH_HOME": f"{_file(t)}/home"},
                                               f"INFERWATCH_HOME {t}/a-file/home: cannot be made: "
                                               f"{t}/a-file is not a folder"),
    "--config is a folder": lambda t: (["--config", str(t)], {}, f"{t}: cannot be read: it is a folder, not a file"),
    "INFERWATCH_CONFIG is not UTF-8": lambda t: ([], {"INFERWATCH_CONFIG": str(_not_utf8(t))},
                                                 f"{t}/latin1.toml: not UTF-8: byte 0xe9 at offset 5 cannot be "
                                                 "decoded (save the file as UTF-8)"),
    "--config under a file": lambda t: (["--config", f"{_file(t)}/x.toml"], {},
                                        f"{t}/a-file/x.toml: cannot be read: Not a directory"),
}


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
@pytest.mark.parametrize("case", list(CASES))
def test_every_verb_names_an_unusable_home_or_config_in_one_line(
        verb: list[str], case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    options, env, expected = CASES[case](tmp_path)
    for name in [n for n in os.environ if n.startswith("INFERWATCH_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["inferwatch", *options, *verb, *ARGUMENTS.get(tuple(verb), [])])
    with pytest.raises(SystemExit) as exit_:
        main()
    captured = capsys.readouterr()
    assert_one_line(subprocess.CompletedProcess([], exit_.value.code, captured.out, captured.err), expected)


def test_an_unusable_home_is_one_line_from_the_installed_command(tmp_path: Path) -> None:
    assert_one_line(run(["--home", "/dev/null", "status"], tmp_path), "--home /dev/null: not a folder")


def test_a_home_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    # pid 1's root is out of reach unless one may trace pid 1 (not in CI, not in a container)
    assert not os.access("/proc/1/root", os.R_OK | os.X_OK), "this machine lets the tests read /proc/1/root"
    assert_one_line(run(["--home", "/proc/1/root", "status"], tmp_path), "--home /proc/1/root: permission denied")


@pytest.mark.parametrize(("out", "expected"), [
    ("/dev/null", "--out /dev/null: not a folder"),
    ("{tmp}/a-file/reports", "--out {tmp}/a-file/reports: cannot be made: {tmp}/a-file is not a folder"),
    ("{tmp}/taken", "--out {tmp}/taken/inferwatch-cost-2026-W47.md: is a directory"),
])
def test_report_weekly_names_an_unusable_out_folder_in_one_line(out: str, expected: str, tmp_path: Path) -> None:
    _file(tmp_path)
    (tmp_path / "taken" / "inferwatch-cost-2026-W47.md").mkdir(parents=True)  # a folder where a file goes
    args = ["--home", str(tmp_path / "home"), "report", "weekly", "--week", "2026-W47",
            "--out", out.format(tmp=tmp_path)]
    assert_one_line(run(args, tmp_path), expected.format(tmp=tmp_path))


def test_report_weekly_still_writes_into_a_usable_folder(tmp_path: Path) -> None:
    out = run(["--home", str(tmp_path / "home"), "report", "weekly", "--week", "2026-W47", "--out",
               str(tmp_path / "new" / "reports")], tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "new" / "reports" / "inferwatch-cost-2026-W47.html").is_file()


@pytest.mark.parametrize("make", [lambda t: t, _not_utf8], ids=["a folder", "not UTF-8"])
def test_alerts_test_names_an_unreadable_file_in_one_line(make: Callable[[Path], Path], tmp_path: Path) -> None:
    path = make(tmp_path)
    out = run(["alerts", "test", str(path)], tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.splitlines()) == 1 and out.stderr.startswith(f"inferwatch: {path}: ")
