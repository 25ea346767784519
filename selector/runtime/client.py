"""asyncio clients for the reference runtime: :class:`WsClient` and :class:`SseClient`.

Thin adapters over aiohttp: they move bytes, sleep and report to the sans-I/O
:class:`~selector.runtime.protocol.client_state.ClientState`, which decides what to send,
which events are new, when the server counts as dead and how long to wait before
reconnecting. Usage::

    async with WsClient("ws://127.0.0.1:8765/ws", silence_timeout=10) as client:
        await client.wait_connected(timeout=5)
        await client.send("incr", {"key": "clicks", "by": 1})
        await client.wait_acked(timeout=5)
        print(client.events, client.stats.reconnects)

``close()`` (or leaving the ``async with``) cancels every task the client started and closes
its connection and, unless one was passed in, its HTTP session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable
from typing import Self, TypedDict, Unpack

import aiohttp
import orjson
from yarl import URL

from selector.jsonvalue import JsonValue
from selector.runtime.clock import SYSTEM_CLOCK, Clock
from selector.runtime.protocol.backoff import Backoff
from selector.runtime.protocol.client_state import ClientState, ClientStats, Reconnect
from selector.runtime.protocol.client_wire import (
    Ack,
    Malformed,
    ServerError,
    ServerEvent,
    encode_mutation,
    encode_mutation_post,
    is_valid_client_id,
    parse_server_message,
    retry_after_from_close_reason,
    server_message_from_sse,
)
from selector.runtime.protocol.outbox import DEFAULT_OUTBOX_CAPACITY, Outbox, OutgoingMutation
from selector.runtime.protocol.sse import DEFAULT_MAX_EVENT_CHARS, SseDecoder, SseLimitError

__all__ = ["ClientOptions", "ClientStoppedError", "SseClient", "WsClient"]

log = logging.getLogger("selector.runtime.client")

EventCallback = Callable[[ServerEvent], object]

#: HTTP statuses that are worth retrying even though they are 4xx.
_RETRYABLE_4XX = frozenset({408, 425, 429})
#: ``POST /mutations`` statuses that refuse the mutation itself: retrying cannot help.
_REJECTING_STATUSES = frozenset({400, 413, 422})
# A receive timeout of 0 means "no timeout" to aiohttp; never pass less than this.
_MIN_WAIT = 0.001


class ClientStoppedError(RuntimeError):
    """The client stopped for good (closed, a fatal close code or HTTP status, or it gave up)."""


def _describe(exc: BaseException) -> str:
    """An error in words for a disconnect reason: its kind and its message (aiohttp's
    message names the host and the cause; its repr is a page of connection-key fields)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _fatal_status(status: int) -> bool:
    return 400 <= status < 500 and status not in _RETRYABLE_4XX


def _endpoint(url: str, default_path: str) -> URL:
    """``ws://host:port`` or ``http://host:port`` -> the runtime's default endpoint path."""
    parsed = URL(url)
    if not parsed.is_absolute() or parsed.scheme not in ("ws", "wss", "http", "https"):
        raise ValueError(f"expected an absolute ws(s):// or http(s):// URL, got {url!r}")
    return parsed.with_path(default_path) if parsed.path in ("", "/") else parsed


class ClientOptions(TypedDict, total=False):
    """The keyword arguments :class:`WsClient` and :class:`SseClient` share, typed, so a
    caller can build them once for either class: ``WsClient(url, **options)``."""

    client_id: str | None
    token: str | None
    silence_timeout: float
    connect_timeout: float
    backoff: Backoff | None
    outbox_capacity: int
    first_seq: int
    last_event_id: int | None
    max_consecutive_failures: int | None
    keep_events: int | None
    on_event: EventCallback | None
    http: aiohttp.ClientSession | None
    keepalive_timeout: float | None
    clock: Clock


