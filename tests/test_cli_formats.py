"""``--format`` on every command: one enum of formats, one name per format, one renderer per
format a command supports, and ``table`` still accepted for ``text``."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from selector.cli import COMMANDS, build_parser, main
from selector.render.formats import ALIASES, OutputFormat
from tests.conftest import PROFILES
from tests.test_cli import run_cli

CHAT = str(PROFILES / "chat.yaml")

#: Each command with ``--format`` -> where its format -> renderer dict lives.
RENDERERS = {
    "recommend": "selector.commands.recommend:RENDERERS",
    "what-if": "selector.render.whatif:WHATIF_FORMATS",
    "plan": "selector.render.plan:PLAN_FORMATS",
    "lint": "selector.commands.lint:RENDERERS",
    "probe": "selector.commands.probe:RENDERERS",
    "verify": "selector.render.verify:VERIFY_FORMATS",
    "validate": "selector.render.annotations:PROBLEM_LINES",
    "rules": "selector.commands.rules:RENDERERS",
    "explain": "selector.commands.explain:RENDERERS",
}


def _renderers(command: str) -> Mapping[object, object]:
    module, _, name = RENDERERS[command].partition(":")
    found: Mapping[object, object] = getattr(importlib.import_module(module), name)
    return found


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser(only=command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.ArgumentParser = sub.choices[command]
    return found


def _format_action(command: str) -> argparse.Action | None:
    return _subparser(command)._option_string_actions.get("--format")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_commands_with_a_format_are_the_ones_listed_here() -> None:
    # A new command with --format must be added to RENDERERS (and so to the tests below).
    with_format = {c.name for c in COMMANDS if _format_action(c.name) is not None}
    assert with_format == set(RENDERERS)


def test_the_human_format_has_one_name_and_table_is_its_alias() -> None:
    assert [f.value for f in OutputFormat] == ["text", "json", "markdown", "github"]
    assert ALIASES == {"table": OutputFormat.TEXT}


@pytest.mark.parametrize("command", sorted(RENDERERS))
def test_choices_come_from_the_enum_and_each_has_a_renderer(command: str) -> None:
    action = _format_action(command)
    assert action is not None and action.choices is not None
    module_name = next(c.module for c in COMMANDS if c.name == command)
    declared = importlib.import_module(f"selector.commands.{module_name}").FORMATS
    assert all(isinstance(f, OutputFormat) for f in declared)
    assert tuple(action.choices) == tuple(f.value for f in declared)
    assert set(_renderers(command)) == set(declared)
    assert all(isinstance(f, OutputFormat) for f in _renderers(command))
    assert action.default is OutputFormat.TEXT
    assert "'table' is another name for 'text'" in (action.help or "")


@pytest.mark.parametrize("command", sorted(RENDERERS))
def test_every_name_parses_to_the_enum_member(command: str) -> None:
    parser = _subparser(command)
    action = _format_action(command)
    assert action is not None and action.choices is not None and callable(action.type)
    for name in (*action.choices, "table"):
        assert action.type(name) is (ALIASES.get(name) or OutputFormat(name))
    # The default, unparsed, is the member too.
    assert parser.get_default("format") is OutputFormat.TEXT


@pytest.mark.parametrize(
    "argv",
    [
        ["recommend", CHAT],
        ["what-if", CHAT, "--set", "traffic.client_to_server.rate_hz=30"],
        ["plan", CHAT],
        ["rules"],
        ["explain", "udp-blocked"],
        ["lint", CHAT, "--heartbeat", "120", "--proxy-timeout", "0=60"],
    ],
    ids=lambda argv: argv[0],
)
def test_table_text_and_the_default_give_the_same_output(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    default = _run(capsys, *argv)
    assert default[1], "the command printed nothing"
    assert _run(capsys, *argv, "--format", "text") == default
    assert _run(capsys, *argv, "--format", "table") == default


def test_validate_takes_table_for_its_text_lines(
    capsys: pytest.CaptureFixture[str], write_yaml: Callable[[str], Path]
) -> None:
    bad = write_yaml("schema_version: 1\nname: x\nmedia: loud, very\n")
    code, out, _ = _run(capsys, "validate", "--format", "table", str(bad))
    assert code == 2
    assert out.startswith(f"{bad}:3:8: media: Input should be")


def test_the_alias_works_from_the_shell() -> None:
    text = run_cli("plan", "profiles/chat.yaml", "--format", "text")
    table = run_cli("plan", "profiles/chat.yaml", "--format", "table")
    assert text.returncode == table.returncode == 0
    assert table.stdout == text.stdout and text.stdout.startswith("Lifetime plan")


@pytest.mark.parametrize(
    ("argv", "typed", "offered"),
    [
        (["validate", CHAT], "json", "'text', 'github'"),
        (["plan", CHAT], "github", "'text', 'json', 'markdown'"),
        (["explain", "udp-blocked"], "markdown", "'text', 'json'"),
        (["recommend", CHAT], "xml", "'text', 'json', 'markdown'"),
        (["probe", "ws://127.0.0.1:9/ws"], "TEXT", "'text', 'json'"),
    ],
)
def test_a_format_the_command_lacks_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], typed: str, offered: str
) -> None:
    code, out, err = _run(capsys, *argv, "--format", typed)
    assert code == 2 and out == ""
    assert f"argument --format: invalid choice: '{typed}' (choose from {offered})" in err
