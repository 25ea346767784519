"""/sse, POST /mutations and slow consumers, with a raw aiohttp client (no SSE library)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import aiohttp
import pytest

from selector.runtime.protocol.envelope import Publish
from selector.runtime.server.app import _MutationReader
from selector.runtime.server.hub import Hub
from selector.runtime.server.settings import ServerSettings
from selector.runtime.server.store import MemoryStore
from selector.runtime.server.websocket import WsConnection
from tests.runtime.conftest import (
    UNIT,
    RecordingTransport,
    arun,
    eventually,
    in_process_subscriber,
    serving,
)
from tests.runtime.test_server_ws import publish


class RawSse:
    """Reads an SSE response block by block (a block ends at a blank line)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.buffer = b""

    async def block(self) -> dict[str, Any]:
        async with asyncio.timeout(5 * UNIT):
            while b"\n\n" not in self.buffer:
                chunk = await self.response.content.readany()
                if not chunk:
                    raise EOFError(self.buffer)
                self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\n\n", 1)
        fields: dict[str, Any] = {}
        for line in raw.decode().split("\n"):
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value.removeprefix(" "))
        return fields

    async def event(self, max_comments: int = 1000) -> dict[str, Any]:
        """The next block that is not a comment (after at most ``max_comments`` comments:
        heartbeats at test rates send a handful)."""
        for _ in range(max_comments + 1):
            fields = await self.block()
            if "" not in fields:
                return fields
        raise AssertionError(f"no event after {max_comments} comment blocks")


def test_stream_headers_retry_hint_and_one_data_line_per_event() -> None:
    async def scenario() -> None:
        async with (
            serving(sse_retry_ms=1234) as (_, address),
            aiohttp.ClientSession() as s,
            s.get(f"http://{address}/sse?client_id=s1") as response,
        ):
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
            assert response.headers["Cache-Control"] == "no-cache"
            assert response.headers["X-Accel-Buffering"] == "no"
            stream = RawSse(response)
            assert await stream.block() == {"retry": ["1234"]}
            # a fresh stream learns where the stream stands, with an id EventSource keeps
            assert await stream.block() == {
                "id": ["0"],
                "event": ["position"],
                "data": ['{"latest":0}'],
            }
            event_id = await publish(address, "note", {"text": "a\nb"})
            event = await stream.event()
            assert event["id"] == [str(event_id)] and event["event"] == ["note"]
            assert len(event["data"]) == 1  # one data line: compact JSON
            assert json.loads(event["data"][0]) == {"text": "a\nb"}

    arun(scenario())


def test_last_event_id_header_wins_over_the_query() -> None:
    async def scenario() -> None:
        async with serving() as (_, address), aiohttp.ClientSession() as s:
            ids = [await publish(address, "tick", n) for n in range(4)]
            url = f"http://{address}/sse?client_id=s&last_event_id={ids[0]}"
            async with s.get(url, headers={"Last-Event-ID": str(ids[2])}) as response:
                stream = RawSse(response)
                await stream.block()  # retry
                assert (await stream.event())["id"] == [str(ids[3])]
            async with s.get(url) as response:  # query only
                stream = RawSse(response)
                await stream.block()
                assert [(await stream.event())["id"][0] for _ in range(3)] == [
                    str(i) for i in ids[1:]
                ]

    arun(scenario())


def test_resync_is_an_event_without_id() -> None:
    async def scenario() -> None:
        async with serving(replay_max_events=1) as (_, address), aiohttp.ClientSession() as s:
            ids = [await publish(address, "tick", n) for n in range(3)]
            headers = {"Last-Event-ID": "0"}
            async with s.get(f"http://{address}/sse?client_id=s", headers=headers) as response:
                stream = RawSse(response)
                await stream.block()
                notice = await stream.event()
                assert "id" not in notice and notice["event"] == ["resync"]
                data = json.loads(notice["data"][0])
                assert data == {"after": 0, "oldest": ids[2], "latest": ids[2]}

    arun(scenario())


def test_comment_heartbeats_and_shutdown_retry_hint() -> None:
    from selector.runtime.server.settings import Heartbeat

    beat = Heartbeat(ping_interval_s=5, pong_timeout_s=5, sse_comment_s=0.1)
    settings = {"heartbeat": beat, "shutdown_retry_after_ms": 700, "shutdown_retry_spread_ms": 0}

    async def scenario() -> None:
        async with serving(**settings) as (hub, address), aiohttp.ClientSession() as s:
            async with s.get(f"http://{address}/sse?client_id=s") as response:
                stream = RawSse(response)
                await stream.block()  # retry
                assert (await stream.block())["event"] == ["position"]
                assert await stream.block() == {"": ["hb"]}
                await hub.shutdown()
                blocks = []
                with pytest.raises(EOFError):
                    for _ in range(20):
                        blocks.append(await stream.block())
                assert blocks[-1] == {"retry": ["700"]}
            await eventually(lambda: not hub.subscribers)

    arun(scenario())


