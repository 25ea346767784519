"""Hostile clients against every route of a real server on 127.0.0.1: oversized, malformed,
out-of-range, impersonating, slow and never-reading clients, and a failed write to disk.

The coverage matrix (route x kind -> the test that shows the refusal, here or in the other
runtime modules, and the cells that do not apply, with why) is in docs/wire-contract.md,
"Hostile clients". Each test here asserts the documented refusal (status or close code and
JSON error code), that nothing was applied, and that a well-behaved client is still served.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from selector.runtime.clock import ManualClock
from selector.runtime.rtc import aiortc_available
from selector.runtime.rtc.channels import SCTP_DEFAULT_MESSAGE_BYTES, reply_limit
from tests.runtime.conftest import UNIT, arun, eventually, serving, subscribe
from tests.runtime.test_server_edge import upgraded

needs_aiortc = pytest.mark.skipif(
    not aiortc_available(), reason="aiortc missing: pip install '.[webrtc]'"
)
_JSON = {"Content-Type": "application/json"}


async def ask(
    address: str, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, str | None]:
    """One plain HTTP request (no upgrade); its status and JSON error code (None if none)."""
    data = None if body is None else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"http://{address}{path}", headers=headers, data=data) as answer,
    ):
        raw = await answer.read()
        if answer.content_type != "application/json" or not raw:
            return answer.status, None
        return answer.status, json.loads(raw).get("error")


async def healthy(address: str) -> None:
    """A well-behaved client is still served: health, a mutation acked, a stream opened."""
    assert await ask(address, "GET", "/healthz") == (200, None)
    async with subscribe(f"ws://{address}/ws?client_id=well-behaved") as ws:
        await ws.send(json.dumps({"seq": 1, "op": "noop"}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))
        assert ack["ack"] == 1 and "duplicate" not in ack


# Every route the server exposes (``--echo`` on), as a plain request: the edge and the
# admission checks run before any upgrade, so a handshake is not needed to be refused.
EVERY_ROUTE = [
    ("GET", "/ws?client_id=h"),
    ("GET", "/sse?client_id=h"),
    ("HEAD", "/sse?client_id=h"),
    ("POST", "/mutations"),
    ("POST", "/publish"),
    ("GET", "/state"),
    ("GET", "/echo"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/rtc?client_id=h"),
    ("GET", "/rtc/log"),
    ("GET", "/nowhere"),
]
_BODIES = {
    "/mutations": {"client_id": "h", "seq": 1, "op": "noop"},
    "/publish": {"event": "e", "data": 1},
}


def _route_id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1].split('?')[0]}"


# -- impersonating: Host, token, Origin, client id -----------------------------------------


@pytest.mark.parametrize("route", EVERY_ROUTE, ids=_route_id)
def test_a_forged_host_is_refused_on_every_route(route: tuple[str, str]) -> None:
    method, path = route

    async def scenario() -> None:
        async with serving(echo=True) as (hub, address):
            port = address.rsplit(":", 1)[1]
            forged = {"Host": f"evil.example:{port}", **_JSON}
            status, error = await ask(
                address, method, path, forged, _BODIES.get(path.split("?")[0])
            )
            assert status == 403
            assert error == ("FORBIDDEN_HOST" if method != "HEAD" else None)  # HEAD: no body
            assert hub.counters.rejected_connections == {"forbidden_host": 1}
            assert not hub.subscribers and hub.store.view()["kv"] == {} and hub.replay.latest == 0
            await healthy(address)

    arun(scenario())


GUARDED = [r for r in EVERY_ROUTE if r[1].split("?")[0] not in ("/metrics", "/healthz", "/nowhere")]


@pytest.mark.parametrize("token", [None, "wrong"], ids=["no-token", "wrong-token"])
@pytest.mark.parametrize("route", GUARDED, ids=_route_id)
def test_a_missing_or_wrong_token_is_refused_on_every_guarded_route(
    route: tuple[str, str], token: str | None
) -> None:
    method, path = route
    body = _BODIES.get(path.split("?")[0])

    async def scenario() -> None:
        async with serving(echo=True, tokens=("right",)) as (hub, address):
            headers = dict(_JSON)
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            status, error = await ask(address, method, path, headers, body)
            assert (status, error) == (401, "UNAUTHORIZED" if method != "HEAD" else None)
            assert not hub.subscribers and hub.replay.latest == 0 and len(hub.ledger) == 0
            # The right token gets past the check (the plain GETs of upgrade routes are then
            # refused for what they lack, never 401).
            right = {**_JSON, "Authorization": "Bearer right"}
            if path.startswith(("/ws", "/echo", "/rtc?", "/sse")) and method == "GET":
                return  # a plain GET would open (or upgrade) a stream: shown elsewhere
            status, _ = await ask(address, method, path, right, body)
            assert status == 200, path

    arun(scenario())


def test_metrics_and_healthz_are_open_by_design_with_a_token() -> None:
    async def scenario() -> None:
        async with serving(tokens=("right",)) as (_hub, address):
            assert (await ask(address, "GET", "/metrics"))[0] == 200
            assert await ask(address, "GET", "/healthz") == (200, None)

    arun(scenario())


@needs_aiortc
def test_rtc_log_needs_the_token_like_state() -> None:
    async def scenario() -> None:
        async with serving(tokens=("right",)) as (_hub, address):
            assert await ask(address, "GET", "/rtc/log") == (401, "UNAUTHORIZED")
            wrong = {"Authorization": "Bearer wrong"}
            assert await ask(address, "GET", "/rtc/log", wrong) == (401, "UNAUTHORIZED")
            assert (await ask(address, "GET", "/rtc/log?token=right"))[0] == 200
            async with (
                aiohttp.ClientSession(cookies={"selector_token": "right"}) as session,
                session.get(f"http://{address}/rtc/log") as response,
            ):
                assert await response.json() == {"open_peers": 0, "received": [], "forgotten": 0}
        async with serving() as (_hub, address):  # without --token, open as /state is
            assert (await ask(address, "GET", "/rtc/log"))[0] == 200

    arun(scenario())


BROWSER_ROUTES = [
    ("GET", "/ws?client_id=victim&secret=attacker-secret"),
    ("GET", "/sse?client_id=victim&secret=attacker-secret"),
    ("HEAD", "/sse?client_id=victim"),
    ("POST", "/mutations"),
    ("POST", "/publish"),
    ("GET", "/echo"),
    ("GET", "/rtc?client_id=victim&secret=attacker-secret"),
]


@pytest.mark.parametrize("route", BROWSER_ROUTES, ids=_route_id)
def test_a_page_of_another_site_is_refused_on_every_route_a_browser_can_open(
    route: tuple[str, str],
) -> None:
    """The server's own Host, a foreign Origin: what a visitor's browser sends for a page of
    another site. /sse included: the server sends no CORS headers, so such a page could not
    read the stream, but without the check its request would still open one and claim an
    unclaimed id with the attacker's secret."""
    method, path = route
    body = _BODIES.get(path.split("?")[0])
    if path == "/mutations":
        body = {"client_id": "victim", "seq": 1, "op": "noop", "secret": "attacker-secret"}

    async def scenario() -> None:
        async with serving(echo=True) as (hub, address):
            evil = {"Origin": "https://evil.example", **_JSON}
            status, error = await ask(address, method, path, evil, body)
            assert (status, error) == (403, "FORBIDDEN_ORIGIN" if method != "HEAD" else None)
            assert "victim" not in hub.session.identities and not hub.subscribers
            assert hub.replay.latest == 0
            await healthy(address)
            # The id is still free for its real owner, from the server's own origin.
            own = {"Origin": f"http://{address}"}
            url = f"ws://{address}/ws?client_id=victim&secret=own-secret"
            async with subscribe(url, additional_headers=own) as ws:
                await ws.send(json.dumps({"seq": 1, "op": "noop"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))["ack"] == 1

    arun(scenario())


def test_same_origin_event_source_still_opens() -> None:
    async def scenario() -> None:
        async with serving() as (hub, address), aiohttp.ClientSession() as session:
            own = {"Origin": f"http://{address}"}
            async with session.get(f"http://{address}/sse?client_id=es", headers=own) as stream:
                assert stream.status == 200
                await eventually(lambda: len(hub.subscribers) == 1)

    arun(scenario())


@needs_aiortc
def test_head_sse_and_rtc_cannot_act_as_a_claimed_client() -> None:
    async def scenario() -> None:
        async with serving() as (hub, address):
            owner = f"ws://{address}/ws?client_id=victim&secret=victim-secret"
            async with subscribe(owner) as ws:
                await eventually(lambda: "victim" in hub.session.identities)
                for method, path in (
                    ("HEAD", "/sse?client_id=victim"),
                    ("HEAD", "/sse?client_id=victim&secret=guess"),
                    ("GET", "/sse?client_id=victim&secret=guess"),
                    ("GET", "/rtc?client_id=victim"),
                    ("GET", "/rtc?client_id=victim&secret=guess"),
                ):
                    status, error = await ask(address, method, path)
                    expected = None if method == "HEAD" else "CLIENT_ID_TAKEN"
                    assert (status, error) == (403, expected), path
                # the owner's stream lives on and is served
                assert [s.client_id for s in hub.subscribers.values()] == ["victim"]
                await ws.send(json.dumps({"seq": 1, "op": "noop"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))["ack"] == 1

    arun(scenario())


# -- oversized, malformed, out of range ----------------------------------------------------


@pytest.mark.parametrize("path", ["/mutations", "/publish"])
def test_an_oversized_chunked_post_without_a_length_is_413(path: str) -> None:
    async def scenario() -> None:
        async with serving(max_message_bytes=1024) as (hub, address):

            async def chunks() -> Any:
                for _ in range(4):  # 2 KiB in all, no Content-Length
                    yield b" " * 512

            async with (
                aiohttp.ClientSession() as session,
                session.post(f"http://{address}{path}", data=chunks(), headers=_JSON) as answer,
            ):
                assert answer.status == 413
                assert (await answer.json())["error"] == "TOO_LARGE"
            assert hub.replay.latest == 0 and len(hub.ledger) == 0
            await healthy(address)

    arun(scenario())


@pytest.mark.parametrize("path", ["/mutations", "/publish"])
def test_an_oversized_chunked_post_that_arrives_in_one_read_is_413(path: str) -> None:
    # The whole body is there when the handler starts: it is taken at once, not read in a
    # loop, and the same bound applies.
    async def scenario() -> bytes:
        async with serving(max_message_bytes=1024) as (hub, address):
            host, port = address.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            chunks = b"200\r\n" + b" " * 512 + b"\r\n"
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n".encode()
                + chunks * 4
                + b"0\r\n\r\n"
            )
            async with asyncio.timeout(5 * UNIT):
                answer = await reader.readuntil(b"}")
            writer.close()
            assert hub.replay.latest == 0 and len(hub.ledger) == 0
            await healthy(address)
            return answer

    head, _, body = arun(scenario()).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["error"] == "TOO_LARGE"


def test_a_mutation_body_over_the_limit_is_413() -> None:
    async def scenario() -> None:
        async with serving(max_message_bytes=1024) as (hub, address):
            body = {
                "client_id": "c",
                "seq": 1,
                "op": "set",
                "data": {"key": "k", "value": "x" * 2000},
            }
            assert await ask(address, "POST", "/mutations", _JSON, body) == (413, "TOO_LARGE")
            assert hub.store.view()["kv"] == {} and len(hub.ledger) == 0
            await healthy(address)

    arun(scenario())


@pytest.mark.parametrize(
    ("path", "raw", "code"),
    [
        ("/mutations", b"{not json", "INVALID_PAYLOAD"),
        ("/mutations", b"[1, 2]", "INVALID_PAYLOAD"),
        ("/mutations", b'{"client_id": "c", "seq": "1", "op": "noop"}', "INVALID_PAYLOAD"),
        ("/mutations", b'{"client_id": "c", "seq": 1, "op": ""}', "INVALID_PAYLOAD"),
        ("/mutations", b'{"client_id": "a b", "seq": 1, "op": "noop"}', "INVALID_PAYLOAD"),
        ("/mutations", b'{"client_id": "c", "seq": 0, "op": "noop"}', "INVALID_PAYLOAD"),
        ("/publish", b"{not json", "INVALID_PAYLOAD"),
        ("/publish", b'{"event": "heartbeat", "data": 1}', "INVALID_PAYLOAD"),
        ("/publish", b'{"event": "", "data": 1}', "INVALID_PAYLOAD"),
        ("/publish", b'{"data": 1}', "INVALID_PAYLOAD"),
    ],
)
def test_a_malformed_post_body_is_a_400_with_its_code(path: str, raw: bytes, code: str) -> None:
    async def scenario() -> None:
        async with serving() as (hub, address):
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"http://{address}{path}", data=raw, headers=_JSON) as answer,
            ):
                assert answer.status == 400
                assert (await answer.json())["error"] == code
            assert hub.replay.latest == 0 and len(hub.ledger) == 0
            await healthy(address)

    arun(scenario())


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("client_id=" + "a" * 129, {}),
        ("client_id=a&secret=" + "s" * 129, {}),
        ("client_id=a", {"Last-Event-ID": "abc"}),
        ("client_id=a", {"Last-Event-ID": "-1"}),
        ("client_id=a", {"Last-Event-ID": "1" * 17}),  # past 2**53: out of range
        ("client_id=a&last_event_id=1e3", {}),
    ],
    ids=["long-id", "long-secret", "id-not-a-number", "negative-id", "huge-id", "exponent"],
)
def test_malformed_or_out_of_range_sse_requests_are_400(
    method: str, query: str, headers: dict[str, str]
) -> None:
    async def scenario() -> None:
        async with serving() as (hub, address):
            status, error = await ask(address, method, f"/sse?{query}", headers)
            # HEAD gets the status the GET would (RFC 9110 section 9.3.2), without a body;
            # it resumes nothing but its resume id is checked (fixed: was 200).
            assert (status, error) == (400, "INVALID_PAYLOAD" if method == "GET" else None)
            assert not hub.subscribers and len(hub.ledger) == 0
            await healthy(address)

    arun(scenario())


