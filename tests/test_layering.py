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
#: What the core may take from modules outside it, by name: the package version, nothing
#: else. The built-in tables (rules, companions, planner notes) ship as package data: the
#: loading side compiles them into a :class:`~selector.rules.model.Matrix`, which the core is
#: handed (selector.builtin fills in the built-in one for library callers). The core never
#: opens a file: profiles, overlays and what-if files are read on the loading side too.
OUTSIDE_ALLOWED = {
    ("selector", "__version__"),
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
        (2, "selector.rules.loading.default_matrix"),
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


def import_graph(modules: dict[str, str]) -> dict[str, set[str]]:
    """Module name -> the package modules it imports, read from each module's source
    (``modules``: name -> text): imports inside functions count, imports under ``if
    TYPE_CHECKING:`` do not (they never run)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, text in modules.items():
        tree = ast.parse(text)
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            graph[name] |= {target for target in targets if target in modules} - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: each strongly connected group of two or more modules
    (Tarjan's algorithm, iterative so a deep package cannot overflow the stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            step = next(successors, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_the_package_has_no_import_cycles() -> None:
    modules = {
        _module_name(path): path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py")
    }
    assert cycles(import_graph(modules)) == []


def test_the_cycle_scan_sees_a_cycle_through_a_function_but_not_a_type_import() -> None:
    modules = {
        "pkg.a": "from pkg.b import thing\n",
        "pkg.b": "def f():\n    import pkg.c\n",
        "pkg.c": "from pkg import a\n",
        "pkg": "",
        "pkg.d": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.e import E\n",
        "pkg.e": "from pkg.d import helper\n",
    }
    assert cycles(import_graph(modules)) == [["pkg.a", "pkg.b", "pkg.c"]]
