"""The layering the architecture promises: the pure core does no I/O, runs no event loop and
reads no clock. One import scan for all of it, so a new module in a core folder is covered
as soon as it exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "selector"

#: The pure core: models, rules, scoring, planner, renderers, the runtime's protocol logic,
#: traffic plans and evidence. Globs are relative to selector/.
PURE_CORE = [
    "profile.py",
    "schemas.py",
    "engine/*.py",
    "rules/facts.py",
    "rules/conditions.py",
    "rules/model.py",
    "rules/schema.py",
    "planner/*.py",
    "render/*.py",
    "runtime/protocol/*.py",
    "verify/traffic.py",
    "verify/evidence.py",
    "verify/verdict.py",
    "verify/idlesearch.py",
]
#: ``random`` is allowed: the traffic plan draws send times from a seeded ``random.Random``,
#: which is deterministic. ``datetime`` and ``os`` are allowed for types (a decision record's
#: date is passed in; ``os.PathLike``); opening files is caught separately.
FORBIDDEN = {
    "asyncio",
    "aiohttp",
    "socket",
    "selectors",
    "ssl",
    "time",
    "sqlite3",
    "subprocess",
    "threading",
    "uvloop",
}


def core_modules() -> list[Path]:
    found = sorted({path for pattern in PURE_CORE for path in PACKAGE.glob(pattern)})
    assert len(found) > 40, "the core globs matched less than expected"
    return found


def imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_core_does_no_io_and_reads_no_clock(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    assert imported_roots(tree) & FORBIDDEN == set()
    opens = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "open"
    ]
    assert opens == [], f"opens a file at line(s) {opens}"


def test_the_scan_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = "import asyncio\nfrom time import monotonic\nfrom . import sibling\n"
    assert imported_roots(ast.parse(sample)) == {"asyncio", "time"}


def any_uses(tree: ast.AST) -> list[int]:
    """Lines that import ``Any`` from ``typing`` (or ``typing_extensions``) or name
    ``typing.Any``: the package keeps its types, so no value is typed as anything at all."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("typing", "typing_extensions"):
            lines += [node.lineno for alias in node.names if alias.name == "Any"]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "Any"
            and isinstance(node.value, ast.Name)
            and node.value.id == "typing"
        ):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(
    "module",
    sorted(PACKAGE.rglob("*.py")),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_no_module_types_a_value_as_any(module: Path) -> None:
    lines = any_uses(ast.parse(module.read_text(encoding="utf-8")))
    assert lines == [], f"uses typing.Any at line(s) {lines}"


def test_the_scan_sees_any_however_it_is_imported() -> None:
    sample = (
        "from typing import TYPE_CHECKING, Any\n"
        "import typing\n"
        "x: typing.Any = 1\n"
        "from typing_extensions import Any as A\n"
        "AnyOf = 1  # a name that merely starts with Any\n"
    )
    assert sorted(any_uses(ast.parse(sample))) == [1, 3, 4]
