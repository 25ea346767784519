"""Hostile clients at the HTTP edge of the real server on 127.0.0.1: impersonated Host and
Origin, wrong media types, oversized and malformed requests, dribbled headers, idle sockets,
and WebSocket frames RFC 6455 says to refuse."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.runtime.conftest import UNIT, arun, serving, subscribe

_UPGRADE = (
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


@asynccontextmanager
async def raw(address: str) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A plain TCP connection to the server, closed on exit."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        yield reader, writer
    finally:
        writer.close()


async def read_until_closed(reader: asyncio.StreamReader, timeout: float = 5) -> bytes:
    async with asyncio.timeout(timeout * UNIT):
        return await reader.read()


async def request(
    address: str, method: str, path: str, **options: Any
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request with aiohttp; status, headers and the JSON body (or None)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"http://{address}{path}", **options) as response,
    ):
        body = await response.read()
        parsed = json.loads(body) if response.content_type == "application/json" else None
        return response.status, dict(response.headers), parsed


async def ws_status(address: str, path: str, headers: dict[str, str]) -> int:
    """The status of a WebSocket handshake sent with exactly these Host/Origin headers
    (``websockets`` always adds its own Host)."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(f"http://{address}{path}", headers=headers) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


def masked_frame(opcode: int, payload: bytes, *, mask: bool = True) -> bytes:
    """One final client frame; ``mask=False`` makes it the unmasked frame RFC 6455 forbids."""
    assert len(payload) < 126
    key = os.urandom(4) if mask else b""
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if mask else payload
    return bytes([0x80 | opcode, (0x80 if mask else 0) | len(payload)]) + key + body


