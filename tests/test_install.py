"""The README's ``pipx install .`` installs a working ``selector`` from a checkout.

The checkout's tracked files are copied to a temporary folder (a build writes ``build/`` and
``*.egg-info`` next to the sources), and pipx installs into a temporary PIPX_HOME and
PIPX_BIN_DIR, so nothing outside the test's folder changes.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.doc_sessions import blocks

#: pip's words for an index it could not reach (no network, or no such package there).
UNREACHABLE = re.compile(
    r"Failed to establish a new connection|Temporary failure in name resolution|"
    r"Network is unreachable|Could not find a version that satisfies|"
    r"No matching distribution found|ConnectionError|ReadTimeoutError"
)
INSTALL_TIMEOUT_S = 240


def _readme_pipx_command() -> str:
    for block in blocks(ROOT / "README.md"):
        for step in block.steps:
            if step.command.startswith("pipx install"):
                return " ".join(shlex.split(step.command, comments=True))
    raise AssertionError("README.md shows no `pipx install` command")


@pytest.mark.slow
def test_pipx_install_of_the_checkout_gives_a_working_command(tmp_path: Path) -> None:
    pipx = Path(sys.executable).parent / "pipx"
    if not pipx.exists():
        pytest.skip("pipx is not installed (the test extra brings it: ./scripts/setup)")
    command = _readme_pipx_command()
    assert command == "pipx install ."
    source = tmp_path / "checkout"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in tracked)):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    env = {
        **os.environ,
        "PIPX_HOME": str(tmp_path / "pipx-home"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }
    result = subprocess.run(
        [str(pipx), *shlex.split(command)[1:]],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 and UNREACHABLE.search(output):
        pytest.skip(f"the package index is unreachable: {UNREACHABLE.search(output)[0]}")  # type: ignore[index]
    assert result.returncode == 0, output
    selector = tmp_path / "bin" / "selector"
    # The installed command runs from pipx's own environment, not from this checkout.
    outside = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    version = subprocess.run(
        [str(selector), "--version"], capture_output=True, text=True, env=outside, check=False
    )
    assert version.returncode == 0 and version.stdout.startswith("selector "), version
    answers = [
        subprocess.run(
            [str(program), "recommend", "profiles/chat.yaml"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=outside,
            check=False,
        )
        for program in (selector, Path(sys.executable).parent / "selector")
    ]
    installed, checkout = answers
    assert installed.returncode == 0, installed.stderr
    # The installed copy answers as this checkout does (its rules and data files came along).
    assert installed.stdout == checkout.stdout and installed.stdout.startswith("chat: ")
    home = tmp_path / "pipx-home" / "venvs" / "realtime-protocol-selector"
    assert home.is_dir(), "pipx named the environment after another distribution"
