"""The WebSocket ack path in one process, without sockets: Python work per acknowledged mutation.

    .venv/bin/python bench/ws_ack_path.py [N]              # time per ack (noisy on a shared box)
    bench/ws_ack_instructions.sh [CHECKOUT]                 # instructions per ack (callgrind)

Drives the server's own objects as ``selector serve`` wires them for ``/ws`` with its defaults
(in-memory store, no token): a :class:`WsConnection` per client over a transport that keeps
nothing, fed one masked text frame per read, ``{"seq": n, "op": "noop", "data": null}``, which
is the one-in-flight load of ``bench/run.py``. What it leaves out is the system calls (a read
and a write per ack) and the event loop: the instruction count is the part of the server's
CPU per ack that the code decides, and it does not move with the neighbours' load the way
time does. Never run by the tests.
"""

from __future__ import annotations

import asyncio
import sys
import time

import uvloop
from aiohttp.test_utils import make_mocked_request

from selector.runtime.server.app import _MutationReader
from selector.runtime.server.hub import Hub
from selector.runtime.server.settings import ServerSettings
from selector.runtime.server.store import MemoryStore
from selector.runtime.server.subscriber import Subscriber
from selector.runtime.server.websocket import WsConnection

CONNECTIONS = 50
_MASK = b"\x01\x02\x03\x04"


class _DiscardingTransport(asyncio.Transport):
    """Counts writes and keeps nothing (the system call is not what this measures)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


def _client_frame(text: bytes) -> bytes:
    """One masked, final text frame, as a browser sends it (RFC 6455 section 5.3)."""
    masked = bytes(byte ^ _MASK[i % 4] for i, byte in enumerate(text))
    return bytes([0x81, 0x80 | len(text)]) + _MASK + masked


async def _run(acks: int) -> None:
    hub = Hub(ServerSettings(), MemoryStore())
    connections: list[tuple[WsConnection, _DiscardingTransport]] = []
    for n in range(CONNECTIONS):
        transport = _DiscardingTransport()
        request = make_mocked_request("GET", f"/ws?client_id=c{n}", transport=transport)
        reader = _MutationReader(hub)
        conn = WsConnection(
            request, transport, reader, max_message_bytes=1 << 20, close_timeout_s=1
        )
        sub = Subscriber(
            conn_id=hub.registry.new_conn_id(),
            protocol="ws",
            client_id=f"c{n}",
            request=request,
            queue=hub.new_queue(),
            ws=conn,
        )
        reader.sub = sub
        hub.subscribe(sub, None)
        connections.append((conn, transport))
    per_connection = acks // CONNECTIONS + 1
    frames = [
        _client_frame(b'{"seq": %d, "op": "noop", "data": null}' % seq)
        for seq in range(1, per_connection + 1)
    ]
    for conn, _ in connections:  # first contact claims the id: not the steady state
        conn.data_received(frames[0])
    started = time.perf_counter()
    for frame in frames[1:]:
        for conn, _ in connections:
            conn.data_received(frame)
    elapsed = time.perf_counter() - started
    measured = (per_connection - 1) * CONNECTIONS
    written = sum(transport.writes for _, transport in connections)
    if written != per_connection * CONNECTIONS:
        raise SystemExit(f"expected one write per ack, got {written} for {measured} acks")
    print(f"{elapsed / measured * 1e6:.2f} us per ack over {measured} acks")


def main() -> None:
    acks = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    uvloop.run(_run(acks))


if __name__ == "__main__":
    main()
