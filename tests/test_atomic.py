"""selector.atomic.write_atomically: whole or nothing, and readable by whoever could read
the file before (a temporary file alone would be private to its owner); links followed,
FIFOs and sockets written through rather than replaced, and no folder left by a failure.

Nothing here writes to a real device: a rename over one replaces the node. FIFOs, sockets
and links live under tmp_path."""

from __future__ import annotations

import errno
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from selector.atomic import write_atomically, write_files_atomically


@pytest.fixture
def umask_027() -> Iterator[None]:
    previous = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_replacing_a_file_keeps_its_permissions(tmp_path: Path) -> None:
    for mode in (0o644, 0o640, 0o600, 0o664):
        target = tmp_path / f"profile-{mode:o}.yaml"
        target.write_text("old\n", encoding="utf-8")
        target.chmod(mode)
        write_atomically(target, "new\n")
        assert target.read_text(encoding="utf-8") == "new\n"
        assert _mode(target) == mode


def test_a_new_file_gets_what_open_would_give_it(tmp_path: Path, umask_027: None) -> None:
    opened = tmp_path / "opened.md"
    opened.write_text("x", encoding="utf-8")
    written = tmp_path / "sub" / "written.md"
    write_atomically(written, "x")
    assert _mode(written) == _mode(opened) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "decision.md"
    target.write_text("the accepted record\n", encoding="utf-8")

    def refuse(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        write_atomically(target, "x" * 100_000)
    assert target.read_text(encoding="utf-8") == "the accepted record\n"
    assert [p.name for p in tmp_path.iterdir()] == ["decision.md"]


def _read_fifo(fifo: Path, received: list[bytes], *, read: bool = True) -> threading.Thread:
    """A reader for ``fifo`` on a thread: reads it to the end (or, with ``read=False``,
    opens and closes it at once, like a reader that went away)."""

    def reader() -> None:
        with open(fifo, "rb") as handle:
            if read:
                received.append(handle.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread


def test_a_symlink_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real" / "record.md"
    real.parent.mkdir()
    real.write_text("old\n", encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "link.md"
    link.symlink_to(real)
    write_atomically(link, "new\n")
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert real.read_text(encoding="utf-8") == "new\n"
    assert _mode(real) == 0o640
    # The temporary file went beside the target, and is gone.
    assert sorted(p.name for p in real.parent.iterdir()) == ["record.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.md", "real"]


def test_a_dangling_symlink_creates_the_file_it_names(tmp_path: Path) -> None:
    link = tmp_path / "link.md"
    link.symlink_to(tmp_path / "target.md")
    write_atomically(link, "x\n")
    assert link.is_symlink()
    assert (tmp_path / "target.md").read_text(encoding="utf-8") == "x\n"


def test_a_fifo_receives_the_text_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    thread = _read_fifo(fifo, received)
    write_atomically(fifo, "through the pipe\n")
    thread.join(timeout=10)
    assert received == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_fifo_behind_a_symlink_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    received: list[bytes] = []
    thread = _read_fifo(fifo, received)
    write_atomically(link, "x")
    thread.join(timeout=10)
    assert received == [b"x"] and link.is_symlink() and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_failing_special_file_reports_its_error_and_stays(tmp_path: Path) -> None:
    # The stand-in for a full device: a FIFO whose reader goes away; the write fails (EPIPE)
    # and must say so, not swap the node for a regular file holding the text.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    thread = _read_fifo(fifo, [], read=False)
    with pytest.raises(OSError) as caught:
        write_atomically(fifo, "x" * 1_000_000)  # more than a pipe buffer holds
    thread.join(timeout=10)
    assert caught.value.errno == errno.EPIPE
    assert caught.value.filename == str(fifo)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_socket_is_not_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a short name: socket paths are limited to ~100 bytes
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind("sock")
        with pytest.raises(OSError) as caught:
            write_atomically(Path("sock"), "x")
        assert caught.value.filename == "sock"
        assert stat.S_ISSOCK(os.lstat("sock").st_mode)
    finally:
        server.close()
    assert [p.name for p in tmp_path.iterdir()] == ["sock"]


def test_a_folder_is_refused_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "kept.md").write_text("kept", encoding="utf-8")
    with pytest.raises(IsADirectoryError) as caught:
        write_atomically(folder, "x")
    assert caught.value.filename == str(folder)
    assert [p.name for p in folder.iterdir()] == ["kept.md"]
    assert [p.name for p in tmp_path.iterdir()] == ["docs"]


def test_a_failed_write_removes_only_the_folders_it_created(tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.mkdir()
    # A real failure after the folders are made: a name no file system takes (> 255 bytes).
    target = existing / "new" / "deeper" / ("n" * 300)
    with pytest.raises(OSError) as caught:
        write_atomically(target, "x")
    assert caught.value.errno == errno.ENAMETOOLONG
    assert caught.value.filename == str(target)  # the file meant, not a temporary one
    assert [p.name for p in tmp_path.iterdir()] == ["existing"]
    assert list(existing.iterdir()) == []


def test_a_failed_rename_removes_the_folders_it_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        write_atomically(tmp_path / "a" / "b" / "file.md", "x")
    assert list(tmp_path.iterdir()) == []


def test_a_long_file_name_gets_a_temporary_file_that_fits(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 250)  # valid, but "." + name + random + ".tmp" would not be
    write_atomically(target, "x")
    assert target.read_text(encoding="utf-8") == "x"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_several_files_are_written_all_or_none(tmp_path: Path) -> None:
    first = tmp_path / "a.md"
    first.write_text("old a", encoding="utf-8")
    (tmp_path / "blocked").write_text("a file where a folder is needed", encoding="utf-8")
    files = {
        first: "new a",
        tmp_path / "made" / "b.md": "new b",
        tmp_path / "blocked" / "c.md": "new c",
        tmp_path / "d.md": "new d",
    }
    with pytest.raises(OSError) as caught:
        write_files_atomically(files)
    assert caught.value.filename == str(tmp_path / "blocked" / "c.md")
    # Nothing changed: no file written, no temporary and no folder left.
    assert first.read_text(encoding="utf-8") == "old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "blocked"]

    del files[tmp_path / "blocked" / "c.md"]
    write_files_atomically(files)
    assert [path.read_text(encoding="utf-8") for path in files] == ["new a", "new b", "new d"]
