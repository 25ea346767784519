"""The reference WebSocket + SSE server (aiohttp): the wire contract of docs/wire-contract.md.

Routes: ``/ws`` (mutations in, events out), ``/sse`` (events out), ``POST /mutations`` (the SSE
upstream path), ``POST /publish``, ``GET /state``, ``/echo`` (plain WebSocket echo for
conformance suites), ``/metrics``, ``/healthz`` and ``/rtc`` (WebRTC signalling, see
:mod:`selector.runtime.rtc.route`). Handlers only translate between HTTP and
the :class:`~selector.runtime.hub.Hub`; the decisions are in the sans-I/O protocol core.

Use :func:`build_app` to embed it, or :func:`running_server` / ``selector serve`` to run it.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web
from yarl import URL

from selector.runtime.hub import Hub, Subscriber, log_transition
from selector.runtime.metrics import CONTENT_TYPE
from selector.runtime.protocol.commit import Rejected
from selector.runtime.protocol.envelope import (
    EnvelopeError,
    encode_error,
    is_valid_client_id,
    parse_http_submission,
    parse_last_event_id,
    parse_publish,
    parse_ws_mutation,
)
from selector.runtime.protocol.sse import encode_retry
from selector.runtime.rtc.route import add_rtc_routes
from selector.runtime.settings import ServerSettings
from selector.runtime.store import open_store

__all__ = ["HUB_KEY", "build_app", "running_server"]

HUB_KEY: web.AppKey[Hub] = web.AppKey("hub", Hub)
ORIGINS_KEY: web.AppKey[frozenset[str]] = web.AppKey("origins", frozenset)
#: Cookie an EventSource (which cannot send headers) may carry the bearer token in.
TOKEN_COOKIE = "selector_token"
#: /echo serves conformance suites, whose largest cases send 16 MiB messages.
ECHO_MAX_MESSAGE_BYTES = 32 * 1024 * 1024
_SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
_JSON = "application/json"


def _is_valid_close_code(code: int) -> bool:
    """Close codes a peer may send (RFC 6455 section 7.4 and the IANA registry)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def _json_error(status: int, detail: str, error: str = "INVALID_PAYLOAD") -> web.Response:
    body = orjson.dumps({"error": error, "detail": detail})
    return web.Response(status=status, body=body, content_type=_JSON)


def _hub(request: web.Request) -> Hub:
    return request.app[HUB_KEY]


def _token_ok(request: web.Request, token: str | None) -> bool:
    if token is None:
        return True
    offered = ""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        offered = auth[len("Bearer ") :]
    else:
        offered = request.query.get("token") or request.cookies.get(TOKEN_COOKIE, "")
    return hmac.compare_digest(offered.encode(), token.encode())


def _normal_origin(url: URL) -> str | None:
    if not url.scheme or not url.host:
        return None
    return f"{url.scheme.lower()}://{url.host.lower()}:{url.port}"


def normal_origins(origins: tuple[str, ...]) -> frozenset[str]:
    """``scheme://host:port`` of each allowed origin; ValueError for one that is not an
    http(s) origin."""
    normal = set()
    for origin in origins:
        try:
            url = URL(origin)
        except ValueError:
            url = URL()
        value = _normal_origin(url)
        if value is None or url.scheme not in ("http", "https") or url.path not in ("", "/"):
            raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
        normal.add(value)
    return frozenset(normal)