def test_http_mutations_share_ack_and_dedupe_with_ws() -> None:
    async def scenario() -> None:
        async with serving(max_message_bytes=2048) as (_, address), aiohttp.ClientSession() as s:
            url = f"http://{address}/mutations"
            body = {"client_id": "h", "seq": 3, "op": "incr", "data": {"key": "n", "by": 2}}
            async with s.post(url, json=body) as response:
                first = await response.json()
                secret = first.pop("secret")
                assert response.status == 200 and isinstance(secret, str)
                assert first == {"ack": 3, "status": "ok"}
            async with s.post(url, json={**body, "secret": "guess"}) as response:
                assert response.status == 403  # only the id's owner may act as it
                assert (await response.json())["error"] == "CLIENT_ID_TAKEN"
            async with s.post(url, json=body | {"secret": secret}) as response:
                again = await response.json()
                assert response.status == 200
                assert again == {"ack": 3, "status": "ok", "duplicate": True}
            as_json = {"Content-Type": "application/json"}
            async with s.post(url, data=b"{oops", headers=as_json) as response:
                assert response.status == 400
                assert (await response.json())["error"] == "INVALID_PAYLOAD"
            async with s.post(url, data=b"x" * 4096, headers=as_json) as response:
                assert response.status == 413
            async with s.get(f"http://{address}/state?client_id=h") as response:
                view = await response.json()
            assert view["kv"] == {"n": 2} and view["high_water"] == 3

    arun(scenario())


def test_token_by_cookie_for_event_source() -> None:
    async def scenario() -> None:
        async with serving(tokens=("t0k",)) as (_, address), aiohttp.ClientSession() as s:
            async with s.get(f"http://{address}/sse?client_id=s") as response:
                assert response.status == 401
            cookie = {"Cookie": "selector_token=t0k"}
            async with s.get(f"http://{address}/sse?client_id=s", headers=cookie) as response:
                assert response.status == 200
            async with s.post(f"http://{address}/publish", json={"event": "x"}) as response:
                assert response.status == 401

    arun(scenario())


