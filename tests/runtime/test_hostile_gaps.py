"""Hostile clients on the cells of the route x kind matrix (docs/wire-contract.md, "Hostile
clients") that no test showed for that route: request bodies dribbled slower than the header
timeout allows, a /rtc claim whose commit fails, /echo peers that stall or never read, a
store or log that refuses writes (HEAD /sse, /state, /metrics, /echo) and malformed input to
the read-only routes.

Real server on 127.0.0.1; each test asserts the refusal (status, counter or what was kept)
and that a well-behaved client is still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import struct
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.runtime.conftest import UNIT, arun, eventually, serving
from tests.runtime.test_hostile_matrix import (
    _JSON,
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


def _echo_upgrade(address: str) -> bytes:
    """The request that upgrades a raw socket to a WebSocket on ``/echo``."""
    return (
        f"GET /echo HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def test_an_echo_peer_that_never_reads_stops_being_read() -> None:
    """A peer that sends to /echo and never reads what comes back: the server stops reading
    it once the echo is backed up (its memory holds one message and the transport's buffer,
    not everything sent), and other clients are served meanwhile."""

    async def scenario() -> None:
        async with serving(echo=True) as (hub, address):
            loop = asyncio.get_running_loop()
            sock = await tiny_window(address)
            try:
                await loop.sock_sendall(sock, _echo_upgrade(address))
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
                await loop.sock_sendall(sock, _echo_upgrade(address))
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
    """/echo has no heartbeat: a peer that sends half a frame and stalls stays until the
    header timeout (15 s here, see below for its end). Until then the per-IP limit: stalled peers
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


# -- /echo: slow (a stalled, dribbling or silent peer) --------------------------------------


def _half_frame() -> bytes:
    """The start of a masked text frame of 100 bytes: 9 of them."""
    return bytes([0x81, 0x80 | 100]) + b"\0\0\0\0" + b'{"seq":1,'


@pytest.mark.parametrize("kind", ["stalled", "dribbling", "silent"])
def test_an_echo_peer_without_a_whole_message_is_closed_at_the_header_timeout(kind: str) -> None:
    """/echo has no heartbeat (conformance suites expect no pings): a whole message must
    arrive within the header timeout of the last one, as a POST body must (fixed: a peer
    stalled mid-frame, dribbling a frame or silent held its per-IP slot until it closed).
    It gets a 1008 close, the connection ends within the close timeout, and its slot is
    back."""

    async def scenario() -> None:
        timeout = 0.5 * UNIT
        async with serving(echo=True, header_timeout_s=timeout, close_timeout_s=0.5 * UNIT) as (
            hub,
            address,
        ):
            loop = asyncio.get_running_loop()
            reader, writer = await upgraded(address, "/echo")
            started = loop.time()

            async def send() -> None:
                if kind == "stalled":
                    writer.write(_half_frame())
                elif kind == "dribbling":
                    for byte in bytes([0x81, 0xFE, 0xFF, 0xFF]) + bytes(4) + b"x" * 1000:
                        writer.write(bytes([byte]))  # 1000 of 65535 bytes, 0.05 units apart
                        await asyncio.sleep(0.05 * UNIT)

            sending = asyncio.create_task(send())
            try:
                async with asyncio.timeout(5 * UNIT):
                    ended = await reader.read()  # the close frame, then the end
            finally:
                sending.cancel()
                writer.close()
            assert ended[:1] == b"\x88" and ended[2:4] == (1008).to_bytes(2, "big"), ended
            assert loop.time() - started < timeout + 0.5 * UNIT + 2 * UNIT
            assert hub.counters.rejected_connections == {"idle_timeout": 1}
            await eventually(lambda: not hub.registry.connections_by_ip)
            await healthy(address)

    arun(scenario())


def test_an_echo_peer_that_keeps_sending_whole_messages_is_not_closed() -> None:
    """The bound is per message, not on the connection: a peer sending a message every
    quarter of the header timeout outlives it several times and gets every echo."""
    from websockets.asyncio.client import connect

    async def scenario() -> None:
        timeout = 0.4 * UNIT
        async with serving(echo=True, header_timeout_s=timeout) as (hub, address):
            async with connect(f"ws://{address}/echo", ping_interval=None) as ws:
                for n in range(12):  # 3 header timeouts in all
                    await ws.send(f"m{n}")
                    assert await asyncio.wait_for(ws.recv(), 5 * UNIT) == f"m{n}"
                    await asyncio.sleep(timeout / 4)
            assert "idle_timeout" not in hub.counters.rejected_connections
            await eventually(lambda: not hub.registry.connections_by_ip)

    arun(scenario())


