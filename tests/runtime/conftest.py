"""Helpers for runtime tests: one timeout unit, and servers on 127.0.0.1 with a free port."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from selector.runtime.clock import SYSTEM_CLOCK, Clock
from selector.runtime.server.app import running_server
from selector.runtime.server.hub import Hub
from selector.runtime.server.settings import ServerSettings
from selector.runtime.server.subscriber import Route, Subscriber
from selector.runtime.server.websocket import WsConnection

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
async def serving(clock: Clock = SYSTEM_CLOCK, **overrides: Any) -> AsyncIterator[tuple[Hub, str]]:
    """A server on 127.0.0.1 with a free port; yields its hub and ``host:port``."""
    settings = ServerSettings(port=0, **overrides)
    async with running_server(settings, clock) as (hub, port):
        yield hub, f"127.0.0.1:{port}"


async def eventually(predicate: Any, timeout: float = 5) -> None:
    """Wait until ``predicate()`` is true, polling; fails after ``timeout`` units."""
    async with asyncio.timeout(timeout * UNIT):
        while not predicate():
            await asyncio.sleep(0.01)


class RecordingTransport(asyncio.Transport):
    """An in-process transport that keeps every write (one entry per write call) and reports
    ``buffered`` bytes as unsent (``10**6``: a peer that never drains)."""

    def __init__(self, buffered: int = 0) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.aborted = False
        self.buffered = buffered

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return self.buffered


def in_process_subscriber(
    hub: Hub,
    route: Route,
    transport: RecordingTransport,
    ws: Callable[[web.Request], WsConnection] | None = None,
) -> Subscriber:
    """A subscriber of client ``c`` whose stream writes to ``transport`` (not subscribed yet);
    ``ws`` makes its WebSocket connection from the stream's request."""
    request = make_mocked_request("GET", f"/{route}?client_id=c", transport=transport)
    return Subscriber(
        conn_id=hub.registry.new_conn_id(),
        route=route,
        client_id="c",
        request=request,
        queue=hub.new_queue(),
        ws=None if ws is None else ws(request),
    )


class subscribe:  # lower case: used like the ``connect`` it wraps
    """``websockets`` ``connect`` to ``/ws`` that also reads the ``position`` frame a fresh
    subscriber (no ``last_event_id``) gets first; ``position`` holds its ``latest``.

    Use as ``async with subscribe(url) as ws`` or ``ws = await subscribe(url)``.
    """

    def __init__(self, url: str, **options: Any) -> None:
        from websockets.asyncio.client import connect

        self._connect = connect(url, **options)
        self._fresh = "last_event_id=" not in url
        self.position: int | None = None
        self._ws: Any = None

    async def _open(self) -> Any:
        import json

        ws = await self._connect
        if self._fresh:
            first = json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))
            assert first["event"] == "position" and "id" not in first, first
            self.position = first["data"]["latest"]
        return ws

    def __await__(self) -> Any:
        return self._open().__await__()

    async def __aenter__(self) -> Any:
        self._ws = await self._open()
        return self._ws

    async def __aexit__(self, *exc_info: object) -> None:
        await self._ws.close()


def client_options(**options: object) -> dict[str, object]:
    """Reconnecting-client options for tests: fast backoff, a generous silence timeout;
    ``options`` override them."""
    from selector.runtime.protocol.backoff import Backoff

    options.setdefault("backoff", Backoff(base=0.02 * UNIT, cap=0.2 * UNIT))
    options.setdefault("silence_timeout", 5 * UNIT)
    return options


class StreamOpens(logging.Handler):
    """Records the server's ``ws.open`` / ``sse.open`` log lines with the loop time they were
    written at: which streams opened, resuming from which id, and when."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.opens: list[tuple[float, dict[str, Any]]] = []
        self._logger = logging.getLogger("selector.runtime.connection")

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(record.getMessage())
        if line["event"] in ("ws.open", "sse.open"):
            self.opens.append((asyncio.get_running_loop().time(), line))

    def __enter__(self) -> StreamOpens:
        self._level = self._logger.level
        self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)
