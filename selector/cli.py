"""The ``selector`` command line: argparse in, exit codes out, no decision logic.

Each subcommand lives in ``selector/commands/<name>.py``, a light module whose top level
imports only the standard library; heavy imports (pydantic, aiohttp) happen inside its
``run`` function, so ``selector --help`` stays fast.

Exit codes: 0 ok, 1 a negative answer (no viable protocol, lint findings, a contradicted
verification), 2 bad input or usage (an output that cannot be written too), 3 a harness that
could not run here, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import NamedTuple, NoReturn, Protocol, TextIO, cast

from selector import __version__
from selector.errors import (
    DEFAULT_FILE,
    EXIT_BAD_INPUT,
    EXIT_HARNESS,
    EXIT_INTERRUPTED,
    EXIT_NEGATIVE,
    HarnessError,
    NegativeAnswer,
    Problem,
    SelectorError,
    UsageError,
)


class Command(NamedTuple):
    """A subcommand: its name, its module under ``selector.commands``, its one-line help and
    what its exit codes mean (shown by its ``--help``; empty when the module says it)."""

    name: str
    module: str
    help: str
    exits: str = ""


#: The subcommands, in the order ``--help`` lists them. Only the module of the command being
#: run is imported, so ``selector --help`` builds no command's arguments at all.
COMMANDS: tuple[Command, ...] = (
    Command(
        "recommend",
        "recommend",
        "recommend WebSocket, SSE or WebRTC for workload profiles and explain the score",
        "exit codes: 0 a protocol is recommended for every profile, 1 every protocol is "
        "vetoed for some profile, 2 bad input (the good files are still reported)",
    ),
    Command(
        "what-if",
        "what_if",
        "re-evaluate a profile with --set overrides and show what changes",
        "exit codes: 0 a protocol is recommended after the overrides, 1 every protocol is "
        "vetoed after them, 2 bad input or a bad --set",
    ),
    Command(
        "plan",
        "plan",
        "plan the connection lifetime: heartbeat, timeouts on every hop, reconnect policy",
        "exit codes: 0 a plan (planned rotation through a lifetime limit included), 1 the "
        "path's constraints contradict each other or every protocol is vetoed, 2 bad input",
    ),
    Command(
        "lint",
        "lint",
        "check current heartbeat, client and proxy timeouts against the path; exit 1 on findings",
        "exit codes: 0 no findings, 1 findings, 2 bad input or nothing to check",
    ),
    Command(
        "probe",
        "probe",
        "measure the live path's idle timeout to a WebSocket URL and whether it drops silently",
    ),
    Command(
        "loadtest",
        "loadtest",
        "generate (and --run) a k6 script from the profile's plan: rates, idle gaps, heartbeat",
    ),
    Command(
        "config",
        "config",
        "print proxy configuration (nginx, haproxy, envoy, ingress_nginx, aws_alb) from the plan",
        "exit codes: 0 configuration printed (a warning on stderr when the profile has no "
        "such hop), 1 the plan cannot be met, 2 bad input",
    ),
    Command(
        "verify",
        "verify",
        "verify the recommendation with real WS/SSE runs through a proxy that drops idle "
        "connections silently, and real WebRTC peers (loopback only)",
    ),
    Command(
        "validate",
        "validate",
        "validate workload profiles (files or folders of *.yaml / *.yml)",
        "exit codes: 0 every file is valid, 2 some file is invalid or none was found",
    ),
    Command(
        "migrate",
        "migrate",
        "rewrite a version 1 profile as version 2 (only schema_version changes; comments kept)",
        "exit codes: 0 migrated or already current, 2 bad input (nothing is written)",
    ),
    Command(
        "schema",
        "schema",
        "print the JSON Schema of the workload profile",
        "exit codes: 0 printed",
    ),
    Command(
        "rules",
        "rules",
        "list the rules of the matrix (or the facts they use, or the matrix JSON Schema)",
        "exit codes: 0 printed, 2 a bad --matrix overlay",
    ),
    Command(
        "explain",
        "explain",
        "show one rule of the matrix in full: condition, effects, rationale, references",
        "exit codes: 0 printed, 2 no such rule or a bad --matrix overlay",
    ),
    Command(
        "docs",
        "docs",
        "generate the docs (build) or check the committed docs are current (check)",
        "exit codes: 0 built, or checked and current; 1 the committed docs are out of date; 2"
        " bad usage",
    ),
    Command(
        "adr",
        "adr",
        "write an Architecture Decision Record (MADR) for a workload profile",
        "exit codes: 0 written, 1 every protocol is vetoed (the record is still written) or "
        "the verification contradicts the choice, 2 bad input",
    ),
    Command(
        "serve",
        "serve",
        "run the reference WebSocket + SSE runtime (acked mutations, resumable streams, metrics)",
        "exit codes: 0 stopped cleanly, 1 the hub failed, 2 bad input (the port is taken, a "
        "bad state file)",
    ),
    Command(
        "client",
        "client",
        "connect to a runtime server over ws or sse, send mutations, print events as JSON lines",
        "exit codes: 0 every mutation acknowledged, 1 the connection failed or a mutation was"
        " not acknowledged or was rejected, 2 bad input",
    ),
)


class _CommandModule(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse exits with 2 already; this keeps the message on one documented format.
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}{_did_you_mean(self, message)}\n")


def _problem_line(problem: Problem, error: SelectorError, command: str) -> str:
    """A problem as the CLI prints it: located in its file (``FILE:LINE:COL: field: message``),
    or, for a bad argument that no file holds, in argparse's own form (``selector CMD: error:
    --option: message``), so every usage error reads the same."""
    if isinstance(error, UsageError) and problem.file == DEFAULT_FILE and not problem.line:
        field = f"{problem.path}: " if problem.path else ""
        return f"selector {command}: error: {field}{problem.message}"
    return problem.format()


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every option of ``parser`` and of the subcommand parsers it holds."""
    found = list(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += list(sub._option_string_actions)
    return found


def _did_you_mean(parser: argparse.ArgumentParser, message: str) -> str:
    """``; did you mean 'X'?`` for a misspelt command, choice or option, else ''."""
    import difflib
    import re

    choice = re.match(r"argument [^:]+: invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if choice:
        typed, options = choice[1], re.findall(r"'([^']*)'", choice[2])
        # Another name a listed choice goes by (--format table) is a fine suggestion too.
        from selector.render.formats import ALIASES

        options += [alias for alias, target in ALIASES.items() if target.value in options]
    else:
        unknown = re.match(r"unrecognized arguments: (\S+)", message)
        if not unknown or not unknown[1].startswith("--"):
            return ""
        typed, options = unknown[1].partition("=")[0], _option_strings(parser)
    close = difflib.get_close_matches(typed, options, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``only``, just that command gets its arguments (and its
    module imported), which is all that parsing a command line needs."""
    parser = _Parser(
        prog="selector",
        description=(
            "Choose WebSocket, Server-Sent Events or WebRTC from a workload profile, "
            "explain the choice and plan the connection lifetime."
        ),
        epilog=(
            "exit codes: 0 ok, 1 negative answer, 2 bad input or usage, 3 a harness (verify, "
            "loadtest --run) could not run here"
        ),
    )
    parser.add_argument("--version", action="version", version=f"selector {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command_parser = sub.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            epilog=command.exits or None,
        )
        if only is None or command.name == only:
            module: _CommandModule = importlib.import_module(f"selector.commands.{command.module}")
            module.add_arguments(command_parser)
            command_parser.set_defaults(handler=module.run)
    return parser


def _command_in(argv: Sequence[str]) -> str:
    """The subcommand named on a command line: its first word that is not an option (no
    top-level option takes a value). An empty string when there is none."""
    return next((word for word in argv if not word.startswith("-")), "")


#: The name a failed write to standard output is reported under (it has no file name).
STDOUT_NAME = "standard output"


class _NamedStdout:
    """Standard output whose failed writes say so: an ``OSError`` from writing or flushing
    gets :data:`STDOUT_NAME` as its file name, so ``selector rules > full-disk`` reports
    where it failed instead of a bare "No space left on device"."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            exc.filename = exc.filename or STDOUT_NAME
            raise

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            exc.filename = exc.filename or STDOUT_NAME
            raise

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


@contextlib.contextmanager
def _stdout_named() -> Iterator[None]:
    original = sys.stdout
    sys.stdout = cast(TextIO, _NamedStdout(original))
    try:
        yield
    finally:
        if isinstance(sys.stdout, _NamedStdout):  # unless something replaced it meanwhile
            sys.stdout = original


def _drop_stdout() -> None:
    """Point file descriptor 1 at the null device: after a failed write, the interpreter's own
    flush at exit would fail again (exit 120, "Exception ignored")."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting (``python -m selector`` exits)."""
    # pydantic scans every installed distribution's entry points for plugins the first time a
    # model is built (~15 ms, a tenth of a `validate` run); the CLI uses no pydantic plugins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=_command_in(words))
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # usage errors (2), --help and --version (0)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with _stdout_named():
            code: int = args.handler(args)
            # Small outputs sit in the buffer until here: a disk that is full fails now, not
            # silently at exit (which printed nothing and exited 0).
            sys.stdout.flush()
    except SelectorError as exc:
        for problem in exc.problems:
            print(_problem_line(problem, exc, args.command), file=sys.stderr)
        if isinstance(exc, NegativeAnswer):
            return EXIT_NEGATIVE
        return EXIT_HARNESS if isinstance(exc, HarnessError) else EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``selector rules | head``); nothing left to say.
        _drop_stdout()
        sys.stderr.close()
        return 0
    except OSError as exc:
        # Last resort for a file or socket the command did not expect to fail on (each
        # command reports the ones it expects, located): a message, never a traceback.
        if exc.filename == STDOUT_NAME:
            _drop_stdout()
            print(f"{STDOUT_NAME}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return code
