"""Every console example in the guides runs, and prints what the page shows.

A ```console block is a session: ``$ COMMAND`` lines, each followed by its output (stdout and
stderr together). A line ``...`` in the shown output stands for any number of lines. The
commands run with bash in a fresh folder per page, holding ``profiles/``; ``$ cat FILE`` of a
file the folder does not have yet creates it with the content shown (that is how a page hands
the reader a file), and the ``selector`` on PATH is this checkout's.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROFILES, ROOT

#: Pages whose console sessions run here.
PAGES = ("getting-started.md", "deploying-behind-proxies.md")
#: Pages with console sessions that do not run yet, and why.
NOT_RUN = {
    "scoring.md": "its overlay files (org.yaml, broken.yaml) are not shown whole",
    "linting-deployed-config.md": "tests/sources/test_lint_from.py runs its sessions",
    "probing-a-live-path.md": "its session needs a server behind a fault proxy and takes a minute "
    "(tests/verify/test_probe.py runs the same probe)",
}
ELISION = "..."
COMMAND_TIMEOUT_S = 120


def sessions(page: Path) -> list[list[tuple[str, list[str]]]]:
    """Each console block of ``page`` as (command, shown output lines) pairs."""
    found = []
    text = page.read_text(encoding="utf-8")
    for indent, block in re.findall(r"^( *)```console\n(.*?)^ *```", text, re.S | re.M):
        steps: list[tuple[str, list[str]]] = []
        for line in (line.removeprefix(indent) for line in block.splitlines()):
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
            else:
                raise AssertionError(f"{page.name}: output before any command: {line!r}")
        found.append(steps)
    return found


def matches(shown: list[str], actual: list[str]) -> bool:
    """``actual`` fits ``shown``, where a shown ``...`` line stands for any lines."""
    if not shown:
        return not actual
    if shown[0].strip() == ELISION:
        return any(matches(shown[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and shown[0] == actual[0] and matches(shown[1:], actual[1:])


def test_every_page_with_console_sessions_is_checked() -> None:
    pages = {page.name for page in (ROOT / "docs").glob("*.md") if sessions(page)} | (
        {"README.md"} if sessions(ROOT / "README.md") else set()
    )
    assert pages == set(PAGES) | set(NOT_RUN)


def test_elision_matches_any_run_of_lines_and_nothing_else() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "d"], ["a", "d"])
    assert not matches(["a", "...", "d"], ["a", "b", "c"])
    assert not matches(["a", "b"], ["a", "b", "c"])


def _write_shown_files(folder: Path, page: Path) -> None:
    """Files a page shows in full as a yaml block right after a line naming them."""
    text = page.read_text(encoding="utf-8")
    for name, body in re.findall(r"`([\w.-]+\.yaml)`[^\n`]*:\n+```yaml\n(.*?)```", text, re.S):
        target = folder / name
        if not target.exists():
            target.write_text(body, encoding="utf-8")


def _lines(lines: list[str]) -> list[str]:
    """Lines without trailing spaces, and without blank lines at the end."""
    out = [line.rstrip() for line in lines]
    while out and not out[-1]:
        out.pop()
    return out


@pytest.mark.parametrize("name", PAGES)
def test_console_sessions_print_what_the_page_shows(name: str, tmp_path: Path) -> None:
    page = ROOT / "docs" / name
    (tmp_path / "profiles").symlink_to(PROFILES)
    _write_shown_files(tmp_path, page)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "80",
    }
    assert shutil.which("selector", path=env["PATH"]), "selector is not installed in the venv"
    failures = []
    for steps in sessions(page):
        for command, shown in steps:
            cat = re.fullmatch(r"cat (\S+)", command)
            if cat and not (tmp_path / cat[1]).exists():
                (tmp_path / cat[1]).write_text("\n".join(shown) + "\n", encoding="utf-8")
                continue
            tool = command.split()[0]
            if shutil.which(tool, path=env["PATH"]) is None:
                pytest.skip(f"{name}: `{tool}` is not installed (scripts/system-deps installs it)")
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
                check=False,
            )
            actual = _lines(result.stdout.splitlines())
            if not matches(_lines(shown), actual):
                diff = difflib.unified_diff(_lines(shown), actual, "shown", "got", lineterm="")
                failures.append(f"$ {command}\n" + "\n".join(diff))
    assert not failures, "\n\n".join(failures)
