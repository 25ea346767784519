"""Golden files: generated documents compared whole against committed expected files.

The rules reference and the decision records of two example profiles (``chat``, where
WebSocket wins, and ``live-dashboard``, where SSE wins) live under ``tests/golden/``. When a
change to the matrix, the engine or a renderer changes them on purpose, regenerate and review
the diff before committing::

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py
    git diff tests/golden/

The records are dated 2026-01-01 (the renderer takes the date as an argument), so they only
change when the content does.
"""

from __future__ import annotations

import datetime
import difflib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import selector
from selector.docs_gen.rules_reference import render_rules_reference
from selector.render.adr import render_adr
from tests.conftest import PROFILES

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
RECORD_DATE = datetime.date(2026, 1, 1)


def _adr(stem: str) -> Callable[[], str]:
    def make() -> str:
        profile = selector.load_profile(PROFILES / f"{stem}.yaml")
        return render_adr(
            profile,
            selector.recommend(profile),
            date=RECORD_DATE,
            profile_file=f"profiles/{stem}.yaml",
        )

    return make


CASES: dict[str, Callable[[], str]] = {
    "rules-reference.md": render_rules_reference,
    "adr-chat.md": _adr("chat"),
    "adr-live-dashboard.md": _adr("live-dashboard"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_the_golden_file(name: str) -> None:
    actual = CASES[name]()
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8", newline="\n")
    assert path.is_file(), f"{path} is missing: run UPDATE_GOLDEN=1 pytest tests/test_golden.py"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"golden/{name}",
                tofile="generated",
            )
        )
        pytest.fail(
            f"{name} differs from its golden file (if intended: UPDATE_GOLDEN=1 pytest "
            f"tests/test_golden.py, then review git diff):\n{diff}"
        )


def test_the_golden_rules_reference_is_the_published_one() -> None:
    published = Path(__file__).parent.parent / "docs" / "reference" / "rules.md"
    assert (GOLDEN / "rules-reference.md").read_text(encoding="utf-8") == published.read_text(
        encoding="utf-8"
    )
