"""The reference WebSocket + SSE server (aiohttp): the wire contract of docs/wire-contract.md.

Routes: ``/ws`` (mutations in, events out), ``/sse`` (events out), ``POST /mutations`` (the SSE
upstream path), ``POST /publish``, ``GET /state``, ``/echo`` (plain WebSocket echo for
conformance suites, only when enabled), ``/metrics``, ``/healthz`` and ``/rtc`` (WebRTC
signalling, see :mod:`selector.runtime.rtc.route`). Handlers only translate between HTTP and
the :class:`~selector.runtime.server.hub.Hub`; the decisions are in the sans-I/O protocol core, and
who may ask (Host, Origin, proxies) in :mod:`selector.runtime.server.edge`. Every refusal is a JSON
error with a stable code, logged as one ``http.refused`` line.

Use :func:`build_app` to embed it, or :func:`running_server` / ``selector serve`` to run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from aiohttp import WSCloseCode, web
from aiohttp.http_exceptions import HttpProcessingError

from selector.runtime.clock import SYSTEM_CLOCK, Clock
from selector.runtime.protocol.commit import Rejected
from selector.runtime.protocol.envelope import (
    MAX_NAME_CHARS,
    EnvelopeError,
    encode_error,
    is_valid_client_id,
    parse_http_submission,
    parse_last_event_id,
    parse_publish,
    parse_ws_mutation,
)
from selector.runtime.protocol.identity import token_owner
from selector.runtime.protocol.sse import encode_retry
from selector.runtime.protocol.wsframe import OP_BINARY, OP_TEXT, Payload
from selector.runtime.rtc.route import RtcPolicy, add_rtc_routes
from selector.runtime.server.edge import EdgePolicy
from selector.runtime.server.hub import Hub
from selector.runtime.server.logs import log_transition
from selector.runtime.server.metrics import CONTENT_TYPE
from selector.runtime.server.settings import ServerSettings
from selector.runtime.server.store import open_store
from selector.runtime.server.subscriber import OWNER_KEY, Subscriber
from selector.runtime.server.websocket import WsConnection, WsHandlers, accept, upgraded_response

__all__ = ["HUB_KEY", "build_app", "edge_policy", "running_server"]

HUB_KEY: web.AppKey[Hub] = web.AppKey("hub", Hub)
EDGE_KEY: web.AppKey[EdgePolicy] = web.AppKey("edge", EdgePolicy)
#: Cookie an EventSource (which cannot send headers) may carry the bearer token in.
TOKEN_COOKIE = "selector_token"
_SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
_JSON = "application/json"
#: Largest answer written without a deadline when nothing is unsent
#: (:func:`_send_within_deadline`).
_SMALL_ANSWER = 4096
#: The only WebSocket version (RFC 6455 section 4.4: others get 426 naming it).
_WS_VERSION = "13"
#: Stable codes for what aiohttp itself refuses (router, body size), by status.
_STATUS_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    413: "TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def _is_utf8(data: bytes | bytearray | str) -> bool:
    """Checked only when a frame failed to parse: orjson refuses invalid UTF-8 itself."""
    if isinstance(data, str):
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json_error(
    status: int, detail: str, error: str = "INVALID_PAYLOAD", headers: dict[str, str] | None = None
) -> web.Response:
    body = orjson.dumps({"error": error, "detail": detail})
    return web.Response(status=status, body=body, content_type=_JSON, headers=headers)


def _hub(request: web.Request) -> Hub:
    return request.app[HUB_KEY]


def _token_owner(request: web.Request, tokens: tuple[str, ...]) -> str | None:
    """The owner a request acts for: a digest of the bearer token it presented ("" when the
    server needs no token); None when it needs one and none of them was presented."""
    if not tokens:
        return ""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        offered = auth[len("Bearer ") :]
    else:
        offered = request.query.get("token") or request.cookies.get(TOKEN_COOKIE, "")
    # aiohttp decodes header bytes that are not UTF-8 as surrogates: compared as the bytes
    # they came as (a plain encode raised, answering 500 with a traceback).
    presented = offered.encode("utf-8", "surrogateescape")
    matched = None
    for token in tokens:  # every token is compared, so the time does not tell which matched
        if hmac.compare_digest(presented, token.encode("utf-8", "surrogateescape")):
            matched = token
    return None if matched is None else token_owner(matched)


def edge_policy(settings: ServerSettings) -> EdgePolicy:
    """The Host/Origin/proxy policy of ``settings``; ValueError naming a malformed entry."""
    return EdgePolicy.build(
        bind_host=settings.host,
        public_origins=settings.public_origins,
        allowed_origins=settings.allowed_origins,
        allowed_hosts=settings.allowed_hosts,
        trusted_proxies=settings.trusted_proxies,
    )


def client_address(request: web.Request) -> str:
    """The client's IP: the peer, or behind a trusted proxy what it forwarded."""
    return request.app[EDGE_KEY].client_address(
        request.remote, request.headers.get("X-Forwarded-For")
    )


