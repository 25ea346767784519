"""selector.atomic.write_atomically: whole or nothing, and readable by whoever could read
the file before (a temporary file alone would be private to its owner)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from selector.atomic import write_atomically


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
