"""Writing a file whole or not at all: the one way the package replaces a file.

Readers see the old file or the new one, never a half-written one, and a failed write leaves
no temporary file behind. The new file gets the old file's permission bits, or for a new file
the ones ``open()`` would give it (0666 less the umask): a temporary file alone is private
(0600), which would silently lock other readers out of a profile or a generated document.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` (creating its folder) through a temporary file in the
    same folder and a rename. Raises :class:`OSError` as the file system does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    # The umask can only be read by setting it; set it straight back (the CLI is one thread).
    current = os.umask(0o022)
    os.umask(current)
    return current