def _origin_ok(request: web.Request, allowed: frozenset[str]) -> bool:
    """Cross-site WebSocket hijacking guard: a browser sends Origin, other clients do not."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    try:
        offered = _normal_origin(URL(origin))
    except ValueError:
        return False
    if offered is None:
        return False
    try:
        own_host = URL(f"http://{request.host}")
    except ValueError:
        own_host = URL()
    if offered.split("://", 1)[1] == f"{(own_host.host or '').lower()}:{own_host.port}":
        return True
    return offered in allowed


def _refuse(hub: Hub, status: int, reason: str, detail: str) -> web.Response:
    counts = hub.counters.rejected_connections
    counts[reason] = counts.get(reason, 0) + 1
    return _json_error(status, detail, error=reason.upper())


def _admission(request: web.Request, *, check_origin: bool) -> web.Response | None:
    """Checks shared by /ws and /sse, before any upgrade. None means admitted."""
    hub = _hub(request)
    settings = hub.settings
    if hub.closing:
        return _refuse(hub, 503, "shutting_down", "the server is shutting down")
    if check_origin and not _origin_ok(request, request.app[ORIGINS_KEY]):
        return _refuse(hub, 403, "forbidden_origin", "Origin is not allowed")
    if not _token_ok(request, settings.token):
        return _refuse(hub, 401, "unauthorized", "a valid bearer token is required")
    client_id = request.query.get("client_id")
    if client_id is None or not is_valid_client_id(client_id):
        return _refuse(
            hub, 400, "invalid_payload", "client_id must be 1-128 characters of [A-Za-z0-9._:-]"
        )
    if not hub.may_stream(client_id, request.query.get("secret")):
        return _refuse(
            hub, 403, "client_id_taken", "this client_id belongs to another client: send its secret"
        )
    return None


StreamServer = Callable[[web.Request, Hub, str, int | None], Awaitable[web.StreamResponse]]


async def _admit_stream(
    request: web.Request, serve: StreamServer, *, check_origin: bool, last_event_id: str | None
) -> web.StreamResponse:
    """What /ws and /sse share: admission checks, the resume id, the per-IP limit."""
    hub = _hub(request)
    refused = _admission(request, check_origin=check_origin)
    if refused is not None:
        return refused
    try:
        resume_after = parse_last_event_id(last_event_id)
    except EnvelopeError as exc:
        return _refuse(hub, 400, "invalid_payload", exc.detail)
    ip = request.remote or ""
    if not hub.try_acquire_ip(ip):
        return _refuse(hub, 429, "too_many_connections", "per-IP connection limit reached")
    try:
        return await serve(request, hub, request.query["client_id"], resume_after)
    finally:
        hub.release_ip(ip)


async def ws_handler(request: web.Request) -> web.StreamResponse:
    """``GET /ws?client_id=ID[&last_event_id=N]``: mutations in, acks and events out."""
    return await _admit_stream(
        request, _serve_ws, check_origin=True, last_event_id=request.query.get("last_event_id")
    )


async def _serve_ws(
    request: web.Request, hub: Hub, client_id: str, last_event_id: int | None
) -> web.WebSocketResponse:
    settings = hub.settings
    ws = web.WebSocketResponse(
        autoping=False,  # pongs feed the shared heartbeat task, pings are answered below
        autoclose=False,  # close codes are checked below (RFC 6455 7.4)
        compress=False,
        max_msg_size=settings.max_message_bytes,
        timeout=settings.close_timeout_s,
        decode_text=False,  # orjson parses the bytes; no str round trip
    )
    await ws.prepare(request)
    sub = Subscriber(
        conn_id=hub.new_conn_id(),
        protocol="ws",
        client_id=client_id,
        request=request,
        queue=hub.new_queue(),
        ws=ws,
    )
    hub.subscribe(sub, last_event_id)
    counters = hub.counters
    reason = "closed"
    try:
        while True:
            msg = await ws.receive()
            kind = msg.type
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                counters.messages_in["ws"] += 1
                try:
                    mutation = parse_ws_mutation(msg.data, client_id)
                except EnvelopeError as exc:
                    counters.invalid["ws"] += 1
                    hub.reply(sub, encode_error(exc.detail, exc.seq, code=exc.code))
                    continue
                hub.reply(sub, hub.submit_ws(sub, mutation))
            elif kind is WSMsgType.PING:
                # The peer may be gone already; its close arrives as the next message.
                with contextlib.suppress(ConnectionError):
                    await ws.pong(msg.data)
            elif kind is WSMsgType.PONG:
                hub.on_pong(sub)
            elif kind is WSMsgType.CLOSE:
                code = int(msg.data or 1000)
                reason = f"peer_close_{code}"
                ok = _is_valid_close_code(code)
                await ws.close(code=code if ok else WSCloseCode.PROTOCOL_ERROR)
                break
            else:  # CLOSING / CLOSED / ERROR (e.g. too big: aiohttp closed with 1009)
                reason = "error" if kind is WSMsgType.ERROR else "closed"
                break
    finally:
        hub.unsubscribe(sub, "shutdown" if sub.ending else reason, code=ws.close_code)
    return ws


async def sse_handler(request: web.Request) -> web.StreamResponse:
    """``GET /sse?client_id=ID``: the event stream as text/event-stream."""
    # The header (what EventSource sends on reconnect) wins over the query parameter.
    resume = request.headers.get("Last-Event-ID", request.query.get("last_event_id"))
    return await _admit_stream(request, _serve_sse, check_origin=False, last_event_id=resume)


async def _serve_sse(
    request: web.Request, hub: Hub, client_id: str, last_event_id: int | None
) -> web.StreamResponse:
    settings = hub.settings
    response = web.StreamResponse(headers=_SSE_HEADERS)
    response.content_type = "text/event-stream"
    response.charset = "utf-8"
    if request.version >= (1, 1):
        response.enable_chunked_encoding()  # the hub writes whole chunks (Subscriber.chunked)
    await response.prepare(request)
    sub = Subscriber(
        conn_id=hub.new_conn_id(),
        protocol="sse",
        client_id=client_id,
        request=request,
        queue=hub.new_queue(),
    )
    sub.queue.force(encode_retry(settings.sse_retry_ms))
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
    try:
        await hub.commit_barrier()
    except Exception:
        return False
    return True


async def mutations_handler(request: web.Request) -> web.Response:
    """``POST /mutations``: one mutation with the same ack and dedupe semantics as /ws."""
    hub = _hub(request)
    if not _token_ok(request, hub.settings.token):
        return _refuse(hub, 401, "unauthorized", "a valid bearer token is required")
    hub.counters.messages_in["http"] += 1
    try:
        mutation, secret = parse_http_submission(await request.read())
    except EnvelopeError as exc:
        hub.counters.invalid["http"] += 1
        body = encode_error(exc.detail, exc.seq, code=exc.code)
        return web.Response(status=400, body=body, content_type=_JSON)
    result = hub.submit(mutation, "http", secret)
    if isinstance(result, Rejected):
        return web.Response(status=result.status, body=result.encode(), content_type=_JSON)
    if not await _committed(hub):
        return _json_error(503, "the state store failed; the server is stopping", "STORE_FAILED")
    return web.Response(status=200, body=result.encode(), content_type=_JSON)


async def publish_handler(request: web.Request) -> web.Response:
    """``POST /publish {"event", "data"}``: broadcast; answers ``{"id": N}`` once durable."""
    hub = _hub(request)
    if not _token_ok(request, hub.settings.token):
        return _refuse(hub, 401, "unauthorized", "a valid bearer token is required")
    try:
        publish = parse_publish(await request.read())
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
    if not _token_ok(request, hub.settings.token):
        return _refuse(hub, 401, "unauthorized", "a valid bearer token is required")
    view: dict[str, Any] = hub.store.view()
    view["latest_event_id"] = hub.replay.latest
    view["oldest_event_id"] = hub.replay.oldest
    view["clients"] = len(hub.ledger)
    client_id = request.query.get("client_id")
    if client_id is not None:
        view["high_water"] = hub.ledger.high_water(client_id)
    return web.Response(body=orjson.dumps(view), content_type=_JSON)


async def echo_handler(request: web.Request) -> web.StreamResponse:
    """``GET /echo``: echo every message back (for Autobahn-style conformance suites)."""
    ws = web.WebSocketResponse(autoclose=False, compress=False, max_msg_size=ECHO_MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    while True:
        msg = await ws.receive()
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
        elif msg.type is WSMsgType.CLOSE:
            code = int(msg.data or 1000)
            # aiohttp echoes any code; 1004-1006, 1015 and unassigned codes are a protocol
            # error when received (Autobahn 7.9.x), so answer them with 1002.
            await ws.close(code=code if _is_valid_close_code(code) else 1002)
            break
        else:
            break
    return ws


async def metrics_handler(request: web.Request) -> web.Response:
    """``GET /metrics`` in the Prometheus text format."""
    body = _hub(request).metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def healthz_handler(request: web.Request) -> web.Response:
    """``GET /healthz``: 200 while serving, 503 once shutting down."""
    hub = _hub(request)
    if hub.closing:
        return web.Response(status=503, body=b'{"status":"shutting_down"}', content_type=_JSON)
    return web.Response(body=b'{"status":"ok"}', content_type=_JSON)


def build_app(settings: ServerSettings) -> web.Application:
    """The aiohttp application; its hub (and store) are created when it starts.

    Raises ValueError for an ``allowed_origins`` entry that is not an origin."""
    app = web.Application(client_max_size=settings.max_message_bytes)
    app[ORIGINS_KEY] = normal_origins(settings.allowed_origins)
    app.router.add_get("/ws", ws_handler)
    app.router.add_get("/sse", sse_handler)
    app.router.add_post("/mutations", mutations_handler)
    app.router.add_post("/publish", publish_handler)
    app.router.add_get("/state", state_handler)
    app.router.add_get("/echo", echo_handler)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz_handler)
    add_rtc_routes(app, lambda request: _admission(request, check_origin=True))

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        store = open_store(settings.state_path, keep_events=settings.replay_max_events)
        try:
            hub = Hub(settings, store)
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


@contextlib.asynccontextmanager
async def running_server(settings: ServerSettings) -> AsyncIterator[tuple[Hub, int]]:
    """Run the server on ``settings.host``/``port`` (0 picks a free port) until the block
    exits, then shut it down gracefully. Yields the hub and the bound port."""
    app = build_app(settings)
    # handler_cancellation: an SSE handler waiting for events learns at once that its client
    # went away, instead of at its next write.
    runner = web.AppRunner(
        app, handle_signals=False, handler_cancellation=True, access_log=None, shutdown_timeout=5.0
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
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
            replay_max_events=settings.replay_max_events,
        )
        yield app[HUB_KEY], port
    finally:
        await runner.cleanup()
        log_transition("server.stopped")
