"""Helpers for runtime tests: one timeout unit, and servers on 127.0.0.1 with a free port."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from selector.runtime.hub import Hub
from selector.runtime.server import running_server
from selector.runtime.settings import ServerSettings

T = TypeVar("T")

#: Every timing bound in these tests is a multiple of this; raise it on a slow CI machine.
UNIT = float(os.environ.get("SELECTOR_TEST_TIMEOUT_UNIT", "1"))


def arun(coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
    """Run ``coro`` in a fresh event loop, failing after ``timeout`` units."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout * UNIT):
            return await coro

    return asyncio.run(bounded())


@asynccontextmanager
async def serving(**overrides: Any) -> AsyncIterator[tuple[Hub, str]]:
    """A server on 127.0.0.1 with a free port; yields its hub and ``host:port``."""
    settings = ServerSettings(port=0, **overrides)
    async with running_server(settings) as (hub, port):
        yield hub, f"127.0.0.1:{port}"


async def eventually(predicate: Any, timeout: float = 5) -> None:
    """Wait until ``predicate()`` is true, polling; fails after ``timeout`` units."""
    async with asyncio.timeout(timeout * UNIT):
        while not predicate():
            await asyncio.sleep(0.01)