class _ReconnectingClient:
    """The reconnect loop and the waiting API shared by both transports."""

    _default_path = "/"

    def __init__(
        self,
        url: str,
        *,
        client_id: str | None = None,
        token: str | None = None,
        silence_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        backoff: Backoff | None = None,
        outbox_capacity: int = DEFAULT_OUTBOX_CAPACITY,
        first_seq: int = 1,
        last_event_id: int | None = None,
        max_consecutive_failures: int | None = None,
        keep_events: int | None = 10_000,
        on_event: EventCallback | None = None,
        http: aiohttp.ClientSession | None = None,
        keepalive_timeout: float | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.url = _endpoint(url, self._default_path)
        #: Silence verdicts, reconnect and POST retry delays, ack times and ``wait_until``
        #: follow this clock; socket timeouts (connect, close) stay on the event loop's.
        self.clock = clock
        self.client_id = client_id if client_id is not None else secrets.token_hex(8)
        if not is_valid_client_id(self.client_id):
            raise ValueError("client_id must be 1-128 characters of [A-Za-z0-9._:-]")
        self.token = token
        self.connect_timeout = connect_timeout
        self.max_consecutive_failures = max_consecutive_failures
        self.state = ClientState(
            silence_timeout=silence_timeout,
            backoff=backoff,
            outbox=Outbox(capacity=outbox_capacity, first_seq=first_seq),
            last_event_id=last_event_id,
        )
        # The id's resume secret, chosen here so that an ack lost on the way cannot lock this
        # client out of its own id (the server keeps the first secret it sees for an id).
        self.state.secret = secrets.token_urlsafe(24)
        #: Delivered events, oldest first (the newest ``keep_events`` of them).
        self.events: deque[ServerEvent] = deque(maxlen=keep_events)
        #: Why the client stopped for good, if it did.
        self.failure: str | None = None
        self._on_event = on_event
        self._http = http
        self._owns_http = http is None
        #: Pooled HTTP connections idle longer than this are closed (when the client makes its
        #: own session): keep it under every hop's idle timeout, or a POST may go into a
        #: connection a load balancer has already dropped silently.
        self.keepalive_timeout = keepalive_timeout
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._stopped = False

    # -- public API ----------------------------------------------------------------------

    @property
    def stats(self) -> ClientStats:
        """Counters for a verification harness (connects, reconnects, dead peers, ...)."""
        return self.state.stats

    @property
    def connected(self) -> bool:
        return self.state.connected

    @property
    def last_event_id(self) -> int | None:
        return self.state.last_event_id

    @property
    def pending(self) -> tuple[OutgoingMutation, ...]:
        """Mutations sent or queued but not acknowledged yet, in ``seq`` order."""
        return self.state.outbox.pending

    async def start(self) -> None:
        """Start connecting in the background (idempotent)."""
        if self._task is not None:
            return
        if self._http is None:
            connector = (
                aiohttp.TCPConnector(keepalive_timeout=self.keepalive_timeout)
                if self.keepalive_timeout is not None
                else None
            )
            self._http = aiohttp.ClientSession(connector=connector)
        self._task = asyncio.create_task(self._run(), name=f"{type(self).__name__}-run")
        self._start_extra_tasks()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def send(self, op: str, data: JsonValue = None) -> OutgoingMutation:
        """Queue a mutation; it is (re)sent until acknowledged.

        Raises ``OutboxFullError`` when too many await an ack, ``ValueError`` for an empty op
        or data that JSON cannot carry, :class:`ClientStoppedError` once the client stopped.
        """
        if self._stopped:
            raise ClientStoppedError(self.failure or "client is closed")
        try:
            orjson.dumps(data)  # refuse now what could never be sent (and would jam replay)
        except orjson.JSONEncodeError as exc:
            raise ValueError(f"mutation data is not JSON-serializable: {exc}") from None
        mutation = self.state.outbox.add(op, data)
        self._notify()
        await self._flush()
        return mutation

    async def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> None:
        """Wait until ``predicate()`` holds; re-checked after every change of state.

        Raises ``TimeoutError`` (``timeout=None``: wait for ever), or
        :class:`ClientStoppedError` if the client stops first.
        """
        loop = asyncio.get_running_loop()
        # On the client's clock, like every other deadline of the client: under a test's
        # ManualClock a wait expires when the test moves time, not after real seconds.
        deadline = contextlib.nullcontext() if timeout is None else self.clock.timeout(timeout)
        async with deadline:
            while not predicate():
                if self._stopped:
                    raise ClientStoppedError(self.failure or "client is closed")
                waiter = loop.create_future()
                self._waiters.append(waiter)
                await waiter

    async def wait_connected(self, timeout: float) -> None:
        await self.wait_until(lambda: self.state.connected, timeout)

    async def wait_acked(self, timeout: float) -> None:
        """Wait until every mutation sent so far has been acknowledged."""
        await self.wait_until(lambda: len(self.state.outbox) == 0, timeout)

    async def wait_events(self, count: int, timeout: float) -> None:
        """Wait until ``count`` events have been delivered in total."""
        await self.wait_until(lambda: self.state.stats.events >= count, timeout)

    async def close(self) -> None:
        """Stop for good: cancel every task, close the connection and the owned HTTP session."""
        self._stopped = True
        tasks = [t for t in (self._task, *self._extra_tasks()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_http and self._http is not None:
            await self._http.close()
            self._http = None
        self.state.dropped()
        self._notify()

    # -- the reconnect loop ---------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while not self._stopped:
                try:
                    decision = await self._connect_and_serve()
                except Exception as exc:  # a bug here must surface, not hang the waiters
                    log.exception("%s %s crashed", type(self).__name__, self.client_id)
                    self.failure = f"internal error: {exc!r}"
                    break
                self._notify()
                log.info("%s %s disconnected: %s", type(self).__name__, self.client_id, decision)
                if not decision.reconnect:
                    self.failure = decision.reason
                    break
                limit = self.max_consecutive_failures
                if limit is not None and self.state.backoff.attempt > limit:
                    self.failure = f"gave up after {limit} failed attempts: {decision.reason}"
                    break
                await self.clock.sleep(decision.delay)
        finally:
            self._stopped = True
            self.state.dropped()
            self._notify()

    async def _connect_and_serve(self) -> Reconnect:
        raise NotImplementedError

    async def _flush(self) -> None:
        """Write the outbox's unsent mutations on the current connection, if any."""

    def _start_extra_tasks(self) -> None:
        """Hook for transports that need a second task (SSE's POST sender)."""

    def _extra_tasks(self) -> tuple[asyncio.Task[None] | None, ...]:
        return ()

    # -- helpers --------------------------------------------------------------------------

    def _now(self) -> float:
        return self.clock.monotonic()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _deliver(self, event: ServerEvent) -> None:
        self.events.append(event)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                # A broken callback must not take the connection (and its acks) down with it.
                log.exception("on_event callback failed for event %s", event.id)

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


class WsClient(_ReconnectingClient):
    """WebSocket client: ``GET /ws?client_id=ID&last_event_id=N``, mutations as text frames.

    Reconnects after every close (also the clean 1000/1001/1012), honouring
    ``retry_after_ms=`` in the close reason as a floor under the jittered backoff; stops only
    on close codes a retry cannot fix (see ``FATAL_CLOSE_CODES``) or a 4xx handshake answer.
    Pings are answered here (not by aiohttp) so that they count as proof of life.
    """

    _default_path = "/ws"

    def __init__(
        self,
        url: str,
        *,
        close_timeout: float = 1.0,
        max_message_size: int = 4 * 1024 * 1024,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(url, **options)
        self.close_timeout = close_timeout
        self.max_message_size = max_message_size
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._send_lock = asyncio.Lock()

    async def _connect_and_serve(self) -> Reconnect:
        state = self.state
        assert self._http is not None
        params = {"client_id": self.client_id}
        if state.secret is not None:
            params["secret"] = state.secret  # the id is ours: resume it (see wire contract)
        if state.last_event_id is not None:
            params["last_event_id"] = str(state.last_event_id)
        try:
            # The event loop's clock on purpose (docs/runtime-client.md): it bounds real socket
            # I/O, which a ManualClock a test stopped moving would otherwise never time out.
            async with asyncio.timeout(self.connect_timeout):
                ws = await self._http.ws_connect(
                    self.url,
                    params=params,
                    headers=self._auth_headers(),
                    autoping=False,
                    max_msg_size=self.max_message_size,
                    compress=0,
                )
        except aiohttp.WSServerHandshakeError as exc:
            return state.closed(
                self._now(),
                reason=f"handshake refused: HTTP {exc.status}",
                fatal=_fatal_status(exc.status),
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return state.closed(self._now(), reason=f"connect failed: {_describe(exc)}")
        self._ws = ws
        # A fresh lock per connection: a write stuck on a dead connection (a peer that stopped
        # reading fills the send buffer) must not block the replay on the next one.
        self._send_lock = asyncio.Lock()
        try:
            state.opened(self._now())
            self._notify()
            await self._flush()
            return await self._read(ws)
        finally:
            self._ws = None
            await self._close_ws(ws, aiohttp.WSCloseCode.GOING_AWAY, b"")

    async def _close_ws(
        self, ws: aiohttp.ClientWebSocketResponse, code: int, message: bytes
    ) -> None:
        """Close politely, but never wait longer than ``close_timeout``: towards a dead peer
        even writing the close frame can block, and a timeout makes aiohttp drop the link."""
        with contextlib.suppress(TimeoutError, aiohttp.ClientError, ConnectionError):
            # Real time, as the connect timeout: it bounds a socket write and read.
            async with asyncio.timeout(self.close_timeout):
                await ws.close(code=code, message=message)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> Reconnect:
        state = self.state
        while True:
            now = self._now()
            if (verdict := state.peer_is_dead(now)) is not None:
                await self._close_ws(ws, aiohttp.WSCloseCode.GOING_AWAY, b"peer silent")
                return state.closed(
                    self._now(), reason=f"dead peer: silent for {verdict.silent_for:.3f}s"
                )
            try:
                async with self.clock.timeout(max(state.silence_remaining(now), _MIN_WAIT)):
                    msg = await ws.receive()
            except TimeoutError:
                continue  # the deadline check above gives the verdict
            kind = msg.type
            if kind is aiohttp.WSMsgType.TEXT or kind is aiohttp.WSMsgType.BINARY:
                event = state.received(parse_server_message(msg.data), self._now())
                if event is not None:
                    self._deliver(event)
                self._notify()
            elif kind is aiohttp.WSMsgType.PING:
                state.alive(self._now())
                with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                    await ws.pong(msg.data)
            elif kind is aiohttp.WSMsgType.PONG:
                state.alive(self._now())
            else:  # CLOSE, CLOSING, CLOSED, ERROR: this connection is over
                reason = msg.extra if kind is aiohttp.WSMsgType.CLOSE else ""
                code = ws.close_code
                if kind is aiohttp.WSMsgType.ERROR:  # e.g. an oversized frame: we closed
                    description = f"protocol error, closed with {code}: {msg.data!r}"
                else:
                    description = f"closed by server: {code} {reason or ''}".rstrip()
                return state.closed(
                    self._now(),
                    reason=description,
                    close_code=code,
                    retry_after=retry_after_from_close_reason(reason or ""),
                )

    async def _flush(self) -> None:
        # Taking the unsent batch under the lock keeps seq order on the wire even when
        # several send() calls race with a reconnect's replay.
        ws = self._ws
        async with self._send_lock:
            if ws is not self._ws:  # the connection changed while this call waited
                return
            if ws is None or ws.closed or not self.state.connected:
                return
            for mutation in self.state.outbox.take_unsent():
                try:
                    # send_str (a text frame, as the contract says) exists in every aiohttp
                    # the project supports; the JSON is ASCII-safe UTF-8 from orjson.
                    await ws.send_str(encode_mutation(mutation).decode())
                except (aiohttp.ClientError, ConnectionError) as exc:
                    # The connection is going away; the reader notices, and the outbox
                    # replays everything unacknowledged on the next connection.
                    log.info("send failed, will replay after reconnect: %r", exc)
                    return


class SseClient(_ReconnectingClient):
    """Server-Sent Events client with ``POST /mutations`` upstream.

    ``GET /sse?client_id=ID`` with ``Last-Event-ID`` on reconnect; an event over
    ``max_event_chars`` stops the client (resuming would replay it); the server's ``retry:`` is
    the floor of the reconnect delay; a stream silent past ``silence_timeout`` (no event, no
    comment heartbeat) is declared dead and reopened. Mutations are POSTed one at a time, each
    only after the previous one is acked: with a per-client high-water mark on the server, a
    later seq applied before an earlier one would turn the earlier one into a "duplicate"
    that is never applied. ``request_timeout`` defaults to the silence timeout.
    """

    _default_path = "/sse"

    def __init__(
        self,
        url: str,
        *,
        mutations_url: str | None = None,
        request_timeout: float | None = None,
        max_event_chars: int = DEFAULT_MAX_EVENT_CHARS,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(url, **options)
        self.max_event_chars = max_event_chars
        self.mutations_url = (
            URL(mutations_url) if mutations_url else self.url.with_path("/mutations")
        )
        # A POST unanswered for as long as the stream may stay silent is on a dead path too.
        self.request_timeout = (
            request_timeout if request_timeout is not None else self.state.silence.timeout
        )
        self._post_backoff = Backoff(base=0.2, cap=5.0)
        self._post_wake = asyncio.Event()
        self._post_task: asyncio.Task[None] | None = None

    def _start_extra_tasks(self) -> None:
        self._post_task = asyncio.create_task(self._post_loop(), name="SseClient-post")

    def _extra_tasks(self) -> tuple[asyncio.Task[None] | None, ...]:
        return (self._post_task,)

    async def _connect_and_serve(self) -> Reconnect:
        state = self.state
        assert self._http is not None
        params = {"client_id": self.client_id}
        if state.secret is not None:
            params["secret"] = state.secret  # the id is ours: resume it (see wire contract)
        if self.token:
            params["token"] = self.token  # EventSource cannot send headers; the contract
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if state.last_event_id is not None:
            headers["Last-Event-ID"] = str(state.last_event_id)
        try:
            # Real time, as WsClient's connect timeout: it bounds real socket I/O.
            async with asyncio.timeout(self.connect_timeout):
                response = await self._http.get(
                    self.url,
                    params=params,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return state.closed(self._now(), reason=f"connect failed: {_describe(exc)}")
        try:
            refusal = self._refusal(response)
            if refusal is not None:
                return refusal
            state.opened(self._now())
            self._notify()
            return await self._read(response)
        finally:
            response.close()

    def _refusal(self, response: aiohttp.ClientResponse) -> Reconnect | None:
        """The spec's rules for a response that is not an event stream."""
        now = self._now()
        if response.status == 204:
            return self.state.closed(now, reason="HTTP 204: server asked to stop", fatal=True)
        if response.status != 200:
            return self.state.closed(
                now, reason=f"HTTP {response.status}", fatal=_fatal_status(response.status)
            )
        if response.content_type != "text/event-stream":
            reason = f"not an event stream: {response.content_type}"
            return self.state.closed(now, reason=reason, fatal=True)
        return None

    async def _read(self, response: aiohttp.ClientResponse) -> Reconnect:
        state = self.state
        last_id = state.last_event_id
        decoder = SseDecoder(
            last_event_id="" if last_id is None else str(last_id),
            max_event_chars=self.max_event_chars,
        )
        while True:
            now = self._now()
            if (verdict := state.peer_is_dead(now)) is not None:
                return state.closed(
                    self._now(), reason=f"dead peer: silent for {verdict.silent_for:.3f}s"
                )
            try:
                async with self.clock.timeout(max(state.silence_remaining(now), _MIN_WAIT)):
                    chunk = await response.content.readany()
            except TimeoutError:
                continue
            except (aiohttp.ClientError, OSError) as exc:
                return state.closed(self._now(), reason=f"stream broken: {_describe(exc)}")
            if not chunk:
                return state.closed(self._now(), reason="stream ended by server")
            state.alive(self._now())
            try:
                events = decoder.feed(chunk)
            except SseLimitError as exc:
                # Like a WebSocket 1009: resuming would replay the same oversized event.
                return state.closed(self._now(), reason=str(exc), fatal=True)
            if decoder.retry_ms is not None:
                state.server_retry = decoder.retry_ms / 1000.0
            for sse_event in events:
                event = state.received(server_message_from_sse(sse_event), self._now())
                if event is not None:
                    self._deliver(event)
            self._notify()

    async def _flush(self) -> None:
        self._post_wake.set()

    async def _post_loop(self) -> None:
        """Send the outbox over ``POST /mutations``, strictly one acked mutation at a time.

        Failed POSTs are retried after a backoff, and bounded like reconnects: more than
        ``max_consecutive_failures`` in a row (none: retry until closed) stop the client, with
        the reason in :attr:`failure`, as the reconnect loop does."""
        failures = 0
        while not self._stopped:
            await self._post_wake.wait()
            self._post_wake.clear()
            for mutation in self.state.outbox.take_unsent():
                why = await self._post(mutation)
                if why is None:
                    failures = 0
                    self._post_backoff.reset()
                    self._notify()
                    continue
                failures += 1
                limit = self.max_consecutive_failures
                if limit is not None and failures > limit:
                    self._give_up(f"gave up after {limit} failed POST attempts: {why}")
                    return
                # Everything unacknowledged goes again, in order, after a pause.
                self.state.outbox.connection_lost()
                await self.clock.sleep(self._post_backoff.next_delay())
                self._post_wake.set()
                break

    def _give_up(self, reason: str) -> None:
        """Stop for good from the POST sender: the same end as the reconnect loop giving up
        (``failure`` set, the stream task cancelled, every waiter woken to raise)."""
        if self.failure is None:
            self.failure = reason
        self._stopped = True
        if self._task is not None:
            self._task.cancel()  # its ``finally`` drops the connection state and notifies
        self.state.dropped()
        self._notify()

    async def _post(self, mutation: OutgoingMutation) -> str | None:
        """One POST; None when the mutation is settled (acked or refused for good), else why
        it failed (it is sent again)."""
        assert self._http is not None
        headers = {"Content-Type": "application/json", **self._auth_headers()}
        try:
            async with self._http.post(
                self.mutations_url,
                data=encode_mutation_post(self.client_id, mutation, self.state.secret),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
            ) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("POST /mutations seq %d failed: %r", mutation.seq, exc)
            return f"POST failed: {_describe(exc)}"
        message = parse_server_message(body)
        if status == 200 and isinstance(message, Ack) and message.seq == mutation.seq:
            self.state.apply(message, self._now())
            return None
        if status in _REJECTING_STATUSES:
            error = message if isinstance(message, ServerError) else ServerError(f"HTTP {status}")
            self.state.rejected(mutation.seq, error)
            return None
        if isinstance(message, Malformed):
            self.state.stats.malformed += 1
        log.info("POST /mutations seq %d: HTTP %d, will retry", mutation.seq, status)
        return f"POST answered HTTP {status}"
