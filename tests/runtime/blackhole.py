"""A TEST PROXY that can turn into a black hole: bytes stop flowing, sockets stay open.

This is the seed's failure made real on loopback: a load balancer that drops an idle
connection sends no FIN and no RST, so neither side's socket reports anything. While
``blackhole`` is set, both directions are read and discarded (nothing is forwarded, nothing is
closed), and new connections are accepted but get no answer either.
"""

from __future__ import annotations

import asyncio
import contextlib

_CHUNK = 65536


class BlackholeProxy:
    __test__ = False

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.blackhole = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await source.read(_CHUNK):
                if self.blackhole:
                    continue  # swallowed: no forward, no close
                sink.write(chunk)
                await sink.drain()
            if not self.blackhole:
                sink.close()  # pass a real FIN through when the link is healthy
