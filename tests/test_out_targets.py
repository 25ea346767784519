"""Where ``--out`` and ``docs build --out`` write: ``-`` is standard output, a link is
followed, a FIFO or socket is written through (never replaced by a regular file), a folder
or a missing folder meant (``new/``) is a located usage error, and a failed write leaves
nothing behind, half-written or otherwise.

Nothing here writes to a real device: a rename over one replaces the node. FIFOs, sockets
and links live under tmp_path.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from selector import docs_gen
from selector.cli import main
from selector.errors import EXIT_BAD_INPUT, EXIT_OK
from tests.conftest import PROFILES

PROFILE = PROFILES / "chat.yaml"


def _migrate(out: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and the last stderr line (the first one says nothing changed)."""
    # `migrate` of a version 2 profile writes it unchanged: the cheapest command with --out.
    code = main(["migrate", str(PROFILE), "--out", out])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err.splitlines()[-1]


def test_dash_means_standard_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _migrate("-", capsys)
    assert code == EXIT_OK
    assert out == PROFILE.read_text(encoding="utf-8")
    assert "wrote" not in err
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_a_missing_folder_meant_is_refused_not_written_as_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meant = f"{tmp_path}/adr/"
    code, out, err = _migrate(meant, capsys)
    assert code == EXIT_BAD_INPUT
    assert err.startswith(f"{meant}: ") and "give a file name" in err
    assert out == ""
    assert list(tmp_path.iterdir()) == []  # no file named "adr"


def test_an_existing_folder_is_a_located_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for given in (str(tmp_path), f"{tmp_path}/"):
        code, _, err = _migrate(given, capsys)
        assert code == EXIT_BAD_INPUT
        assert err.startswith(str(tmp_path)) and "is a folder" in err
    assert list(tmp_path.iterdir()) == []


def test_a_symlink_target_is_written_through_the_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = tmp_path / "kept" / "profile.yaml"
    real.parent.mkdir()
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    code, _, _ = _migrate(str(link), capsys)
    assert code == EXIT_OK
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == PROFILE.read_text(encoding="utf-8")


def test_a_fifo_receives_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    code, _, _ = _migrate(str(fifo), capsys)
    thread.join(timeout=10)
    assert code == EXIT_OK
    assert received == [PROFILE.read_bytes()]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_socket_is_a_located_error_and_stays_a_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # a short name: socket paths are limited to ~100 bytes
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind("sock")
        code, _, err = _migrate("sock", capsys)
        assert code == EXIT_BAD_INPUT
        assert err == "sock: cannot write: No such device or address"
        assert stat.S_ISSOCK(os.lstat("sock").st_mode)
    finally:
        server.close()


def test_a_failed_write_leaves_no_folder_it_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new" / "deeper" / ("n" * 300)  # a name no file system takes
    code, _, err = _migrate(str(target), capsys)
    assert code == EXIT_BAD_INPUT
    assert err == f"{target}: cannot write: File name too long"
    assert list(tmp_path.iterdir()) == []


# docs build: rendered first, then written all together or not at all.

GENERATED = {
    "a.schema.json": "{}\n",
    "reference/b.md": "# b\n",
    "reports/c.md": "# c\n",
    "z.md": "# z\n",
}


@pytest.fixture
def small_docs(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A stand-in for the generated tree: four files, so a build takes no time."""
    monkeypatch.setattr(docs_gen, "generate", lambda: dict(GENERATED))
    return GENERATED


def _tree(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_docs_build_writes_nothing_when_one_file_cannot_be_written(
    tmp_path: Path, small_docs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "docs"
    out.mkdir()
    (out / "a.schema.json").write_text("old\n", encoding="utf-8")
    (out / "reports").write_text("a file where the reports folder goes\n", encoding="utf-8")
    before = _tree(out)
    code = main(["docs", "build", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    # The message names the file that failed, not the folder or a temporary file.
    assert err.startswith(f"{out / 'reports' / 'c.md'}: cannot write"), err
    assert _tree(out) == before  # not half-updated
    assert sorted(p.name for p in out.iterdir()) == ["a.schema.json", "reports"]

    (out / "reports").unlink()
    assert main(["docs", "build", "--out", str(out)]) == EXIT_OK
    assert _tree(out) == small_docs


def test_docs_build_checks_every_file_before_writing_any(
    tmp_path: Path, small_docs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "docs"
    (out / "z.md").mkdir(parents=True)  # a folder where the last file goes
    code = main(["docs", "build", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert err.startswith(str(out / "z.md")), err
    assert [p.name for p in out.iterdir()] == ["z.md"]
    assert list((out / "z.md").iterdir()) == []


def test_a_generated_file_that_is_not_utf8_is_stale_to_check_and_build(
    tmp_path: Path, small_docs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Check and build compare the same way: a file that is not UTF-8 is not what is
    generated (check ended in a UnicodeDecodeError traceback here)."""
    out = tmp_path / "docs"
    assert main(["docs", "build", "--out", str(out)]) == EXIT_OK
    (out / "z.md").write_bytes(b"# caf\xe9\n")
    capsys.readouterr()
    assert main(["docs", "check", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "z.md" in captured.out + captured.err
    assert main(["docs", "build", "--out", str(out)]) == EXIT_OK
    assert _tree(out) == small_docs
