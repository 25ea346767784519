"""Writing a file whole or not at all: the one way the package replaces a file.

Readers see the old file or the new one, never a half-written one, and a failed write leaves
no temporary file behind, nor any folder the write created. The new file gets the old file's
permission bits, or for a new file the ones ``open()`` would give it (0666 less the umask): a
temporary file alone is private (0600), which would silently lock other readers out of a
profile or a generated document.

What the path names decides how it is written:

* a symbolic link is followed: the file it points to is replaced (atomically, through a
  temporary file beside it), and the link stays a link;
* a regular file, or nothing yet, is replaced through a temporary file and a rename;
* a FIFO, a character or block device or a socket is opened and written in place (a rename
  would replace the node with a regular file), so a FIFO's reader gets the text and a full
  device reports its error;
* a folder is refused (:class:`IsADirectoryError`).

Errors are :class:`OSError` as the file system raises them, with ``filename`` set to the path
the caller gave (not a temporary file's name), so a message can name the file that failed.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["write_atomically", "write_files_atomically"]

#: Temporary names are ``.<name>.<random>.tmp``; the target's name is shortened in them so a
#: long (valid) file name cannot make the temporary one too long for the file system.
_TMP_NAME_KEEP = 100


def write_atomically(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` (creating its folder) through a temporary file in the
    same folder and a rename; see the module docstring for links, devices, FIFOs and folders.
    Raises :class:`OSError` as the file system does, naming ``path``."""
    write_files_atomically({path: content})


def write_files_atomically(files: Mapping[Path, str]) -> None:
    """Write several files as one step, as far as a file system allows: every file is first
    written to a temporary file beside its target, and only when all of them are written are
    they renamed into place. A failure before the renames leaves every target as it was, with
    no temporary file and no folder this call created left behind. Files written in place
    (FIFOs, devices, sockets) are written after the renames.

    Raises :class:`OSError` with ``filename`` naming the file that failed."""
    plans = [_plan(path) for path in files]
    created: list[Path] = []
    staged: list[tuple[_Plan, str]] = []
    try:
        for plan, content in zip(plans, files.values(), strict=True):
            if plan.in_place:
                continue
            with _naming(plan.given):
                created += _make_folders(plan.target.parent)
                staged.append((plan, _stage(plan, content)))
        for plan, tmp in staged:
            with _naming(plan.given):
                os.replace(tmp, plan.target)
            plan.renamed = True
    except BaseException:
        for plan, tmp in staged:
            if not plan.renamed:
                Path(tmp).unlink(missing_ok=True)
        if not any(plan.renamed for plan, _ in staged):
            _remove_folders(created)
        raise
    for plan, content in zip(plans, files.values(), strict=True):
        if plan.in_place:
            with _naming(plan.given):
                _write_in_place(plan.target, content)


@dataclass
class _Plan:
    given: Path  # what the caller named, for messages
    target: Path  # the file to write: ``given`` with every symbolic link resolved
    in_place: bool  # an existing FIFO, device or socket: written through, never replaced
    mode: int  # permission bits for a replaced or new regular file
    renamed: bool = False


def _plan(path: Path) -> _Plan:
    target = Path(os.path.realpath(path))
    with _naming(path):
        try:
            info = os.stat(target)
        except FileNotFoundError:
            return _Plan(path, target, in_place=False, mode=0o666 & ~_umask())
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        in_place = not stat.S_ISREG(info.st_mode)
        return _Plan(path, target, in_place=in_place, mode=stat.S_IMODE(info.st_mode))


def _stage(plan: _Plan, content: str) -> str:
    """Write ``content`` to a new temporary file beside the target; returns its path."""
    name = plan.target.name[:_TMP_NAME_KEEP]
    fd, tmp = tempfile.mkstemp(dir=plan.target.parent, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
        os.chmod(tmp, plan.mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _write_in_place(target: Path, content: str) -> None:
    # No O_CREAT or O_TRUNC: the node exists and is not a regular file. A FIFO blocks here
    # until a reader opens it, as the shell's ``>`` does.
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(content)


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns the folders created, outermost
    first. A failure removes the ones already created before it raises."""
    missing = []
    current = folder
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    created: list[Path] = []
    try:
        for each in reversed(missing):
            try:
                each.mkdir()
            except FileExistsError:
                if not each.is_dir():
                    raise
                continue  # made meanwhile by someone else: not ours to remove
            created.append(each)
    except BaseException:
        _remove_folders(created)
        raise
    return created


def _remove_folders(created: list[Path]) -> None:
    # Innermost first, and only while empty: never a file someone else put there meanwhile.
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            return


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Make an :class:`OSError` raised inside name ``path`` (not a temporary file)."""
    try:
        yield
    except OSError as exc:
        exc.filename = str(path)
        exc.filename2 = None
        raise


def _umask() -> int:
    # The umask can only be read by setting it; set it straight back (the CLI is one thread).
    current = os.umask(0o022)
    os.umask(current)
    return current