async def upgraded(address: str, path: str = "/ws?client_id=raw") -> Any:
    """A raw WebSocket after its handshake: (reader, writer)."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {address}\r\n{_UPGRADE}\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def close_code(reader: asyncio.StreamReader) -> int:
    """Skip server frames up to its close frame; its status code."""
    async with asyncio.timeout(5 * UNIT):
        while True:
            first, second = await reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", await reader.readexactly(8))
            payload = await reader.readexactly(size)
            if first & 0x0F == 0x8:
                return int(struct.unpack("!H", payload[:2])[0])


# -- POST /mutations and /publish ---------------------------------------------------------

MUTATION = {"client_id": "victim", "seq": 1, "op": "set", "data": {"key": "k", "value": 1}}


@pytest.mark.parametrize("path", ["/mutations", "/publish"])
def test_posts_need_json_and_a_same_origin(path: str) -> None:
    body = json.dumps(MUTATION if path == "/mutations" else {"event": "e", "data": 1})

    async def scenario() -> None:
        async with serving() as (hub, address):
            plain = {"Content-Type": "text/plain"}
            evil = {"Origin": "https://evil.example"}
            as_json = {"Content-Type": "application/json"}
            # the shape of a cross-site form or no-cors fetch
            status, _, error = await request(
                address, "POST", path, data=body, headers={**plain, **evil}
            )
            assert (status, error["error"]) == (403, "FORBIDDEN_ORIGIN")
            status, _, error = await request(
                address, "POST", path, data=body, headers={**as_json, **evil}
            )
            assert (status, error["error"]) == (403, "FORBIDDEN_ORIGIN")
            status, _, error = await request(address, "POST", path, data=body, headers=plain)
            assert (status, error["error"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
            assert hub.store.view()["kv"] == {} and hub.replay.latest == 0  # nothing applied
            same = {**as_json, "Origin": f"http://{address}"}
            status, _, _ = await request(address, "POST", path, data=body, headers=same)
            assert status == 200

    arun(scenario())


def test_an_oversized_or_missing_post_body_is_a_json_error() -> None:
    async def scenario() -> None:
        async with serving(max_message_bytes=1024) as (_, address):
            headers = {"Content-Type": "application/json"}
            status, _, error = await request(
                address, "POST", "/publish", data=b"x" * 1025, headers=headers
            )
            assert (status, error["error"]) == (413, "TOO_LARGE")
            status, _, error = await request(address, "POST", "/mutations", headers=headers)
            assert (status, error["error"]) == (400, "INVALID_PAYLOAD")
            status, headers_out, error = await request(address, "GET", "/mutations")
            assert (status, error["error"]) == (405, "METHOD_NOT_ALLOWED")
            assert "POST" in headers_out["Allow"]
            status, _, error = await request(address, "GET", "/nowhere")
            assert (status, error["error"]) == (404, "NOT_FOUND")

    arun(scenario())


def test_a_post_body_that_never_arrives_times_out() -> None:
    async def scenario() -> None:
        async with serving(header_timeout_s=0.3 * UNIT) as (_, address), raw(address) as (r, w):
            w.write(
                f"POST /publish HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json"
                "\r\nContent-Length: 100\r\n\r\n{".encode()
            )
            answer = await read_until_closed(r)
            assert answer.startswith(b"HTTP/1.1 408") and b'"REQUEST_TIMEOUT"' in answer

    arun(scenario())


# -- Host, Origin, proxies ---------------------------------------------------------------


def test_dns_rebinding_shape_is_refused_everywhere() -> None:
    async def scenario() -> None:
        async with serving() as (_, address):
            port = address.rsplit(":", 1)[1]
            rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
            for path in ("/state", "/healthz", "/metrics", "/sse?client_id=a"):
                status, _, error = await request(address, "GET", path, headers=rebound)
                assert (status, error["error"]) == (403, "FORBIDDEN_HOST"), path
            assert await ws_status(address, "/ws?client_id=a", rebound) == 403
            # the names this server answers to by default
            for host in (address, f"localhost:{port}", "LOCALHOST"):
                status, _, _ = await request(address, "GET", "/state", headers={"Host": host})
                assert status == 200, host

    arun(scenario())


def test_same_origin_over_https_behind_a_proxy_that_drops_the_port() -> None:
    async def scenario() -> None:
        async with serving(public_origins=("https://example.com",)) as (_, address):
            path = "/ws?client_id=a"
            # what nginx forwards with ``proxy_set_header Host $host``
            ok = {"Host": "example.com", "Origin": "https://example.com"}
            assert await ws_status(address, path, ok) == 101
            for bad in (
                {"Host": "example.com", "Origin": "https://example.com:8443"},
                {"Host": "example.com", "Origin": "https://evil.example"},
                {"Host": "other.example", "Origin": "https://other.example"},
            ):
                assert await ws_status(address, path, bad) == 403, bad

    arun(scenario())


def test_an_allowed_host_and_a_same_origin_without_public_origin() -> None:
    async def scenario() -> None:
        async with serving(allowed_hosts=("app.internal",)) as (_, address):
            headers = {
                "Host": "app.internal",
                "Origin": "https://app.internal",
                "Content-Type": "application/json",
            }
            status, _, body = await request(
                address, "POST", "/mutations", data=json.dumps(MUTATION), headers=headers
            )
            assert (status, body["ack"]) == (200, 1)

    arun(scenario())


@pytest.mark.parametrize("trusted", [True, False])
def test_per_ip_limit_counts_the_client_behind_a_trusted_proxy(trusted: bool) -> None:
    async def scenario() -> None:
        proxies = ("127.0.0.0/8",) if trusted else ()
        async with serving(max_connections_per_ip=1, trusted_proxies=proxies) as (hub, address):
            url = f"ws://{address}/ws?client_id="
            first = await subscribe(url + "a", additional_headers={"X-Forwarded-For": "1.2.3.4"})
            try:
                # a client may prepend anything: the proxy's own entry (right-most) counts
                spoofed = {"X-Forwarded-For": "1.2.3.4, 5.6.7.8"}
                if trusted:
                    async with subscribe(url + "b", additional_headers=spoofed):
                        assert len(hub.subscribers) == 2
                with pytest.raises(InvalidStatus) as refused:
                    headers = {"X-Forwarded-For": "1.2.3.4" if trusted else "5.6.7.8"}
                    async with connect(url + "c", additional_headers=headers):
                        pass
                assert refused.value.response.status_code == 429
            finally:
                await first.close()

    arun(scenario())


# -- exhaustion ----------------------------------------------------------------------------


def test_slowloris_headers_are_cut_at_the_header_timeout() -> None:
    async def scenario() -> None:
        timeout = 0.5 * UNIT
        async with serving(header_timeout_s=timeout) as (_, address), raw(address) as (r, w):
            loop = asyncio.get_running_loop()
            started = loop.time()

            async def dribble() -> None:
                w.write(b"GET /healthz HTTP/1.1\r\n")
                for n in range(1000):  # never a blank line: headers never complete
                    w.write(b"X-%d: y\r\n" % n)
                    await asyncio.sleep(0.05 * UNIT)

            dribbling = asyncio.create_task(dribble())
            try:
                assert await read_until_closed(r) == b""  # closed without an answer
            finally:
                dribbling.cancel()
            assert loop.time() - started < timeout + 2 * UNIT

    arun(scenario())


def test_idle_sockets_are_closed_and_count_against_the_global_cap() -> None:
    async def scenario() -> None:
        settings = {"max_connections": 3, "header_timeout_s": 1.5 * UNIT}
        async with serving(**settings) as (_, address):
            async with raw(address) as (r1, _), raw(address) as (r2, _), raw(address) as (r3, _):
                async with raw(address) as (r4, _):  # one over the cap, never sent a byte
                    answer = await read_until_closed(r4)
                assert answer.startswith(b"HTTP/1.1 503")
                assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == (
                    "TOO_MANY_CONNECTIONS"
                )
                for idle in (r1, r2, r3):  # closed by the header timeout, without an answer
                    assert await read_until_closed(idle) == b""
            # the slots come back once the server has seen them close (bounded retries)
            status = 0
            for _ in range(100):
                status, _, _ = await request(address, "GET", "/healthz")
                if status == 200:
                    break
                await asyncio.sleep(0.02 * UNIT)
            assert status == 200

    arun(scenario())


def test_keep_alive_connections_go_idle_after_the_timeout() -> None:
    async def scenario() -> None:
        async with serving(header_timeout_s=0.5 * UNIT) as (_, address), raw(address) as (r, w):
            w.write(f"GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
            answer = await read_until_closed(r)  # answered, then closed when idle
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"status":"ok"}')

    arun(scenario())


# -- /echo ---------------------------------------------------------------------------------


def test_echo_is_off_by_default() -> None:
    async def scenario() -> None:
        async with serving() as (_, address):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://{address}/echo"):
                    pass
            assert refused.value.response.status_code == 404

    arun(scenario())


def test_echo_under_token_size_and_per_ip_rules() -> None:
    async def scenario() -> None:
        settings = {"echo": True, "tokens": ("t",), "max_message_bytes": 100}
        async with serving(max_connections_per_ip=1, **settings) as (hub, address):
            url = f"ws://{address}/echo"
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url):
                    pass
            assert refused.value.response.status_code == 401
            auth = {"Authorization": "Bearer t"}
            async with connect(url, additional_headers=auth, max_size=None) as ws:
                await ws.send("x" * 100)  # the limit is inclusive
                assert await asyncio.wait_for(ws.recv(), 5 * UNIT) == "x" * 100
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(url, additional_headers=auth):
                        pass
                assert refused.value.response.status_code == 429
                await ws.send("x" * 101)
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5 * UNIT)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            assert hub.counters.rejected_connections["too_many_connections"] == 1

    arun(scenario())


# -- conformance ---------------------------------------------------------------------------


def test_head_sse_writes_no_body_and_answers_a_pipelined_request() -> None:
    async def scenario() -> None:
        async with serving() as (hub, address), raw(address) as (r, w):
            w.write(
                f"HEAD /sse?client_id=a HTTP/1.1\r\nHost: {address}\r\n\r\n"
                f"GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode()
            )
            answer = await read_until_closed(r)
            head, rest = answer.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
            assert rest.startswith(b"HTTP/1.1 200")  # the very next bytes: no body between
            assert rest.endswith(b'{"status":"ok"}')
            assert not hub.subscribers  # a HEAD subscribes no one

    arun(scenario())


def test_a_message_of_exactly_the_limit_is_accepted_and_one_more_byte_is_1009() -> None:
    async def scenario() -> None:
        async with serving(max_message_bytes=200) as (_, address):
            base = {"seq": 1, "op": "set", "data": {"key": "k", "value": ""}}
            pad = 200 - len(json.dumps(base))
            message = json.dumps({**base, "data": {"key": "k", "value": "v" * pad}})
            assert len(message) == 200
            async with subscribe(f"ws://{address}/ws?client_id=a") as ws:
                await ws.send(message)
                assert json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))["ack"] == 1
                await ws.send(message.replace('"seq": 1', '"seq": 2 '))
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5 * UNIT)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    arun(scenario())


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (masked_frame(0x1, b'{"seq":1,"op":"\xff\xfe","data":null}'), 1007),
        (masked_frame(0x2, b'{"seq":1,"op":"noop","data":null}'), 1003),
        # RFC 6455 5.1: a server must close on a frame the client did not mask.
        (masked_frame(0x1, b'{"seq":1,"op":"noop","data":null}', mask=False), 1002),
        (bytes([0xC1, 0x80, 1, 2, 3, 4]), 1002),  # RSV1 without a negotiated extension
    ],
    ids=["invalid-utf8", "binary", "unmasked", "reserved-bit"],
)
def test_frames_the_contract_refuses_close_the_connection(frame: bytes, code: int) -> None:
    async def scenario() -> None:
        async with serving() as (hub, address):
            reader, writer = await upgraded(address)
            try:
                writer.write(frame)
                assert await close_code(reader) == code
            finally:
                writer.close()
            assert hub.ledger.high_water("raw") == 0  # nothing acked

    arun(scenario())


def test_websocket_version_8_gets_426_naming_13() -> None:
    async def scenario() -> None:
        async with serving() as (_, address):
            headers = {
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "8",
            }
            status, out, error = await request(address, "GET", "/ws?client_id=a", headers=headers)
            assert (status, out["Sec-WebSocket-Version"], error["error"]) == (
                426,
                "13",
                "UNSUPPORTED_WEBSOCKET_VERSION",
            )

    arun(scenario())


def test_every_refusal_is_one_json_log_line(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with serving(tokens=("t",)) as (_, address):
            status, _, _ = await request(address, "GET", "/state")
            assert status == 401

    with caplog.at_level(logging.INFO, logger="selector.runtime"):
        arun(scenario())
    refusals = [
        json.loads(r.getMessage()) for r in caplog.records if "http.refused" in r.getMessage()
    ]
    assert [(r["status"], r["error"], r["path"]) for r in refusals] == [
        (401, "UNAUTHORIZED", "/state")
    ]


def test_without_a_token_state_and_healthz_are_open_to_local_clients() -> None:
    async def scenario() -> None:
        async with serving() as (_, address):
            for path in ("/state", "/healthz"):
                status, _, _ = await request(address, "GET", path)
                assert status == 200

    arun(scenario())