# -- a failed write to disk: HEAD /sse, /state, /metrics, and /echo's log ------------------


def test_a_head_on_sse_writes_nothing_so_a_refusing_disk_leaves_it_alone(tmp_path: Path) -> None:
    """HEAD /sse checks a claim and makes none: with a store that refuses every write, HEADs
    (with a secret on an unclaimed id) start no commit, so the server does not fail; the
    first stream that claims the id does."""

    async def scenario() -> None:
        async with serving(state_path=str(tmp_path / "s.db")) as (hub, address):
            hub.store.fail_commit = sqlite3.OperationalError("disk I/O error")  # type: ignore[attr-defined]
            for path in ("/sse?client_id=h&secret=s", "/sse?client_id=h", "/sse?client_id=i"):
                assert (await ask(address, "HEAD", path))[0] == 200
            assert "h" not in hub.session.identities
            assert not hub.failed.is_set() and hub.counters.store_commits == 0
            assert await ask(address, "GET", "/healthz") == (200, None)
            async with raw(address) as (r, w):  # the disk does refuse: a claim fails
                w.write(
                    f"GET /sse?client_id=h&secret=s HTTP/1.1\r\nHost: {address}\r\n\r\n".encode()
                )
                head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5 * UNIT)
                assert head.startswith(b"HTTP/1.1 200"), head
                await eventually(hub.failed.is_set)
            assert (await ask(address, "HEAD", "/sse?client_id=h&secret=other"))[0] == 200
            hub.store.fail_commit = None  # type: ignore[attr-defined]
            hub.rebuild()
            await healthy(address)

    arun(scenario())


def test_state_does_not_show_what_a_failed_commit_left_in_memory(tmp_path: Path) -> None:
    """A mutation whose commit failed was applied in memory and answered 503; until the
    state is rebuilt from the disk, /state answers 503 STORE_FAILED (fixed: it showed the
    unacked change, which the disk, and so the server after its restart, does not hold)."""
    state = str(tmp_path / "s.db")

    async def scenario() -> None:
        async with serving(state_path=state) as (hub, address):
            incr = {"client_id": "c", "seq": 1, "op": "incr", "data": {"key": "n"}}
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"http://{address}/mutations", json=incr) as answer,
            ):
                assert answer.status == 200
                incr["secret"] = (await answer.json())["secret"]
            hub.store.fail_commit = sqlite3.OperationalError("database or disk is full")  # type: ignore[attr-defined]
            refused = await ask(address, "POST", "/mutations", _JSON, {**incr, "seq": 2})
            assert refused == (503, "STORE_FAILED")
            assert await ask(address, "GET", "/state") == (503, "STORE_FAILED")
            assert await ask(address, "GET", "/state?client_id=c") == (503, "STORE_FAILED")
            hub.store.fail_commit = None  # type: ignore[attr-defined]
            hub.rebuild()
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://{address}/state?client_id=c") as answer,
            ):
                view = await answer.json()
            assert view["kv"] == {"n": 1} and view["high_water"] == 1  # what the disk holds
        async with serving(state_path=state) as (_hub, address):
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://{address}/state?client_id=c") as answer,
            ):
                view = await answer.json()
            assert view["kv"] == {"n": 1} and view["high_water"] == 1

    arun(scenario())


