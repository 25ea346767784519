"""The SSE fan-out path in one process, without sockets: Python work per delivered event.

    .venv/bin/python bench/publish_path.py [ROUNDS]        # time per delivery (noisy)
    bench/publish_instructions.sh [CHECKOUT]                # instructions per delivery (callgrind)

Drives ``selector serve``'s own application (defaults: in-memory store, no token) through
aiohttp's request handler, over transports that keep nothing: 100 ``GET /sse`` streams, and
per round 4 ``POST /publish`` requests read in one loop turn, which is the SSE fan-out load of
``bench/run.py`` (100 streams, 4 closed-loop publishers) with each burst of POSTs arriving
together. A round ends when the 4 answers and the fan-out are written. What it leaves out
is the system calls and how many POSTs share a flush on a real socket (bench/sse_writes.sh
counts those): the instruction count is the part of the server's CPU per delivery that the
code decides, and it does not move with the neighbours' load the way time does. Never run by
the tests.
"""

from __future__ import annotations

import asyncio
import sys
import time

import uvloop
from aiohttp import web

from selector.runtime.server.app import build_app
from selector.runtime.server.settings import ServerSettings

STREAMS = 100
PUBLISHERS = 4


class _DiscardingTransport(asyncio.Transport):
    """Counts writes and keeps nothing (the system call is not what this measures)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        if name == "peername":
            return ("127.0.0.1", 40000)
        if name == "sockname":
            return ("127.0.0.1", 8765)
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _connect(server: web.Server) -> tuple[asyncio.Protocol, _DiscardingTransport]:
    protocol = server()
    transport = _DiscardingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def _until(condition: object, turns: int = 1000) -> None:
    """Let the loop run until ``condition()`` holds (bounded)."""
    assert callable(condition)
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise SystemExit("the server did not get there in time")


async def _run(rounds: int) -> None:
    settings = ServerSettings(host="127.0.0.1", port=8765)
    runner = web.AppRunner(build_app(settings), handle_signals=False, access_log=None)
    await runner.setup()
    server = runner.server
    assert server is not None
    streams = []
    for n in range(STREAMS):
        protocol, transport = _connect(server)
        protocol.data_received(
            b"GET /sse?client_id=s%d HTTP/1.1\r\nHost: 127.0.0.1:8765\r\n\r\n" % n
        )
        streams.append(transport)
    publishers = [_connect(server) for _ in range(PUBLISHERS)]
    await _until(lambda: all(t.writes >= 2 for t in streams))  # head and position notice

    def post(t: int) -> bytes:
        body = b'{"event":"tick","data":{"t":%d}}' % (1_700_000_000_000 + t)
        return (
            b"POST /publish HTTP/1.1\r\nHost: 127.0.0.1:8765\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
        )

    async def one_round(t: int) -> None:
        answered = [transport.writes for _, transport in publishers]
        delivered = streams[-1].writes
        for protocol, _ in publishers:
            protocol.data_received(post(t))
        await _until(
            lambda: (
                streams[-1].writes > delivered
                and all(tr.writes > a for (_, tr), a in zip(publishers, answered, strict=True))
            )
        )

    for t in range(50):  # warm-up: caches, first contact
        await one_round(t)
    before = sum(t.writes for t in streams)
    started = time.perf_counter()
    for t in range(rounds):
        await one_round(t)
    elapsed = time.perf_counter() - started
    writes = sum(t.writes for t in streams) - before
    deliveries = rounds * PUBLISHERS * STREAMS
    print(
        f"{elapsed / deliveries * 1e6:.3f} us per delivery over {deliveries} deliveries "
        f"({writes / (rounds * PUBLISHERS):.1f} stream writes per publish)"
    )
    for transport in streams:
        transport.close()
    await runner.cleanup()


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    uvloop.run(_run(rounds))


if __name__ == "__main__":
    main()
