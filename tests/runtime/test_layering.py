"""The runtime's protocol core stays sans-I/O: no asyncio, sockets, clocks or files."""

from __future__ import annotations

import ast
from pathlib import Path

import selector
from selector.runtime import protocol

FORBIDDEN = {"asyncio", "aiohttp", "socket", "time", "sqlite3", "threading", "selectors", "os"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_protocol_core_imports_no_io() -> None:
    files = sorted(Path(protocol.__file__).parent.glob("*.py"))
    assert len(files) >= 6
    offenders = {f.name: imported_modules(f) & FORBIDDEN for f in files}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_runtime_names_are_exported_lazily() -> None:
    for name in ("Heartbeat", "ServerSettings", "running_server"):
        assert name in selector.__all__ and getattr(selector, name) is not None
