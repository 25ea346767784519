"""Hostile clients on the cells of the route x kind matrix (docs/wire-contract.md, "Hostile
clients") that no test showed for that route: request bodies dribbled slower than the header
timeout allows, a /rtc claim whose commit fails, and /echo peers that stall or never read.

Real server on 127.0.0.1; each test asserts the refusal (status, counter or what was kept)
and that a well-behaved client is still served.
"""

from __future__ import annotations

import asyncio
import sqlite3
import struct
from pathlib import Path

import pytest

from tests.runtime.conftest import UNIT, arun, eventually, serving
from tests.runtime.test_hostile_matrix import (
    EVENT_BODY,
    MUTATION_BODY,
    ask,
    healthy,
    needs_aiortc,
    tiny_window,
)
from tests.runtime.test_server_edge import raw, upgraded, ws_status

# -- slow: a body that keeps coming, one byte at a time ------------------------------------


@pytest.mark.parametrize("path", ["/mutations", "/publish"])
def test_a_dribbled_post_body_is_cut_at_the_header_timeout(path: str) -> None:
    """Each byte arrives well within the timeout, the whole body never does: the bound is on
    the body, not on the gap between bytes (slowloris on the body)."""
    body = (MUTATION_BODY if path == "/mutations" else EVENT_BODY).ljust(120)  # valid JSON, padded

    async def scenario() -> None:
        timeout = 0.5 * UNIT
        async with serving(header_timeout_s=timeout) as (hub, address), raw(address) as (r, w):
            loop = asyncio.get_running_loop()
            started = loop.time()
            w.write(
                f"POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
            )

            async def dribble() -> None:
                for byte in body:  # 120 bytes at 0.05 units each: 6 units in all
                    w.write(bytes([byte]))
                    try:
                        await w.drain()
                    except ConnectionError:
                        return  # the server closed the connection
                    await asyncio.sleep(0.05 * UNIT)

            dribbling = asyncio.create_task(dribble())
            try:
                async with asyncio.timeout(5 * UNIT):
                    answer = await r.readuntil(b"}")
            finally:
                dribbling.cancel()
            assert answer.startswith(b"HTTP/1.1 408") and b'"REQUEST_TIMEOUT"' in answer
            assert loop.time() - started < timeout + 2 * UNIT  # not the 6 units of the body
            assert hub.replay.latest == 0 and len(hub.ledger) == 0  # nothing applied
            await healthy(address)

    arun(scenario())


# -- a failed write to disk on /rtc --------------------------------------------------------


@needs_aiortc
def test_a_claim_by_an_rtc_open_is_not_kept_when_its_commit_fails(tmp_path: Path) -> None:
    """/rtc claims an unclaimed id opened with a secret (as /ws and /sse do); the claim is
    committed with its group, and one the disk did not take is not kept, in memory or on
    disk."""
    state = str(tmp_path / "s.db")

    async def scenario() -> None:
        async with serving(state_path=state) as (hub, address):
            hub.store.fail_commit = sqlite3.OperationalError("disk I/O error")  # type: ignore[attr-defined]
            _reader, writer = await upgraded(address, "/rtc?client_id=r&secret=chosen")
            try:  # the signalling WebSocket opens (nothing is acked), its claim fails
                await eventually(hub.failed.is_set)
            finally:
                writer.close()
            await eventually(lambda: not hub.registry.connections_by_ip)
            # Not kept in memory, before any reload from disk: another secret is not
            # refused (a HEAD checks the claim and claims nothing).
            assert (await ask(address, "HEAD", "/sse?client_id=r&secret=other"))[0] == 200
            hub.store.fail_commit = None  # type: ignore[attr-defined]
            hub.rebuild()
            assert (await ask(address, "HEAD", "/sse?client_id=r&secret=other"))[0] == 200
            # The id is still free: its real owner claims it with its own secret.
            async with raw(address) as (r, w):
                w.write(
                    f"GET /sse?client_id=r&secret=own HTTP/1.1\r\nHost: {address}\r\n\r\n".encode()
                )
                head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5 * UNIT)
                assert head.startswith(b"HTTP/1.1 200"), head
                await eventually(lambda: len(hub.subscribers) == 1)
                assert await ask(address, "HEAD", "/sse?client_id=r&secret=chosen") == (403, None)
            await healthy(address)
        async with serving(state_path=state) as (hub, address):
            # On disk: the owner's claim, not the failed one.
            assert (await ask(address, "HEAD", "/sse?client_id=r&secret=own"))[0] == 200
            refused = await ask(address, "GET", "/sse?client_id=r&secret=chosen")
            assert refused == (403, "CLIENT_ID_TAKEN")

    arun(scenario())