def _refuse(
    request: web.Request,
    status: int,
    reason: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A refusal: a JSON error with a stable code, counted, and logged as one JSON line."""
    hub = request.app.get(HUB_KEY)
    if hub is not None:
        counts = hub.counters.rejected_connections
        counts[reason] = counts.get(reason, 0) + 1
    code = reason.upper()
    log_transition(
        "http.refused",
        status=status,
        error=code,
        method=request.method,
        path=request.path,
        peer=request.remote or "",
        client=client_address(request),
    )
    return _json_error(status, detail, error=code, headers=headers)


def _origin_refusal(request: web.Request) -> web.Response | None:
    edge = request.app[EDGE_KEY]
    if edge.origin_ok(request.headers.get("Origin"), request.headers.get("Host")):
        return None
    return _refuse(request, 403, "forbidden_origin", "Origin is not allowed")


def _token_refusal(request: web.Request) -> web.Response | None:
    """401 without a valid token; otherwise the request acts for its token's owner."""
    owner = _token_owner(request, _hub(request).settings.tokens)
    if owner is None:
        return _refuse(request, 401, "unauthorized", "a valid bearer token is required")
    if owner:  # readers default to "": no entry (~160 bytes) per idle stream without tokens
        request[OWNER_KEY] = owner
    return None


def _ws_version_refusal(request: web.Request) -> web.Response | None:
    """RFC 6455 4.4: a handshake with another version gets 426 naming the one supported
    (aiohttp would also accept 7 and 8)."""
    version = request.headers.get("Sec-WebSocket-Version")
    if version is None or version.strip() == _WS_VERSION:
        return None  # absent: not an upgrade, aiohttp answers it
    return _refuse(
        request,
        426,
        "unsupported_websocket_version",
        f"only WebSocket version {_WS_VERSION} is supported",
        headers={"Sec-WebSocket-Version": _WS_VERSION},
    )


@web.middleware
async def edge_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every route: the Host allow-list, aiohttp's own refusals as JSON errors, and a
    deadline for the client to take its answer."""
    if not request.app[EDGE_KEY].host_ok(request.headers.get("Host")):
        response: web.StreamResponse = _refuse(
            request, 403, "forbidden_host", "Host is not one this server answers to"
        )
        return await _send_within_deadline(request, response)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _STATUS_CODES.get(exc.status, f"HTTP_{exc.status}")
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        response = _refuse(request, exc.status, code.lower(), exc.reason, headers=headers)
    return await _send_within_deadline(request, response)


async def _send_within_deadline(
    request: web.Request, response: web.StreamResponse
) -> web.StreamResponse:
    """Write a plain (not streamed) answer here, within the header timeout. A client that
    pipelines requests and never reads the answers (a slow-read attack) would otherwise
    hold its connection, and a slot of the global cap, forever: aiohttp waits for the
    socket to drain without a deadline, and its keep-alive timer does not run meanwhile.
    Past the deadline the connection is aborted; aiohttp then finds the answer sent."""
    if response.prepared:
        return response  # a stream (WebSocket, SSE) that its handler wrote and ended
    transport = request.transport
    if (
        type(response) is web.Response
        and isinstance(response.body, bytes)
        and len(response.body) <= _SMALL_ANSWER
        and transport is not None
        and not transport.get_write_buffer_size()
    ):
        # A small answer on a connection with nothing unsent goes into the socket buffer
        # without waiting for it to drain (the transport's high-water mark is far above it),
        # so no deadline is needed, and none is paid for: the timeout scope cost ~10 % of a
        # POST /publish (server CPU 111 -> 100 µs, bench/sse_writes.sh publish).
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionError:
            pass  # as below
        return response
    hub = _hub(request)
    try:
        # The loop's clock, not the hub's: this bounds real socket I/O, like aiohttp's own
        # header and keep-alive timeouts set from the same ``header_timeout_s``, which no
        # injected clock reaches (see selector.runtime.clock).
        async with asyncio.timeout(hub.settings.header_timeout_s):
            await response.prepare(request)
            await response.write_eof()
    except TimeoutError:
        _dropped_slow_reader(request, hub)
        if request.transport is not None:
            request.transport.abort()
    except ConnectionError:
        pass  # the client went away; aiohttp sees the same when it finishes the request
    return response


def _dropped_slow_reader(request: web.Request, hub: Hub) -> None:
    """Count and log a client dropped for not taking what it was sent within the header
    timeout (a plain answer, or the echo of ``/echo``)."""
    _dropped(request, hub, "slow_reader")


def _dropped(request: web.Request, hub: Hub, reason: str) -> None:
    """Count and log a client dropped for ``reason`` (``slow_reader``, ``idle_timeout``)."""
    counts = hub.counters.rejected_connections
    counts[reason] = counts.get(reason, 0) + 1
    log_transition(
        "http.dropped",
        reason=reason,
        method=request.method,
        path=request.path,
        peer=request.remote or "",
        client=client_address(request),
    )


def _admission(request: web.Request) -> web.Response | None:
    """Checks shared by /ws, /sse, /echo and /rtc, before any upgrade. None means admitted."""
    hub = _hub(request)
    if hub.closing:
        return _refuse(request, 503, "shutting_down", "the server is shutting down")
    if hub.faults.refuse_streams is not None:
        return _refuse(request, hub.faults.refuse_streams, "fault_injected", "refused by a test")
    return _ws_version_refusal(request) or _origin_refusal(request) or _token_refusal(request)


def _client_id_refusal(request: web.Request, *, claim: bool = True) -> web.Response | None:
    """The stream's ``client_id``: well formed, and this client's (its ``secret`` and token);
    with ``claim``, an unclaimed id opened with a ``secret`` is claimed now."""
    client_id = request.query.get("client_id")
    if client_id is None or not is_valid_client_id(client_id):
        return _refuse(
            request,
            400,
            "invalid_payload",
            "client_id must be 1-128 characters of [A-Za-z0-9._:-]",
        )
    secret = request.query.get("secret") or None
    if secret is not None and len(secret) > MAX_NAME_CHARS:
        return _refuse(request, 400, "invalid_payload", "secret must be at most 128 characters")
    refused = _hub(request).open_stream_claim(
        client_id, secret, request.get(OWNER_KEY, ""), claim=claim
    )
    if refused is not None:
        return _refuse(request, refused.status, refused.code.lower(), refused.detail)
    return None


@contextlib.asynccontextmanager
async def _per_ip(request: web.Request) -> AsyncIterator[bool]:
    """Hold one of the client's per-IP connection slots; yields False when none is free."""
    hub = _hub(request)
    ip = client_address(request)
    if not hub.registry.try_acquire_ip(ip):
        yield False
        return
    try:
        yield True
    finally:
        hub.registry.release_ip(ip)


def _too_many(request: web.Request) -> web.Response:
    return _refuse(request, 429, "too_many_connections", "per-IP connection limit reached")


@contextlib.asynccontextmanager
async def _rtc_admission(request: web.Request) -> AsyncIterator[web.Response | None]:
    """/rtc is admitted as /ws is (Origin, token, client id) and holds one of the client's
    per-IP slots for the life of its signalling WebSocket (and so of its peer connection)."""
    refused = _admission(request) or _client_id_refusal(request)
    if refused is not None:
        yield refused
        return
    async with _per_ip(request) as admitted:
        yield None if admitted else _too_many(request)


def _admit_stream(
    request: web.Request, *, last_event_id: str | None
) -> web.Response | tuple[int | None, str]:
    """What /ws and /sse share: admission checks, the resume id and a per-IP slot. Returns a
    refusal, or the resume id and the IP whose slot the caller must release
    (``registry.release_ip``). Not a context manager: an idle stream's handler holds its
    frames for the connection's life, and each nested coroutine or context manager costs
    memory per idle connection (bench/run.py memory)."""
    refused = _admission(request) or _client_id_refusal(request)
    if refused is not None:
        return refused
    try:
        resume_after = parse_last_event_id(last_event_id)
    except EnvelopeError as exc:
        return _refuse(request, 400, "invalid_payload", exc.detail)
    ip = client_address(request)
    if not _hub(request).registry.try_acquire_ip(ip):
        return _too_many(request)
    return resume_after, ip


class _MutationReader(WsHandlers):
    """``/ws`` messages: each text message is a mutation, submitted as it is parsed."""

    __slots__ = ("hub", "sub")

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.sub: Subscriber | None = None

    def _handle(self, conn: WsConnection, payload: Payload, at_once: bool = True) -> None:
        """Submit the mutation ``payload`` holds and reply with its ack or error: ``at_once``
        when it is the one message of its read (a UI waiting for each ack), which has
        nothing to wait for, so its ack is written now, without the list and calls of the
        end-of-read path."""
        # One frame for the message: a separate ``_answer`` called by on_text and
        # on_single_text cost ~450 instructions per ack (35,024 -> 34,572,
        # bench/ws_ack_instructions.sh).
        sub = self.sub
        assert sub is not None
        hub = self.hub
        sub.messages_in += 1
        try:
            mutation = parse_ws_mutation(payload, sub.client_id)
        except EnvelopeError as exc:
            if not _is_utf8(payload):
                conn.fail(WSCloseCode.INVALID_TEXT, "invalid UTF-8")
                return
            hub.counters.invalid["ws"] += 1
            reply = encode_error(exc.detail, exc.seq, code=exc.code)
        else:
            reply = hub.submit(mutation, "ws", sub.secret, sub.owner, sub).encode()
            if hub.faults.cut_after_apply and hub.faults.take_cut():
                conn.reason = "fault_cut"
                conn.abort()  # applied, but the ack never leaves (nor does anything after it)
                return
        if at_once:
            hub.reply_now(sub, reply)
        else:
            hub.reply(sub, reply)

    on_single_text = _handle

    def on_text(self, conn: WsConnection, payload: Payload) -> None:
        self._handle(conn, payload, False)

    def on_binary(self, conn: WsConnection, payload: Payload) -> None:
        # The contract is JSON text (RFC 6455 7.4.1: 1003 for data it cannot accept).
        conn.reason = "binary_frame"
        conn.close(WSCloseCode.UNSUPPORTED_DATA, b"text frames only")

    def on_pong(self, conn: WsConnection) -> None:
        if self.sub is not None:
            self.hub.on_pong(self.sub)

    def on_read_end(self, conn: WsConnection) -> None:
        sub = self.sub
        if sub is not None and sub.replies:
            self.hub.replies_ready(sub)


async def ws_handler(request: web.Request) -> web.StreamResponse:
    """``GET /ws?client_id=ID[&last_event_id=N]``: mutations in, acks and events out."""
    admitted = _admit_stream(request, last_event_id=request.query.get("last_event_id"))
    if isinstance(admitted, web.Response):
        return admitted
    last_event_id, ip = admitted
    hub = _hub(request)
    try:
        settings = hub.settings
        reader = _MutationReader(hub)
        conn = await accept(
            request,
            reader,
            max_message_bytes=settings.max_message_bytes,
            close_timeout_s=settings.close_timeout_s,
        )
        sub = Subscriber(
            conn_id=hub.registry.new_conn_id(),
            route="ws",
            client_id=request.query["client_id"],
            request=request,
            queue=hub.new_queue(),
            ws=conn,
        )
        reader.sub = sub
        hub.subscribe(sub, last_event_id)
        conn.start()
        try:
            await conn.done
        finally:
            hub.unsubscribe(sub, "shutdown" if sub.ending else conn.reason, code=conn.close_code)
            # Frames read behind a drop in the same read were still counted on ``sub``: the
            # connection is over now, so nothing more can be.
            hub.counters.fold(sub)
        return upgraded_response()
    finally:
        hub.registry.release_ip(ip)


def stream_retry_ms(settings: ServerSettings) -> int:
    """The ``retry:`` a new SSE stream is sent: its own draw from the planned window.

    EventSource waits exactly the reconnection time it was given, with no jitter (WHATWG
    HTML, server-sent events: https://html.spec.whatwg.org/multipage/server-sent-events.html
    #concept-event-stream-reconnection-time), so a fixed ``retry:`` brings every client of
    a mass drop back on the same tick; the server is the only place that can spread them.
    """
    low, high = settings.sse_retry_min_ms, settings.sse_retry_ms
    if low is None or low >= high:
        return high
    return random.randint(low, high)


async def sse_handler(request: web.Request) -> web.StreamResponse:
    """``GET /sse?client_id=ID``: the event stream as text/event-stream."""
    # The header (what EventSource sends on reconnect) wins over the query parameter.
    resume = request.headers.get("Last-Event-ID", request.query.get("last_event_id"))
    if request.method == "HEAD":
        # Headers only: no subscription (it would replace the client's live stream) and no
        # body, so a request pipelined behind it is answered.
        refused = _admission(request) or _client_id_refusal(request, claim=False)
        if refused is not None:
            return refused
        try:  # the answer a GET would get (RFC 9110 section 9.3.2): its resume id is checked
            parse_last_event_id(resume)
        except EnvelopeError as exc:
            return _refuse(request, 400, "invalid_payload", exc.detail)
        head = web.Response(headers=_SSE_HEADERS, content_type="text/event-stream")
        head.charset = "utf-8"
        return head
    # The Origin too: the server sends no CORS headers, so a page of another site cannot
    # read the stream, but without this check its request would still open one (claiming an
    # unclaimed id given a secret, holding a per-IP slot) on a server its visitor can reach.
    admitted = _admit_stream(request, last_event_id=resume)
    if isinstance(admitted, web.Response):
        return admitted
    last_event_id, ip = admitted
    try:
        return await _serve_sse(request, _hub(request), request.query["client_id"], last_event_id)
    finally:
        _hub(request).registry.release_ip(ip)


async def _serve_sse(
    request: web.Request, hub: Hub, client_id: str, last_event_id: int | None
) -> web.StreamResponse:
    settings = hub.settings
    response = web.StreamResponse(headers=_SSE_HEADERS)
    response.content_type = "text/event-stream"
    response.charset = "utf-8"
    if request.version >= (1, 1):
        response.enable_chunked_encoding()  # the hub writes whole chunks (Subscriber.chunked)
    try:
        await response.prepare(request)
    except ConnectionError:
        return response  # the client left before its headers went out: nothing to serve
    sub = Subscriber(
        conn_id=hub.registry.new_conn_id(),
        route="sse",
        client_id=client_id,
        request=request,
        queue=hub.new_queue(),
    )
    sub.queue.force(encode_retry(stream_retry_ms(settings)))
    hub.subscribe(sub, last_event_id)
    reason = "client_gone"
    counters = hub.counters.messages_out
    wake = sub.wake
    assert wake is not None
    try:
        while True:
            # The hub writes to a stream that keeps up directly, once per loop tick. This
            # loop only drains a backlog (with aiohttp's flow control) and waits for the end.
            if sub.draining and sub.queue:
                frames = sub.queue.take(settings.sse_batch_max_bytes)
                await response.write(b"".join(frames))
                counters["sse"] += len(frames)
                continue
            sub.draining = False
            if sub.ending:
                reason = "shutdown"
                break
            if sub.queue.closed:
                reason = "dropped"
                break
            wake.clear()
            await wake.wait()
    except (ConnectionError, RuntimeError):
        reason = "write_failed"
    finally:
        hub.unsubscribe(sub, reason)
    if reason == "shutdown":
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
    return response


async def _committed(hub: Hub) -> bool:
    """Wait for the group commit; False when the store failed (the hub is then stopping)."""
    if not hub.store.durable:
        return True
    try:
        await hub.commit_barrier()
    except Exception:
        return False
    return True


async def _post_body(request: web.Request, hub: Hub) -> bytes | web.Response:
    """What /mutations and /publish check before reading: the Origin (a page on another site
    may POST without a preflight), the token and ``application/json`` (which a cross-site form
    cannot send); then the body, bounded in size and in time."""
    refused = _origin_refusal(request) or _token_refusal(request)
    if refused is not None:
        return refused
    if request.content_type != _JSON:
        return _refuse(
            request, 415, "unsupported_media_type", "the body must be sent as application/json"
        )
    limit = hub.settings.max_message_bytes
    if request.content_length is not None and request.content_length > limit:
        return _refuse(request, 413, "too_large", f"the body exceeds {limit} bytes")
    content = request.content
    try:
        if content.is_eof():
            # The whole body came with the head (the usual small POST): nothing to wait for,
            # so no timer (a timeout scope cost ~10 % of a /publish in bench/run.py's SSE
            # run), and taken as it is rather than through request.read()'s chunk loop
            # (server CPU per POST /publish 99.9 -> 97.6 µs, bench/sse_writes.sh publish).
            body = content.read_nowait()
            if len(body) > limit:  # chunked coding: no Content-Length to check first
                return _refuse(request, 413, "too_large", f"the body exceeds {limit} bytes")
            return body
        # Real time on purpose, as the answer's deadline in _send_within_deadline: reading a
        # body is socket I/O bounded by the same setting as aiohttp's header timeout.
        async with asyncio.timeout(hub.settings.header_timeout_s):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _refuse(request, 413, "too_large", f"the body exceeds {limit} bytes")
    except TimeoutError:
        return _refuse(request, 408, "request_timeout", "the body did not arrive in time")


async def mutations_handler(request: web.Request) -> web.Response:
    """``POST /mutations``: one mutation with the same ack and dedupe semantics as /ws."""
    hub = _hub(request)
    body = await _post_body(request, hub)
    if isinstance(body, web.Response):
        return body
    hub.counters.messages_in["http"] += 1
    try:
        mutation, secret = parse_http_submission(body)
    except EnvelopeError as exc:
        hub.counters.invalid["http"] += 1
        body = encode_error(exc.detail, exc.seq, code=exc.code)
        return web.Response(status=400, body=body, content_type=_JSON)
    result = hub.submit(mutation, "http", secret, request.get(OWNER_KEY, ""))
    if isinstance(result, Rejected):
        return web.Response(status=result.status, body=result.encode(), content_type=_JSON)
    if not await _committed(hub):
        return _json_error(503, "the state store failed; the server is stopping", "STORE_FAILED")
    if hub.faults.cut_after_apply and hub.faults.take_cut() and request.transport is not None:
        request.transport.abort()  # applied and committed, but the response never leaves
    return web.Response(status=200, body=result.encode(), content_type=_JSON)


async def publish_handler(request: web.Request) -> web.Response:
    """``POST /publish {"event", "data"}``: broadcast; answers ``{"id": N}`` once durable."""
    hub = _hub(request)
    body = await _post_body(request, hub)
    if isinstance(body, web.Response):
        return body
    try:
        publish = parse_publish(body)
    except EnvelopeError as exc:
        return _json_error(400, exc.detail, exc.code)
    event_id = hub.publish(publish)
    if isinstance(event_id, Rejected):
        return web.Response(status=event_id.status, body=event_id.encode(), content_type=_JSON)
    if not await _committed(hub):
        return _json_error(503, "the state store failed; the server is stopping", "STORE_FAILED")
    return web.Response(body=b'{"id":%d}' % event_id, content_type=_JSON)


async def state_handler(request: web.Request) -> web.Response:
    """``GET /state``: what the demo store applied, the marks and the stream position."""
    hub = _hub(request)
    refused = _token_refusal(request)
    if refused is not None:
        return refused
    client_id = request.query.get("client_id")
    if client_id is not None and not is_valid_client_id(client_id):
        # No such id can exist: say so rather than answer a high-water mark of 0.
        return _refuse(
            request, 400, "invalid_payload", "client_id must be 1-128 characters of [A-Za-z0-9._:-]"
        )
    if hub.failed.is_set():
        # Memory holds what the failed commit applied and the disk does not: not shown.
        return _json_error(503, "the state store failed; the server is stopping", "STORE_FAILED")
    view = hub.store.view()
    view["latest_event_id"] = hub.replay.latest
    view["oldest_event_id"] = hub.replay.oldest
    view["clients"] = len(hub.ledger)
    if client_id is not None:
        view["high_water"] = hub.ledger.high_water(client_id)
    return web.Response(body=orjson.dumps(view), content_type=_JSON)


async def echo_handler(request: web.Request) -> web.StreamResponse:
    """``GET /echo`` (only with ``echo`` on): echo every message back, for Autobahn-style
    conformance suites, under the same token, Origin, size and per-IP rules as /ws."""
    refused = _admission(request)
    if refused is not None:
        return refused
    async with _per_ip(request) as admitted:
        if not admitted:
            return _too_many(request)
        return await _serve_echo(request, _hub(request))


class _Echo(WsHandlers):
    """``/echo``: every message back as it came (text checked for UTF-8 first, RFC 6455 8.1)."""

    __slots__ = ("hub", "last_message", "loop", "request")

    def __init__(self, request: web.Request, hub: Hub) -> None:
        self.request = request
        self.hub = hub
        self.loop = asyncio.get_running_loop()
        #: Loop time of the upgrade or of the last whole message (or pong) read.
        self.last_message = self.loop.time()

    def on_text(self, conn: WsConnection, payload: Payload) -> None:
        self.last_message = self.loop.time()
        if not _is_utf8(payload):
            conn.fail(WSCloseCode.INVALID_TEXT, "invalid UTF-8")
            return
        conn.send(OP_TEXT, payload)
        conn.hold_reads_while_backed_up()

    def on_binary(self, conn: WsConnection, payload: Payload) -> None:
        self.last_message = self.loop.time()
        conn.send(OP_BINARY, payload)
        conn.hold_reads_while_backed_up()

    def on_pong(self, conn: WsConnection) -> None:
        self.last_message = self.loop.time()

    def on_send_timeout(self, conn: WsConnection) -> None:
        _dropped_slow_reader(self.request, self.hub)


async def _serve_echo(request: web.Request, hub: Hub) -> web.StreamResponse:
    settings = hub.settings
    handlers = _Echo(request, hub)
    conn = await accept(
        request,
        handlers,
        max_message_bytes=settings.max_message_bytes,
        close_timeout_s=settings.close_timeout_s,
        # The policy of every plain answer: what was sent must be taken within the header
        # timeout. /echo has no queue to bound (reads pause instead), so without it a peer
        # that never reads would hold its connection and slot for ever.
        send_timeout_s=settings.header_timeout_s,
    )
    conn.start()
    # /echo has no heartbeat (conformance suites expect no pings): a peer must send a whole
    # message within the header timeout of the last one, the bound on a POST body, or it is
    # closed (1008), so one stalled mid-frame, dribbling, or silent does not keep its slot.
    idle = settings.header_timeout_s
    while not conn.done.done():
        if conn.holding:  # reads paused by the server: the send timeout decides meanwhile
            handlers.last_message = handlers.loop.time()
        left = handlers.last_message + idle - handlers.loop.time()
        if left <= 0 and not conn.closed:
            conn.reason = "idle_timeout"
            _dropped(request, hub, "idle_timeout")
            conn.close(WSCloseCode.POLICY_VIOLATION, b"no whole message within the timeout")
            left = idle  # the close timeout ends it from here
        # Real I/O, the loop's clock, as the header timeout (selector.runtime.clock).
        await asyncio.wait([conn.done], timeout=max(left, 0.01))
    return upgraded_response()


async def metrics_handler(request: web.Request) -> web.Response:
    """``GET /metrics`` in the Prometheus text format."""
    body = _hub(request).metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def healthz_handler(request: web.Request) -> web.Response:
    """``GET /healthz``: 200 while serving, 503 once shutting down or once the state store
    failed to commit (nothing is acked then until it is rebuilt)."""
    hub = _hub(request)
    if hub.closing:
        return web.Response(status=503, body=b'{"status":"shutting_down"}', content_type=_JSON)
    if hub.failed.is_set():
        return web.Response(status=503, body=b'{"status":"store_failed"}', content_type=_JSON)
    return web.Response(body=b'{"status":"ok"}', content_type=_JSON)


def build_app(settings: ServerSettings, clock: Clock = SYSTEM_CLOCK) -> web.Application:
    """The aiohttp application; its hub (and store) are created when it starts, on ``clock``.

    Raises ValueError for a malformed origin, host or proxy entry."""
    app = web.Application(client_max_size=settings.max_message_bytes, middlewares=[edge_middleware])
    app[EDGE_KEY] = edge_policy(settings)
    app.router.add_get("/ws", ws_handler)
    app.router.add_get("/sse", sse_handler)
    app.router.add_post("/mutations", mutations_handler)
    app.router.add_post("/publish", publish_handler)
    app.router.add_get("/state", state_handler)
    if settings.echo:
        app.router.add_get("/echo", echo_handler)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz_handler)
    add_rtc_routes(
        app,
        RtcPolicy(
            admission=_rtc_admission,
            authorize=_token_refusal,
            clock=clock,
            max_message_bytes=settings.max_message_bytes,
            offer_timeout_s=settings.header_timeout_s,
            log_max_entries=settings.rtc_log_max_entries,
        ),
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        store = open_store(settings.state_path, keep_events=settings.replay_max_events)
        try:
            hub = Hub(settings, store, clock)
        except BaseException:
            store.close()
            raise
        app[HUB_KEY] = hub
        hub.start()
        try:
            yield
        finally:
            await hub.stop_tasks()
            store.close()

    async def on_shutdown(app: web.Application) -> None:
        await app[HUB_KEY].shutdown()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(on_shutdown)
    return app


class _ParseErrorLines(logging.Filter):
    """aiohttp logs every request it cannot parse (a request line or header over 8 KiB, bad
    syntax) as an ERROR with a traceback, so any client could write a dozen log lines per
    request. Such a record becomes one ``http.refused`` line; any other (a fault in a
    handler) keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else ""
        log_transition(
            "http.refused",
            status=exc.code or 400,
            error="BAD_REQUEST",
            detail=exc.message[:200],
            peer=str(peer or ""),
        )
        return False


#: What aiohttp's request handler logs to (see :class:`_ParseErrorLines`).
_http_log = logging.getLogger("selector.runtime.http")
_http_log.addFilter(_ParseErrorLines())


class _Refusal(asyncio.Protocol):
    """A connection over the global cap: one 503 JSON answer, then close, without parsing."""

    BODY = orjson.dumps({"error": "TOO_MANY_CONNECTIONS", "detail": "server connection limit"})
    RESPONSE = (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        peer = transport.get_extra_info("peername")
        log_transition(
            "http.refused",
            status=503,
            error="TOO_MANY_CONNECTIONS",
            peer=str(peer[0] if peer else ""),
        )
        transport.write(self.RESPONSE)
        transport.close()


class _CappedSite(web.BaseSite):
    """A TCP site that counts connections from accept: a socket that never sends a request
    holds a slot too, so the cap bounds what idle sockets can take."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, cap: int) -> None:
        super().__init__(runner)
        self._host, self._port, self._cap = host, port, cap

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    def _protocol(self) -> asyncio.Protocol:
        server = self._runner.server
        assert server is not None
        if len(server.connections) >= self._cap:
            return _Refusal()
        return server()

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, self._host, self._port, reuse_address=True
        )


