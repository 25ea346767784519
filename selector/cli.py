"""The ``selector`` command line: argparse in, exit codes out, no decision logic.

Each subcommand lives in ``selector/commands/<name>.py``, a light module whose top level
imports only the standard library; heavy imports (pydantic, aiohttp) happen inside its
``run`` function, so ``selector --help`` stays fast.

Exit codes: 0 ok, 1 a negative answer (no viable protocol, lint findings, a contradicted
verification), 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Protocol

from selector import __version__
from selector.errors import EXIT_BAD_INPUT, EXIT_NEGATIVE, NegativeAnswer, SelectorError

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "recommend",
    "what_if",
    "plan",
    "lint",
    "config",
    "verify",
    "validate",
    "schema",
    "rules",
    "explain",
    "docs",
    "adr",
    "serve",
    "client",
)


class _Command(Protocol):
    NAME: str
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits with 2 already; this keeps the message on one documented format.
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (imports every command module, which are all light)."""
    parser = _Parser(
        prog="selector",
        description=(
            "Choose WebSocket, Server-Sent Events or WebRTC from a workload profile, "
            "explain the choice and plan the connection lifetime."
        ),
        epilog="exit codes: 0 ok, 1 negative answer, 2 bad input or usage",
    )
    parser.add_argument("--version", action="version", version=f"selector {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module: _Command = importlib.import_module(f"selector.commands.{name}")
        command_parser = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command_parser)
        command_parser.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting (``python -m selector`` exits)."""
    # pydantic scans every installed distribution's entry points for plugins the first time a
    # model is built (~15 ms, a tenth of a `validate` run); the CLI uses no pydantic plugins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        code: int = args.handler(args)
    except SelectorError as exc:
        for problem in exc.problems:
            print(problem.format(), file=sys.stderr)
        return EXIT_NEGATIVE if isinstance(exc, NegativeAnswer) else EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``selector rules | head``); nothing left to say.
        sys.stderr.close()
        return 0
    return code