def test_state_refuses_a_malformed_client_id() -> None:
    async def scenario() -> None:
        async with serving() as (_hub, address):
            for query in ("client_id=" + "a" * 129, "client_id=a%20b", "client_id="):
                assert await ask(address, "GET", f"/state?{query}") == (400, "INVALID_PAYLOAD")
            assert (await ask(address, "GET", "/state?client_id=a"))[0] == 200

    arun(scenario())


@pytest.mark.parametrize("path", ["/sse?client_id=", "/ws?client_id=", "/state?client_id="])
def test_a_request_line_over_8_kib_is_one_log_line_not_a_traceback(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with serving() as (hub, address):
            host, port = address.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            try:
                writer.write(f"GET {path}{'a' * 9000} HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
                async with asyncio.timeout(5 * UNIT):
                    answer = await reader.read()
            finally:
                writer.close()
            assert answer.startswith(b"HTTP/1.0 400")  # aiohttp's own (see Refusals)
            assert not hub.subscribers and len(hub.ledger) == 0
            await healthy(address)

    with caplog.at_level(logging.INFO):
        arun(scenario())
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    lines = [json.loads(r.getMessage()) for r in caplog.records if "http.refused" in r.getMessage()]
    assert [(line["status"], line["error"]) for line in lines] == [(400, "BAD_REQUEST")]


@needs_aiortc
def test_an_oversized_signalling_message_closes_rtc_with_1009() -> None:
    async def scenario() -> None:
        async with (
            serving(max_message_bytes=1024) as (hub, address),
            aiohttp.ClientSession() as session,
        ):
            ws = await session.ws_connect(f"http://{address}/rtc?client_id=big")
            await ws.send_json({"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 400})
            message = await asyncio.wait_for(ws.receive(), 5 * UNIT)
            assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1009)
            await ws.close()
            await eventually(lambda: not hub.registry.connections_by_ip)
            await healthy(address)

    arun(scenario())


def test_reply_limit_follows_both_ends_max_message_size() -> None:
    def sdp(size: int | None) -> str:
        return "v=0\r\n" + ("" if size is None else f"a=max-message-size:{size}\r\n")

    assert reply_limit(sdp(262144), sdp(262144)) == 262144
    assert reply_limit(sdp(None), sdp(262144)) == SCTP_DEFAULT_MESSAGE_BYTES  # RFC 8841 default
    assert reply_limit(sdp(0), sdp(262144)) == 262144  # 0: the remote has no limit; ours holds
    assert reply_limit(sdp(1 << 30), sdp(262144)) == 262144
    assert reply_limit(sdp(1000), sdp(None)) == 1000


@needs_aiortc
def test_a_probe_asking_for_a_huge_reply_gets_none_and_stamps_follow_the_servers_clock() -> None:
    """A probe may ask for a reply of up to 4 GiB; the runtime's peer never builds one over
    what the client said it receives. Arrival stamps come from the clock the server was built
    with (here a manual one that stands still), as the client's do."""
    from selector.runtime.rtc.channels import channel_for
    from selector.runtime.rtc.peer import open_peer

    clock = ManualClock(start=500.0)

    async def scenario() -> None:
        async with serving(clock) as (_hub, address):
            url = f"http://{address}"
            spec = channel_for("reliable_ordered")
            peer = await open_peer(url, "c1", [spec], clock=clock)
            try:
                peer.send(spec.label, 0, 64, reply_bytes=2**32 - 1)
                peer.send(spec.label, 1, 64, reply_bytes=100)
                await eventually(lambda: len(peer.replies.get(spec.label, [])) == 1)
                (reply,) = peer.replies[spec.label]
                assert (reply.seq, reply.size) == (1, 100)
                assert reply.sent_at == reply.server_at == reply.received_at == 500.0
                async with aiohttp.ClientSession() as session:
                    log = await (await session.get(f"{url}/rtc/log")).json()
                assert log["received"] == [["c1", spec.label, 0], ["c1", spec.label, 1]]
            finally:
                await peer.close()
            await healthy(address)

    arun(scenario())


@needs_aiortc
def test_an_offer_with_many_media_lines_gets_one_track_of_each_kind() -> None:
    """Every track costs the server packetising and encryption at its frame rate: an offer
    may carry hundreds of m-lines, the runtime sends one track per kind."""
    from selector.runtime.rtc.channels import channel_for
    from selector.runtime.rtc.peer import open_peer

    async def scenario() -> None:
        async with serving() as (_hub, address):
            media = ("video",) * 4 + ("audio",) * 3
            peer = await open_peer(
                f"http://{address}", "m", [channel_for("best_effort")], media=media
            )
            try:
                answer = peer.pc.remoteDescription.sdp
                sending = [
                    m.splitlines()[0].split()[0]
                    for m in answer.split("m=")[1:]
                    if "a=sendonly" in m
                ]
                assert sorted(sending) == ["audio", "video"]
            finally:
                await peer.close()
            await healthy(address)

    arun(scenario())


# -- slow ----------------------------------------------------------------------------------


def test_a_mutation_body_that_never_arrives_times_out() -> None:
    async def scenario() -> None:
        async with serving(header_timeout_s=0.3 * UNIT) as (hub, address):
            host, port = address.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            try:
                writer.write(
                    f"POST /mutations HTTP/1.1\r\nHost: {address}\r\nContent-Type: "
                    'application/json\r\nContent-Length: 100\r\n\r\n{"client_id":'.encode()
                )
                async with asyncio.timeout(5 * UNIT):
                    answer = await reader.read()
            finally:
                writer.close()
            assert answer.startswith(b"HTTP/1.1 408") and b'"REQUEST_TIMEOUT"' in answer
            assert len(hub.ledger) == 0
            await healthy(address)

    arun(scenario())


def test_a_websocket_frame_dribbled_and_stalled_is_reaped_at_the_pong_deadline() -> None:
    """Half a frame, then nothing: no pong can follow (control frames go between frames,
    never inside one), so the heartbeat reaps it. On a clock the test moves."""
    from selector.runtime.server.settings import Heartbeat

    clock = ManualClock()
    beat = Heartbeat(ping_interval_s=20, pong_timeout_s=10, sse_comment_s=None)

    async def scenario() -> None:
        async with serving(clock, heartbeat=beat) as (hub, address):
            reader, writer = await upgraded(address, "/ws?client_id=dribbler")
            try:
                writer.write(bytes([0x81, 0x80 | 100]) + b"\0\0\0\0" + b'{"seq":1,')
                await eventually(lambda: len(hub.subscribers) == 1)

                async def advance(seconds: float) -> None:
                    await eventually(lambda: clock.sleepers == 1)
                    clock.advance(seconds)

                await advance(20)  # a ping round
                await advance(11)  # past the pong deadline
                await eventually(lambda: hub.counters.reaped == 1)
                async with asyncio.timeout(5 * UNIT):
                    while await reader.read(65536):  # the ping, then the end
                        pass
            finally:
                writer.close()
            await eventually(lambda: not hub.subscribers)
            await healthy(address)

    arun(scenario())


@needs_aiortc
def test_an_rtc_client_that_never_offers_is_closed_at_the_header_timeout() -> None:
    async def scenario() -> None:
        async with (
            serving(header_timeout_s=0.3 * UNIT) as (hub, address),
            aiohttp.ClientSession() as session,
        ):
            ws = await session.ws_connect(f"http://{address}/rtc?client_id=slow")
            assert hub.registry.connections_by_ip == {"127.0.0.1": 1}
            message = await asyncio.wait_for(ws.receive(), 5 * UNIT)  # sent nothing
            assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1008)
            await ws.close()
            await eventually(lambda: not hub.registry.connections_by_ip)
            await healthy(address)

    arun(scenario())


# -- never reading -------------------------------------------------------------------------


MUTATION_BODY = b'{"client_id":"piper","seq":1,"op":"noop"}'
EVENT_BODY = b'{"event":"e","data":1}'


def pipelined(address: str, method: str, path: str) -> bytes:
    """One request of a pipelining client: a POST carries a valid body for its route."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {address}\r\n"
    if method != "POST":
        return f"{head}\r\n".encode()
    body = MUTATION_BODY if path == "/mutations" else EVENT_BODY
    return (
        f"{head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


async def tiny_window(address: str) -> socket.socket:
    """A connected non-blocking client socket whose receive buffer is 4 KiB: what the server
    sends it backs up at once when the client does not read."""
    host, port = address.rsplit(":", 1)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    except BaseException:
        sock.close()
        raise
    return sock


PIPELINED_ROUTES = [
    ("GET", "/state"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("POST", "/mutations"),
    ("POST", "/publish"),
    ("HEAD", "/sse?client_id=h"),
    pytest.param("GET", "/rtc/log", marks=needs_aiortc),
    ("GET", "/nowhere"),
]


@pytest.mark.parametrize(("method", "path"), PIPELINED_ROUTES, ids=lambda v: str(v))
def test_a_client_that_pipelines_requests_and_never_reads_is_dropped(
    method: str, path: str
) -> None:
    """A slow-read attack on every plain route (POSTs with their bodies, HEAD /sse, a 404):
    requests go in, no answer is ever read. The server stops reading (aiohttp bounds what it
    queues) and, past the header timeout, drops the connection instead of holding it (and a
    slot of the global cap) forever."""

    async def scenario() -> None:
        async with serving(header_timeout_s=0.5 * UNIT) as (hub, address):
            loop = asyncio.get_running_loop()
            sock = await tiny_window(address)
            try:
                burst = pipelined(address, method, path) * 100
                for _ in range(2000):  # until the server stops reading (bounded: ~8 MB)
                    try:
                        await asyncio.wait_for(loop.sock_sendall(sock, burst), 0.5 * UNIT)
                    except TimeoutError:
                        break
                    except OSError:
                        break  # already dropped
                else:
                    pytest.fail("the server kept reading requests it could not answer")
                await eventually(
                    lambda: hub.counters.rejected_connections.get("slow_reader") == 1, timeout=10
                )
                async with asyncio.timeout(5 * UNIT):
                    while True:  # what was in flight, then the end (EOF or reset)
                        try:
                            if not await loop.sock_recv(sock, 65536):
                                break
                        except ConnectionResetError:
                            break
            finally:
                sock.close()
            # What the dropped client sent was handled as it arrived, nothing more: the
            # mutation once (the rest duplicates), no subscriber from the HEADs.
            assert not hub.subscribers
            if path == "/mutations":
                assert hub.ledger.high_water("piper") == 1
            if path != "/publish":
                assert hub.replay.latest == 0
            await healthy(address)

    arun(scenario(), timeout=60)


@needs_aiortc
def test_a_peer_flooding_probes_cannot_grow_the_rtc_log_past_its_bound() -> None:
    from selector.runtime.rtc.channels import channel_for
    from selector.runtime.rtc.peer import open_peer

    async def scenario() -> None:
        async with serving(rtc_log_max_entries=3) as (_hub, address):
            url = f"http://{address}"
            spec = channel_for("reliable_ordered")
            peer = await open_peer(url, "flood", [spec])
            try:
                for seq in range(5):
                    peer.send(spec.label, seq, 64, reply_bytes=16)
                await eventually(lambda: len(peer.replies.get(spec.label, [])) == 5)
                async with aiohttp.ClientSession() as session:
                    log = await (await session.get(f"{url}/rtc/log")).json()
                assert log["received"] == [["flood", spec.label, n] for n in (2, 3, 4)]
                assert log["forgotten"] == 2
            finally:
                await peer.close()
            await healthy(address)

    arun(scenario())


# -- a failed write to disk ----------------------------------------------------------------


def test_a_failed_commit_on_the_websocket_path_acks_nothing_and_health_says_so(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with serving(state_path=str(tmp_path / "s.db")) as (hub, address):
            async with subscribe(f"ws://{address}/ws?client_id=w") as ws:
                hub.store.fail_commit = sqlite3.OperationalError("disk I/O error")  # type: ignore[attr-defined]
                await ws.send(json.dumps({"seq": 1, "op": "incr", "data": {"key": "n"}}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))
                assert reply["error"] == "STORE_FAILED" and "ack" not in reply
            assert hub.failed.is_set()
            assert await ask(address, "GET", "/healthz") == (503, None)
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://{address}/healthz") as answer,
            ):
                assert await answer.json() == {"status": "store_failed"}
            hub.store.fail_commit = None  # type: ignore[attr-defined]
            hub.rebuild()
            view = (await ask(address, "GET", "/state"))[0]
            assert view == 200
            await healthy(address)

    arun(scenario())


def test_an_event_whose_commit_fails_is_answered_503_and_reaches_no_subscriber(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with serving(state_path=str(tmp_path / "s.db")) as (hub, address):
            async with subscribe(f"ws://{address}/ws?client_id=w") as ws:
                hub.store.fail_commit = sqlite3.OperationalError("disk I/O error")  # type: ignore[attr-defined]
                body = {"event": "e", "data": 1}
                assert await ask(address, "POST", "/publish", _JSON, body) == (503, "STORE_FAILED")
                hub.store.fail_commit = None  # type: ignore[attr-defined]
                hub.rebuild()
                # The next event committed is the first any subscriber sees, under the id
                # the disk gave it.
                status, _ = await ask(address, "POST", "/publish", _JSON, {"event": "f", "data": 2})
                assert status == 200
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))
                assert (frame["event"], frame["data"]) == ("f", 2)
            await healthy(address)
        async with serving(state_path=str(tmp_path / "s.db")) as (hub, address):
            assert hub.replay.latest == 1

    arun(scenario())


def test_a_claim_by_a_stream_open_is_not_kept_when_its_commit_fails(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(state_path=str(tmp_path / "s.db")) as (hub, address):
            hub.store.fail_commit = sqlite3.OperationalError("disk I/O error")  # type: ignore[attr-defined]
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://{address}/sse?client_id=s&secret=chosen") as stream,
            ):
                assert stream.status == 200  # a read stream: nothing was acked
                await eventually(hub.failed.is_set)
                assert "s" not in hub.session.identities  # what the disk does not hold
            hub.store.fail_commit = None  # type: ignore[attr-defined]
            hub.rebuild()
        async with serving(state_path=str(tmp_path / "s.db")) as (hub, address):
            assert "s" not in hub.session.identities
            await healthy(address)

    arun(scenario())
