"""Every command the documentation shows runs, and prints what the page shows.

The blocks, the folder they run in and the not-run marker are described in
tests/doc_sessions.py, the one runner for docs/*.md and README.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from selector.runtime.rtc import INSTALL_HINT
from tests.conftest import ROOT
from tests.doc_sessions import Reader, blocks, client_problem, install_problems, matches, pages

#: Pages whose commands take minutes (each `selector verify` runs the workload for ~30 s),
#: with the time they get.
SLOW = {"verify.md": 900}
#: Where the not-run marker is explained to the people writing docs.
MARKER_DOC = ROOT / "docs" / "README.md"


def _param(page: Path) -> object:
    marks = [pytest.mark.slow, pytest.mark.timeout(SLOW[page.name])] if page.name in SLOW else []
    return pytest.param(page, id=page.name, marks=marks)


@pytest.mark.parametrize("page", [_param(page) for page in pages()])
def test_every_shown_command_runs_and_prints_what_the_page_shows(
    page: Path, tmp_path: Path
) -> None:
    reader = Reader(tmp_path)
    reader.write_shown_files()
    to_run = [block for block in blocks(page) if block.not_run is None]
    for block in to_run:
        tool = reader.missing_tool(block)
        if tool is not None:
            pytest.skip(f"{block}: `{tool}` is not installed (scripts/system-deps installs it)")
    try:
        for block in to_run:
            reader.run(block)
    finally:
        reader.close()
    assert not reader.failures, "\n\n".join(reader.failures)
    assert reader.ran == to_run


def test_the_not_run_marker_is_documented_and_gives_a_reason() -> None:
    assert "<!-- not run: " in MARKER_DOC.read_text(encoding="utf-8")
    marked = [block for page in pages() for block in blocks(page) if block.not_run is not None]
    assert marked, "no block is marked: the marker test would check nothing"
    for block in marked:
        assert len(block.not_run or "") >= 20, f"{block}: say why it cannot run here"


def test_pages_and_messages_name_the_distribution_they_install() -> None:
    # The pages, and every install hint the command prints.
    texts = [*(ROOT / "docs").glob("*.md"), ROOT / "README.md", *(ROOT / "selector").rglob("*.py")]
    for text in texts:
        problems = install_problems(text.read_text(encoding="utf-8"))
        assert not problems, f"{text.relative_to(ROOT)}: {problems}"
    assert install_problems("pip install 'selector[webrtc]'")
    assert install_problems("pipx install '.[nosuchextra]'")
    assert not install_problems("python -m pip install 'realtime-protocol-selector[webrtc]'")
    # What the runtime tells a user without the WebRTC extra.
    assert not install_problems(INSTALL_HINT)


def test_elision_matches_any_run_of_lines_and_nothing_else() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "d"], ["a", "d"])
    assert not matches(["a", "...", "d"], ["a", "b", "c"])
    assert not matches(["a", "b"], ["a", "b", "c"])


def test_not_run_marker_is_read_from_the_line_before_the_fence(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- not run: needs an account at a cloud provider -->\n```sh\naws x\n```\n\n"
        "```console\n$ selector rules\n```\n",
        encoding="utf-8",
    )
    first, second = blocks(page)
    assert first.not_run == "needs an account at a cloud provider" and first.kind == "sh"
    assert second.not_run is None and second.steps[0].command == "selector rules"


def test_the_runner_fails_on_wrong_output_a_failing_command_and_a_starved_client(
    tmp_path: Path,
) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ selector --version\nselector 0.0.0-not-this\n```\n\n"
        "```sh\nselector validate nosuch.yaml\n```\n\n"
        "```sh\nselector serve\nselector client sse http://127.0.0.1:8765 --count 3\n"
        "selector client ws ws://127.0.0.1:8765 --count 0 --send "
        '\'{"op": "set", "data": {"key": "a", "value": 1}}\'\n```\n',
        encoding="utf-8",
    )
    folder = tmp_path / "run"
    folder.mkdir()
    reader = Reader(folder)
    try:
        for block in blocks(page):
            reader.run(block)
    finally:
        reader.close()
    # The wrong version and the missing file fail; the clients, fed by the publisher, pass.
    assert [failure.split(":")[0] for failure in reader.failures] == ["page.md"] * 2
    assert "selector --version" in reader.failures[0]
    assert "exit 2" in reader.failures[1]


def test_a_client_summary_must_show_the_events_and_acks_the_command_asks_for() -> None:
    words = ["selector", "client", "sse", "http://x", "--count", "5", "--send", "{}"]
    summary = '{"connects": 1, "events": %d, "acks": %d, "failure": %s}'
    assert client_problem(words, summary % (5, 1, "null")) is None
    assert client_problem(words, summary % (2, 1, "null")) == "2 events, 5 shown"
    assert client_problem(words, summary % (5, 0, "null")) == "0 acks for 1 mutations"
    assert client_problem(words, summary % (5, 1, '"stopped"')) == "failed: stopped"
    assert client_problem(words, "") == "no summary line"