@contextlib.asynccontextmanager
async def running_server(
    settings: ServerSettings, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[tuple[Hub, int]]:
    """Run the server on ``settings.host``/``port`` (0 picks a free port) until the block
    exits, then shut it down gracefully. Yields the hub and the bound port. ``clock`` drives
    the hub's deadlines and heartbeats (a test may pass a
    :class:`~selector.runtime.clock.ManualClock`)."""
    app = build_app(settings, clock)
    # handler_cancellation: an SSE handler waiting for events learns at once that its client
    # went away, instead of at its next write. aiohttp's keep-alive timer runs from accept and
    # from each response and is not reset by partial data, so it is also the header timeout.
    runner = web.AppRunner(
        app,
        handle_signals=False,
        handler_cancellation=True,
        access_log=None,
        logger=_http_log,
        shutdown_timeout=5.0,
        keepalive_timeout=settings.header_timeout_s,
        # After a refusal aiohttp drains an unread body before closing; no longer than this.
        lingering_time=min(settings.header_timeout_s, 10.0),
    )
    await runner.setup()
    try:
        site = _CappedSite(runner, settings.host, settings.port, settings.max_connections)
        await site.start()
        port = int(runner.addresses[0][1]) if runner.addresses else settings.port
        hb = settings.heartbeat
        log_transition(
            "server.listening",
            host=settings.host,
            port=port,
            durable=settings.state_path is not None,
            delivery=settings.delivery,
            ping_interval_s=hb.ping_interval_s,
            pong_timeout_s=hb.pong_timeout_s,
            sse_comment_s=hb.sse_comment_s,
            sse_retry_ms=settings.sse_retry_ms,
            sse_retry_min_ms=settings.sse_retry_min_ms,
            replay_max_events=settings.replay_max_events,
            header_timeout_s=settings.header_timeout_s,
            max_connections=settings.max_connections,
            echo=settings.echo,
        )
        yield app[HUB_KEY], port
    finally:
        await runner.cleanup()
        log_transition("server.stopped")