def _metric(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(line.split()[1])


def test_metrics_count_no_commit_the_disk_refused(tmp_path: Path) -> None:
    """``store_commits_total`` counts transactions on disk: a refused commit adds none, and
    /metrics is still served (it reads memory) while /healthz says the store failed."""

    async def scenario() -> None:
        async with serving(state_path=str(tmp_path / "s.db")) as (hub, address):
            url = f"http://{address}"
            body = {"client_id": "m", "seq": 1, "op": "noop"}
            async with aiohttp.ClientSession() as session:
                assert (await ask(address, "POST", "/mutations", _JSON, body))[0] == 200
                async with session.get(f"{url}/metrics") as answer:
                    before = _metric(await answer.text(), "store_commits_total")
                assert before >= 1
                hub.store.fail_commit = sqlite3.OperationalError("disk I/O error")  # type: ignore[attr-defined]
                publish = {"event": "e", "data": 1}
                assert await ask(address, "POST", "/publish", _JSON, publish) == (
                    503,
                    "STORE_FAILED",
                )
                async with session.get(f"{url}/metrics") as answer:
                    assert answer.status == 200
                    text = await answer.text()
                assert _metric(text, "store_commits_total") == before
                assert _metric(text, "events_published_total") == 1  # published, not committed
                assert await ask(address, "GET", "/healthz") == (503, None)
            hub.store.fail_commit = None  # type: ignore[attr-defined]
            hub.rebuild()
            await healthy(address)

    arun(scenario())


class _FullLog(logging.StreamHandler):  # type: ignore[type-arg]
    """A log handler writing to /dev/full (every flush fails with ENOSPC); counts failures."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.failures = 0

    def handleError(self, record: logging.LogRecord) -> None:
        self.failures += 1


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_echo_is_served_while_its_log_cannot_be_written() -> None:
    """/echo touches no store; what it writes besides the socket is log lines (a refusal,
    a drop). With the log on a full device every line fails, and the echo still works,
    refuses what it must with its status, and the server stays healthy."""
    from websockets.asyncio.client import connect

    logger = logging.getLogger("selector.runtime")

    async def scenario(handler: _FullLog) -> None:
        async with serving(echo=True, max_connections_per_ip=1) as (hub, address):
            async with connect(f"ws://{address}/echo", ping_interval=None) as ws:
                await ws.send("one")
                assert await asyncio.wait_for(ws.recv(), 5 * UNIT) == "one"
                failed = handler.failures
                assert await ws_status(address, "/echo", {}) == 429  # logged: http.refused
                assert handler.failures > failed  # that line could not be written
                await ws.send(b"two")
                assert await asyncio.wait_for(ws.recv(), 5 * UNIT) == b"two"
            assert hub.counters.rejected_connections == {"too_many_connections": 1}
            await eventually(lambda: not hub.registry.connections_by_ip)
            await healthy(address)

    full = open("/dev/full", "w")  # noqa: SIM115 (closed below; the close fails too)
    handler = _FullLog(full)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        arun(scenario(handler))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        with contextlib.suppress(OSError):  # what is still buffered cannot be written
            full.close()


# -- malformed input to the read-only routes ------------------------------------------------


async def _raw_answer(address: str, request: bytes) -> tuple[int, bytes]:
    """One raw HTTP/1.1 request (``Connection: close``); its status and body."""
    async with raw(address) as (r, w):
        w.write(request)
        async with asyncio.timeout(5 * UNIT):
            answer = await r.read()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("tokens", [(), ("right",)], ids=["open", "with-token"])
@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/rtc/log"])
def test_read_only_routes_answer_malformed_input_as_they_answer_none(
    path: str, tokens: tuple[str, ...]
) -> None:
    """/metrics, /healthz and /rtc/log read no parameter and no body: a query of junk, a
    body on the GET and credentials that are not UTF-8 get the answer a bare request gets
    (401 for /rtc/log when a token is needed), never a 400 or a 500."""

    async def scenario() -> None:
        async with serving(tokens=tokens) as (hub, address):
            head = f"Host: {address}\r\nConnection: close\r\n".encode()
            bare = await _raw_answer(address, f"GET {path} HTTP/1.1\r\n".encode() + head + b"\r\n")
            expected = 401 if tokens and path == "/rtc/log" else 200
            assert bare[0] == expected, bare
            hostile = [
                f"GET {path}?client_id=%00%ff&last_event_id=-1e9&token=%ff&x HTTP/1.1\r\n".encode()
                + head
                + b"\r\n",
                f"GET {path} HTTP/1.1\r\n".encode()
                + head
                + b"Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{not json",
                f"GET {path} HTTP/1.1\r\n".encode()
                + head
                + b"Authorization: Bearer \xff\xfe\x80\r\nCookie: selector_token=\xc3\x28\r\n\r\n",
            ]
            for request in hostile:
                status, body = await _raw_answer(address, request)
                assert status == expected, (request, status, body)
                if path != "/metrics":  # metrics move with the requests themselves
                    assert body == bare[1], request
            assert not hub.subscribers and len(hub.ledger) == 0
            if not tokens:
                await healthy(address)

    arun(scenario())
