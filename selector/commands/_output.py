"""Where a command's document goes: stdout, or a file written atomically (``--out``).

Stdlib only at import time, like every command module's top level.
"""

from __future__ import annotations

import sys

__all__ = ["write_output"]


def write_output(text: str, out: str | None) -> None:
    """Print ``text``, or write it to ``out`` in one step (never half-written) and say so on
    stderr. A folder or an unwritable place is a located usage error (exit 2)."""
    if out is None:
        sys.stdout.write(text)
        return
    from pathlib import Path

    from selector.atomic import write_atomically
    from selector.errors import UsageError

    path = Path(out)
    if path.is_dir():
        raise UsageError.single("is a folder; give a file name", file=str(path))
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise UsageError.single(f"cannot write: {exc.strerror}", file=str(path)) from None
    print(f"wrote {path}", file=sys.stderr)
