"""Where a command's document goes: stdout, or a file written atomically (``--out``).

Stdlib only at import time, like every command module's top level.
"""

from __future__ import annotations

import os
import sys

__all__ = ["OUT_HELP", "write_output"]

#: What every ``--out FILE`` means beyond the file itself, for the options' help.
OUT_HELP = "'-' means standard output; a symbolic link writes the file it points to"


def write_output(text: str, out: str | None) -> None:
    """Print ``text`` (``out`` is None or ``-``), or write it to ``out`` in one step (never
    half-written) and say so on stderr. A folder, a path ending in ``/`` or an unwritable
    place is a located usage error (exit 2). An existing FIFO or device is written through,
    not replaced (see :mod:`selector.atomic`)."""
    if out is None or out == "-":
        sys.stdout.write(text)
        return
    from pathlib import Path

    from selector.atomic import write_atomically
    from selector.errors import UsageError

    path = Path(out)
    if path.is_dir():
        raise UsageError.single("is a folder; give a file name", file=str(path))
    if out.endswith(("/", os.sep)):
        # Path() drops the slash: writing would make a file named like the folder meant.
        raise UsageError.single("no such folder; give a file name, not a folder", file=out)
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise UsageError.single(f"cannot write: {exc.strerror or exc}", file=str(path)) from None
    print(f"wrote {path}", file=sys.stderr)