_UPGRADE = (
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


async def _stalled_reader(address: str, protocol: str) -> socket.socket:
    """A client that sends its request (SSE, or a WebSocket upgrade) and then never reads,
    with a tiny receive buffer so the server's writes back up quickly."""
    host, port = address.rsplit(":", 1)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    extra = _UPGRADE if protocol == "ws" else ""
    request = f"GET /{protocol}?client_id=stalled HTTP/1.1\r\nHost: {address}\r\n{extra}\r\n"
    await asyncio.get_running_loop().sock_sendall(sock, request.encode())
    return sock


async def _flood(hub: Hub, address: str, until: Any, limit: int = 3000) -> None:
    payload = "x" * 8192
    async with aiohttp.ClientSession() as s:
        for _ in range(limit):
            async with s.post(f"http://{address}/publish", json={"event": "big", "data": payload}):
                pass
            if until():
                return
    pytest.fail(f"condition not reached after {limit} events")


@pytest.mark.parametrize("protocol", ["sse", "ws"])
@pytest.mark.parametrize("mode", ["reliable", "best_effort"])
def test_a_stalled_consumer_never_grows_memory(mode: str, protocol: str) -> None:
    async def scenario() -> None:
        limits = {"queue_max_frames": 50, "queue_max_bytes": 64 * 1024, "delivery": mode}
        async with serving(**limits) as (hub, address):
            sock = await _stalled_reader(address, protocol)
            try:
                await eventually(lambda: len(hub.subscribers) == 1)
                (sub,) = hub.subscribers.values()
                if mode == "reliable":
                    await _flood(hub, address, lambda: hub.counters.slow_disconnects[protocol] == 1)
                    await eventually(lambda: not hub.subscribers)
                else:
                    await _flood(hub, address, lambda: hub.counters.slow_skips[protocol] >= 20)
                    assert sub.queue.pending_bytes <= 64 * 1024 and len(hub.subscribers) == 1
            finally:
                sock.close()
            await eventually(lambda: not hub.subscribers)

    arun(scenario(), timeout=60)


def test_a_stalled_websocket_is_reaped_without_stalling_the_heartbeat_of_others() -> None:
    from websockets.asyncio.client import connect

    from selector.runtime.server.settings import Heartbeat

    beat = Heartbeat(ping_interval_s=0.2, pong_timeout_s=0.4, sse_comment_s=5)

    async def scenario() -> None:
        settings = {"heartbeat": beat, "delivery": "best_effort", "queue_max_bytes": 64 * 1024}
        async with serving(**settings) as (hub, address):
            sock = await _stalled_reader(address, "ws")
            try:
                async with connect(f"ws://{address}/ws?client_id=healthy") as healthy:
                    heartbeats: list[float] = []

                    async def read_healthy() -> None:
                        async for message in healthy:
                            if json.loads(message).get("event") == "heartbeat":
                                heartbeats.append(asyncio.get_running_loop().time())

                    reading = asyncio.create_task(read_healthy())
                    await eventually(lambda: len(hub.subscribers) == 2)
                    # fill the stalled peer's buffers so its writes block; on a loaded machine
                    # the pong deadline can reap it before five skips, which is the same outcome
                    await _flood(
                        hub,
                        address,
                        lambda: hub.counters.slow_skips["ws"] >= 5 or hub.counters.reaped >= 1,
                    )
                    await eventually(lambda: hub.counters.reaped >= 1, timeout=10)
                    seen = len(heartbeats)
                    await eventually(lambda: len(heartbeats) >= seen + 3)  # the task still runs
                    assert hub.counters.reaped == 1
                    assert [s.client_id for s in hub.subscribers.values()] == ["healthy"]
                    reading.cancel()
            finally:
                sock.close()

    arun(scenario(), timeout=60)


def test_a_client_that_never_reads_its_acks_is_disconnected() -> None:
    def masked_text(payload: bytes) -> bytes:
        assert len(payload) < 126
        return bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload  # zero mask

    async def scenario() -> None:
        async with serving(queue_max_bytes=32 * 1024) as (hub, address):
            sock = await _stalled_reader(address, "ws")
            loop = asyncio.get_running_loop()
            try:
                await eventually(lambda: len(hub.subscribers) == 1)
                seq = 0
                # Kernel buffers on loopback absorb a few MB of acks before the server sees any
                # backlog: bounded at 1000 bursts of 500 mutations (~13 MB of acks)
                for _ in range(1000):
                    burst = b"".join(
                        masked_text(b'{"seq":%d,"op":"incr","data":{"key":"n"}}' % (seq + i))
                        for i in range(1, 501)
                    )
                    seq += 500
                    try:
                        await asyncio.wait_for(loop.sock_sendall(sock, burst), 2 * UNIT)
                    except (OSError, TimeoutError):
                        break  # the server dropped us (or stopped reading)
                    if hub.counters.slow_disconnects["ws"]:
                        break
                await eventually(lambda: hub.counters.slow_disconnects["ws"] == 1, timeout=10)
                await eventually(lambda: not hub.subscribers)
            finally:
                sock.close()

    arun(scenario(), timeout=60)


def test_a_lone_message_whose_ack_finds_the_buffer_over_the_bound_disconnects() -> None:
    # The one-message read writes its ack at once (Hub.reply_now), not through the
    # end-of-read list: the same bound applies there. In process, over a transport whose
    # buffer never drains.
    async def scenario() -> None:
        hub = Hub(ServerSettings(queue_max_bytes=32 * 1024), MemoryStore())
        transport = RecordingTransport(buffered=10**6)  # a peer that never drains
        reader = _MutationReader(hub)
        sub = in_process_subscriber(
            hub,
            "ws",
            transport,
            ws=lambda request: WsConnection(
                request, transport, reader, max_message_bytes=1024, close_timeout_s=1
            ),
        )
        reader.sub = sub
        conn = sub.ws
        assert conn is not None
        hub.subscribe(sub, None)
        payload = b'{"seq":1,"op":"incr","data":{"key":"n"}}'
        conn.data_received(bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
        assert json.loads(transport.written[-1][2:])["ack"] == 1
        assert hub.counters_now().messages_out["ws"] == 1
        assert hub.counters.slow_disconnects["ws"] == 1
        assert transport.aborted and not hub.subscribers

    arun(scenario())


def test_an_http_1_0_stream_is_not_chunked() -> None:
    async def scenario() -> bytes:
        async with serving() as (hub, address):
            host, port = address.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET /sse?client_id=old HTTP/1.0\r\n\r\n")
            await eventually(lambda: len(hub.subscribers) == 1)
            hub.publish(Publish(event="tick", data=7))
            received = b""
            async with asyncio.timeout(5 * UNIT):
                while b"data: 7\n\n" not in received:
                    received += await reader.read(4096)
            writer.close()
            await writer.wait_closed()
            return received

    head, _, body = arun(scenario()).partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head
    assert body == (
        b"retry: 2000\n\n"
        b'id: 0\nevent: position\ndata: {"latest":0}\n\n'
        b"id: 1\nevent: tick\ndata: 7\n\n"
    )
