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
    "errors.py",
    "jsonvalue.py",
    "protocols.py",
    "units.py",
    "engine/*.py",
    "rules/facts.py",
    "rules/conditions.py",
    "rules/model.py",
    "rules/schema.py",
    "rules/values.py",
    "rules/measures.py",
    "rules/subjects.py",
    "planner/*.py",
    "planner/sources/model.py",
    "render/*.py",
    "runtime/protocol/*.py",
    "verify/traffic.py",
    "verify/evidence.py",
    "verify/verdict.py",
    "verify/idlesearch.py",
    "verify/network.py",
]
#: What the core may take from modules outside it, by name: the built-in tables (the matrix,
#: companions and planner notes), which ship as package data and are compiled once on first
#: use; the compiled row type of the last two; and the package version. The core never opens
#: a user's file: profiles, overlays and what-if files are read on the loading side, which
#: hands the core what it compiled.
OUTSIDE_ALLOWED = {
    ("selector", "__version__"),
    ("selector.rules.loading", "default_matrix"),
    ("selector.rules.advice", "Advice"),
    ("selector.rules.advice", "companion_table"),
    ("selector.rules.advice", "planner_note_table"),
}
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


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def outside_imports(tree: ast.AST, core: set[str]) -> list[tuple[int, str]]:
    """Names a module imports from ``selector`` modules outside ``core`` (any depth, inside
    functions too), except :data:`OUTSIDE_ALLOWED`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, alias.name)
                for alias in node.names
                if alias.name.split(".")[0] == "selector" and alias.name not in core
            ]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "selector":
                continue
            for alias in node.names:
                if f"{node.module}.{alias.name}" in core or node.module in core:
                    continue
                if (node.module, alias.name) not in OUTSIDE_ALLOWED:
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
    return found


@pytest.mark.parametrize("module", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_core_takes_nothing_from_the_loading_side(module: Path) -> None:
    core = {_module_name(path) for path in core_modules()}
    found = outside_imports(ast.parse(module.read_text(encoding="utf-8")), core)
    assert found == [], f"imports from outside the core: {found}"


def test_the_scan_sees_an_import_from_outside_the_core() -> None:
    sample = (
        "from selector.profile import Profile\n"
        "from selector.rules.loading import default_matrix, read_yaml\n"
        "def f():\n"
        "    from selector.loading import load_profile\n"
        "    import selector.verify.runner\n"
    )
    found = outside_imports(ast.parse(sample), {"selector.profile"})
    assert found == [
        (2, "selector.rules.loading.read_yaml"),
        (4, "selector.loading.load_profile"),
        (5, "selector.verify.runner"),
    ]


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
