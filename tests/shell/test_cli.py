"""The `inferwatch` command: every verb teaches with --help; errors are one clear line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shell.cli import app, markdown_literal

runner = CliRunner()


def all_command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd: object, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in getattr(cmd, "commands", {}).items():  # typer vendors its own click: duck-type
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


def test_every_product_verb_is_there() -> None:
    names = {" ".join(p) for p in all_command_paths()}
    for verb in ("demo", "collect", "status", "config check", "dashboard", "serve", "dlq list", "dlq replay",
                 "baseline create", "drift check", "advise", "report weekly", "alerts run", "alerts outbox",
                 "alerts test"):
        assert verb in names, verb


@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p) or "inferwatch")
def test_help_on_every_verb(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output) > 200


# What Markdown or Rich markup could eat: <placeholders> (read as HTML tags), $VARIABLES, [tables].
_LITERAL = re.compile(r"<[^<>\s]+>|\$[A-Za-z_]\w*|\[[A-Za-z_.]+\]")


def _commands() -> list[tuple[list[str], object]]:
    out: list[tuple[list[str], object]] = []

    def walk(cmd: object, prefix: list[str]) -> None:
        out.append((prefix, cmd))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return out


def _source_texts(cmd: object) -> list[str]:
    """The help texts as written (the tree holds them escaped for Markdown: ``\\<`` for ``<``)."""
    holders = [cmd, *getattr(cmd, "params", [])]
    texts = [getattr(h, "help", None) for h in holders]
    return [str(t).replace("\\<", "<") for t in texts if t]


def test_help_keeps_placeholders_variables_and_brackets_on_every_command() -> None:
    seen: set[str] = set()
    for path, cmd in _commands():
        output = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "300"}).output
        shown = re.sub(r"[\s│]+", " ", output)
        for text in _source_texts(cmd):
            for literal in _LITERAL.findall(text):
                seen.add(literal)
                assert literal in shown, f"`inferwatch {' '.join(path)} --help` lost {literal!r} of {text!r}"
    assert {"<home>", "<name>", "<version>", "$INFERWATCH_CONFIG", "$INFERWATCH_HOME", "[auth]"} <= seen


def test_placeholders_are_escaped_outside_code_spans_only() -> None:
    # inside `code` a backslash would be shown as it is, and Markdown reads no tags there anyway
    assert markdown_literal("to <home>/x, `--out <dir>` or <= 32 KB") == "to \\<home>/x, `--out <dir>` or \\<= 32 KB"


def test_collect_and_status_on_a_fresh_home(home: Path) -> None:
    assert runner.invoke(app, ["collect"]).exit_code == 0
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0
    ids = {d["deployment"] for d in json.loads(result.output)["deployments"]}
    assert ids == {"local:local:scorer-v1", "local:local:scorer-v2", "local:local:reports-v1"}


def test_config_check_reports_the_local_provider(home: Path) -> None:
    result = runner.invoke(app, ["config", "check", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["provider"] == "local"


def test_a_bad_config_names_the_field(home: Path) -> None:
    (home / "inferwatch.toml").write_text('[collect]\nstep_s = 7\n')
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 2
    assert result.output.startswith("inferwatch: inferwatch.toml: collect.step_s: ")
