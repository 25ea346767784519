"""Generated documentation: references, reports and decision records from the same source
of truth that computes the answers, so the docs cannot drift from behaviour.

``generate()`` is pure apart from reading package data and the example profiles; writing and
comparing files is done by :func:`build` and :func:`check`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["build", "check", "generate"]

#: Files under the docs folder that ``selector docs`` owns, relative path -> generator.
Generator = Callable[[], str]


def _profile_schema() -> str:
    from selector.schemas import profile_json_schema

    return json.dumps(profile_json_schema(), indent=2) + "\n"


def _profile_reference() -> str:
    from selector.docs_gen.profile_reference import render_profile_reference

    return render_profile_reference()


def generators() -> dict[str, Generator]:
    """Every generated file, by path relative to the docs folder."""
    return {
        "profile.schema.json": _profile_schema,
        "reference/profile.md": _profile_reference,
    }


def generate() -> dict[str, str]:
    """The content of every generated file, by relative path."""
    return {path: make() for path, make in generators().items()}


def _write_atomically(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build(out: Path) -> list[Path]:
    """Write every generated file under ``out``; returns the files that changed."""
    changed = []
    for relative, content in generate().items():
        path = out / relative
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            _write_atomically(path, content)
            changed.append(path)
    return changed


def check(out: Path) -> list[Path]:
    """Generated files under ``out`` that are missing or differ from what would be generated."""
    stale = []
    for relative, content in generate().items():
        path = out / relative
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            stale.append(path)
    return stale
