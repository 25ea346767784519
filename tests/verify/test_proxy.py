"""The fault proxy against a real TCP echo server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from selector.runtime.clock import SYSTEM_CLOCK, Clock, ManualClock
from selector.verify.proxy import FaultPolicy, FaultProxy, request_head
from tests.runtime.conftest import UNIT, eventually


class EchoServer:
    """Echoes bytes back; records whether each connection saw EOF or an error."""

    def __init__(self) -> None:
        self.ended: list[str] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
            self.ended.append("eof")
        except (ConnectionError, OSError):
            self.ended.append("error")
        finally:
            writer.close()


@asynccontextmanager
async def echo_through(
    policy: FaultPolicy, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[tuple[EchoServer, FaultProxy]]:
    echo = EchoServer()
    server = await asyncio.start_server(echo.handle, "127.0.0.1", 0)
    echo.port = server.sockets[0].getsockname()[1]
    proxy = FaultProxy(("127.0.0.1", echo.port), policy, clock=clock)
    try:
        async with proxy:
            yield echo, proxy
    finally:
        server.close()
        await server.wait_closed()


async def roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> bytes:
    writer.write(data)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(data)), 5 * UNIT)


def test_policy_is_pure_and_validated() -> None:
    policy = FaultPolicy(idle_timeout_s=10, max_lifetime_s=100)
    assert policy.due_fault(now=5, opened_at=0, last_activity=0) is None
    assert policy.due_fault(now=10, opened_at=0, last_activity=0) == ("silent_drop", "idle_timeout")
    assert policy.due_fault(now=100, opened_at=0, last_activity=99) == ("rst", "max_lifetime")
    assert policy.next_check(opened_at=0, last_activity=95) == 100
    with pytest.raises(ValueError, match="idle_timeout_s must be > 0"):
        FaultPolicy(idle_timeout_s=0)


async def test_forwards_both_ways_and_counts_bytes() -> None:
    async with echo_through(FaultPolicy()) as (echo, proxy):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await roundtrip(reader, writer, b"hello") == b"hello"
        writer.close()
        await eventually(lambda: echo.ended == ["eof"])  # the close passed through as FIN
        assert proxy.stats.bytes_upstream == 5
        assert proxy.stats.bytes_downstream == 5
        assert proxy.stats.connections == 1
        assert proxy.stats.drops == 0


async def test_silent_drop_keeps_both_sockets_open_and_swallows_bytes() -> None:
    clock = ManualClock()
    async with echo_through(FaultPolicy(idle_timeout_s=10), clock) as (echo, proxy):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await roundtrip(reader, writer, b"ping") == b"ping"
        await eventually(lambda: clock.sleepers == 1)  # the link's watchdog
        clock.advance(9.5)
        assert await roundtrip(reader, writer, b"ping") == b"ping"  # not yet idle long enough
        clock.advance(10)  # idle past the window
        await eventually(lambda: proxy.stats.faults == {"idle_timeout:silent_drop": 1})
        writer.write(b"lost")
        await writer.drain()  # the write "succeeds": nothing tells the sender
        await eventually(lambda: proxy.stats.bytes_swallowed == 4)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(1), UNIT)  # no data, no EOF, no error
        assert not reader.at_eof()
        assert echo.ended == []  # the server was told nothing either
        # The client gives up: the proxy releases its side and the server's stays open.
        writer.close()
        await eventually(lambda: proxy.stats.sides_released == 1)
        assert echo.ended == [] and proxy.stats.active == 1


async def test_traffic_keeps_a_connection_alive_past_the_idle_window() -> None:
    clock = ManualClock()
    async with echo_through(FaultPolicy(idle_timeout_s=3), clock) as (_, proxy):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        for _ in range(8):  # eight seconds, never three of them idle
            assert await roundtrip(reader, writer, b"beat") == b"beat"
            await eventually(lambda: clock.sleepers == 1)
            clock.advance(1)
        assert await roundtrip(reader, writer, b"beat") == b"beat"
        assert proxy.stats.drops == 0
        writer.close()


async def test_idle_rst_resets_the_client() -> None:
    clock = ManualClock()
    policy = FaultPolicy(idle_timeout_s=10, idle_action="rst")
    async with echo_through(policy, clock) as (echo, proxy):
        reader, _writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        await eventually(lambda: clock.sleepers == 1)
        clock.advance(10)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(1), 5 * UNIT)
        await eventually(lambda: echo.ended == ["error"])
        assert proxy.stats.faults == {"idle_timeout:rst": 1}
        _writer.close()


async def test_max_lifetime_ends_a_busy_connection() -> None:
    clock = ManualClock()
    policy = FaultPolicy(max_lifetime_s=60, lifetime_action="fin")
    async with echo_through(policy, clock) as (_, proxy):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
            for _ in range(100):
                await roundtrip(reader, writer, b"busy")
                await eventually(lambda: clock.sleepers == 1)
                clock.advance(1)
        assert clock.monotonic() == 60  # busy all along: ended by its age, not idleness
        assert proxy.stats.faults == {"max_lifetime:fin": 1}
        writer.close()


async def test_latency_is_added_each_way() -> None:
    clock = ManualClock()
    async with echo_through(FaultPolicy(latency_s=5), clock) as (_, proxy):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        echoed = asyncio.create_task(roundtrip(reader, writer, b"x"))
        await eventually(lambda: clock.sleepers == 1)  # on its way up
        clock.advance(4.5)
        await eventually(lambda: proxy.stats.bytes_upstream == 1)
        assert clock.sleepers == 1 and proxy.stats.bytes_downstream == 0
        clock.advance(0.5)
        await eventually(lambda: proxy.stats.bytes_downstream == 1)  # echoed, on its way down
        await eventually(lambda: clock.sleepers == 1)
        assert not echoed.done()
        clock.advance(5)
        assert await asyncio.wait_for(echoed, 5 * UNIT) == b"x"
        writer.close()


async def test_bandwidth_cap_slows_a_transfer() -> None:
    async with echo_through(FaultPolicy(bandwidth_bytes_per_s=20_000)) as (_, proxy):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        start = time.monotonic()
        data = b"z" * 4000
        writer.write(data)
        await writer.drain()
        await asyncio.wait_for(reader.readexactly(len(data)), 10)
        # 4000 bytes each way at 20 kB/s: at least 0.2 s one way.
        assert time.monotonic() - start >= 0.18
        writer.close()


async def test_cut_after_bytes_resets_mid_stream() -> None:
    async with echo_through(FaultPolicy(cut_after_bytes=10)) as (_, proxy):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"0123456789abcdef")
        await writer.drain()
        received = b""
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            for _ in range(20):
                chunk = await asyncio.wait_for(reader.read(100), 5 * UNIT)
                if not chunk:
                    raise asyncio.IncompleteReadError(received, None)
                received += chunk
        assert received in (b"", b"0123456789")
        assert proxy.stats.faults == {"cut:rst": 1}
        writer.close()


async def test_closing_the_proxy_ends_dropped_links() -> None:
    echo = EchoServer()
    server = await asyncio.start_server(echo.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = ManualClock()
    policy = FaultPolicy(idle_timeout_s=10)
    proxy = await FaultProxy(("127.0.0.1", port), policy, clock=clock).start()
    reader, _writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    await eventually(lambda: clock.sleepers == 1)
    clock.advance(10)
    await eventually(lambda: proxy.stats.faults == {"idle_timeout:silent_drop": 1})
    await proxy.close()
    assert await asyncio.wait_for(reader.read(1), 5 * UNIT) == b""
    _writer.close()
    server.close()
    await server.wait_closed()
    assert proxy.stats.active == 0


async def test_blackhole_drops_open_links_once_and_ignores_new_ones() -> None:
    clock = ManualClock()
    async with echo_through(FaultPolicy(idle_timeout_s=10), clock) as (echo, proxy):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await roundtrip(reader, writer, b"up") == b"up"
        proxy.blackhole = True
        writer.write(b"gone")
        await writer.drain()
        late_reader, late_writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        late_writer.write(b"hello?")
        await late_writer.drain()
        await eventually(lambda: proxy.stats.bytes_swallowed == len(b"gone" + b"hello?"))
        clock.advance(20)  # past the idle window: the dropped link is not counted again
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(1), UNIT)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(late_reader.read(1), UNIT / 10)
        assert proxy.stats.faults == {"forced:silent_drop": 1, "forced:ignored_connect": 1}
        assert echo.ended == []
        proxy.blackhole = False
        fresh_reader, fresh_writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await roundtrip(fresh_reader, fresh_writer, b"back") == b"back"
        for w in (writer, late_writer, fresh_writer):
            w.close()


async def test_closing_the_proxy_also_ends_connections_ignored_in_a_blackhole() -> None:
    echo = EchoServer()
    server = await asyncio.start_server(echo.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy = await FaultProxy(("127.0.0.1", port)).start()
    proxy.blackhole = True
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    await eventually(lambda: proxy.stats.faults == {"forced:ignored_connect": 1})
    await asyncio.wait_for(proxy.close(), 5 * UNIT)
    assert await asyncio.wait_for(reader.read(1), 5 * UNIT) == b""
    writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize(
    ("chunk", "head"),
    [
        (b"GET /ws?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", b"GET /ws?x=1 HTTP/1.1\r\nHost: a"),
        (b"POST /m HTTP/1.1\r\nA: b\r\n\r\n{}", b"POST /m HTTP/1.1\r\nA: b"),
        (b"GET /ws HTTP/1.1\r\nHost: a\r\n", None),  # the head is not complete
        (b'{"seq": 1} GET / HTTP/1.1\r\n\r\n', None),  # a body, not a request line
        (b"\x81\x85abcd\r\n\r\n", None),  # a WebSocket frame
        (b"get / HTTP/1.1\r\n\r\n", None),  # methods are upper case
    ],
)
def test_request_head_finds_only_a_complete_head_at_the_start(
    chunk: bytes, head: bytes | None
) -> None:
    assert request_head(chunk) == head