# -- /echo: never reading, and stalled mid-frame -------------------------------------------


def _binary_frame(size: int) -> bytes:
    """One final masked binary frame of ``size`` zero bytes (zero mask key)."""
    assert 126 <= size < 65536
    return bytes([0x82, 0x80 | 126]) + struct.pack("!H", size) + b"\0\0\0\0" + b"\0" * size


def test_an_echo_peer_that_never_reads_stops_being_read() -> None:
    """A peer that sends to /echo and never reads what comes back: the server stops reading
    it once the echo is backed up (its memory holds one message and the transport's buffer,
    not everything sent), and other clients are served meanwhile."""

    async def scenario() -> None:
        async with serving(echo=True) as (hub, address):
            loop = asyncio.get_running_loop()
            sock = await tiny_window(address)
            try:
                await loop.sock_sendall(
                    sock,
                    f"GET /echo HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n".encode(),
                )
                head = b""
                async with asyncio.timeout(5 * UNIT):
                    while b"\r\n\r\n" not in head:
                        chunk = await loop.sock_recv(sock, 1)
                        assert chunk, head
                        head += chunk
                assert head.startswith(b"HTTP/1.1 101"), head
                message = _binary_frame(60000)
                sent = 0
                for _ in range(2000):  # ~120 MB at most; kernel buffers take a few MB
                    try:
                        await asyncio.wait_for(loop.sock_sendall(sock, message), 0.5 * UNIT)
                    except TimeoutError:
                        break
                    sent += len(message)
                else:
                    pytest.fail("the server kept reading what it could not echo")
                # Stalled after a bounded amount: the server stopped reading this peer.
                assert sent < 64 * 2**20, sent
                assert hub.registry.connections_by_ip == {"127.0.0.1": 1}
                await healthy(address)  # another client is served while the hog sits there
            finally:
                sock.close()
            await eventually(lambda: not hub.registry.connections_by_ip)  # its slot is back

    arun(scenario(), timeout=60)


def test_an_echo_peer_that_never_reads_is_dropped_at_the_header_timeout() -> None:
    """The same peer, left alone: what the server echoed must be taken within the header
    timeout, the policy of every plain answer (``slow_reader``), so it is dropped and its
    per-IP slot comes back while its socket is still open, instead of being held for ever."""

    async def scenario() -> None:
        timeout = 0.5 * UNIT
        async with serving(echo=True, header_timeout_s=timeout) as (hub, address):
            loop = asyncio.get_running_loop()
            sock = await tiny_window(address)
            try:
                await loop.sock_sendall(
                    sock,
                    f"GET /echo HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n".encode(),
                )
                await eventually(lambda: hub.registry.connections_by_ip == {"127.0.0.1": 1})
                message = _binary_frame(60000)
                for _ in range(2000):  # until the server stops reading, or drops the peer
                    try:
                        await asyncio.wait_for(loop.sock_sendall(sock, message), 0.2 * UNIT)
                    except (TimeoutError, ConnectionError):
                        break
                else:
                    pytest.fail("the server kept reading what it could not echo")
                # Never read, never closed by the client: the server ends it.
                await eventually(lambda: not hub.registry.connections_by_ip, 10 * timeout)
                assert hub.counters.rejected_connections == {"slow_reader": 1}
                await healthy(address)
            finally:
                sock.close()

    arun(scenario(), timeout=60)


def test_a_stalled_echo_peer_holds_only_its_per_ip_slot() -> None:
    """/echo has no heartbeat (an open item of the matrix): a peer that sends half a frame
    and stalls stays until it closes. What bounds it is the per-IP limit: stalled peers
    take their own slots and no more, a further opener is refused with 429, the routes
    outside the limit are served, and the slots come back when the peers close."""

    async def scenario() -> None:
        async with serving(echo=True, max_connections_per_ip=2) as (hub, address):
            stalled = [await upgraded(address, "/echo") for _ in range(2)]
            try:
                for _reader, writer in stalled:  # a frame of 100 bytes, 9 of them sent
                    writer.write(bytes([0x81, 0x80 | 100]) + b"\0\0\0\0" + b'{"seq":1,')
                await eventually(lambda: hub.registry.connections_by_ip == {"127.0.0.1": 2})
                assert await ws_status(address, "/echo", {}) == 429
                assert hub.counters.rejected_connections == {"too_many_connections": 1}
                assert await ask(address, "GET", "/healthz") == (200, None)
            finally:
                for _reader, writer in stalled:
                    writer.close()
            await eventually(lambda: not hub.registry.connections_by_ip)
            await healthy(address)

    arun(scenario())
