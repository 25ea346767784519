"""The client's protocol modules stay sans-I/O: no asyncio, no sockets, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROTOCOL = Path(__file__).resolve().parents[2] / "selector" / "runtime" / "protocol"
CLIENT_MODULES = [
    "sse.py",
    "backoff.py",
    "outbox.py",
    "deadline.py",
    "client_wire.py",
    "client_state.py",
]
FORBIDDEN = {"asyncio", "aiohttp", "socket", "time", "datetime", "selectors", "threading"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", CLIENT_MODULES)
def test_protocol_module_does_no_io_and_reads_no_clock(module: str) -> None:
    assert _imported_roots(PROTOCOL / module) & FORBIDDEN == set()
