"""Server WebSocket connections on aiohttp's transport: the handshake, the reader, and the one
place that writes WebSocket frames (:mod:`.writer` hands acks and events to it).

aiohttp answers the HTTP request; :func:`accept` checks the upgrade (RFC 6455 section 4.2),
sends the 101 and installs a :class:`WsConnection` as the connection's payload parser, so the
client's bytes reach :class:`~selector.runtime.protocol.wsframe.FrameParser` straight from
``data_received`` and each message is handed to a callback in the same call: no queue, no
future, no task wake-up per message (aiohttp's ``WebSocketResponse`` costs all three). Every
frame the server sends (acks, events, pings, pongs, closes) is written here, so the Autobahn
suite (tests/runtime/test_autobahn.py, against ``/echo``, which uses this same class) covers
the frames ``/ws`` writes too.

Why not aiohttp's ``WebSocketResponse``: it acks unmasked client frames (RFC 6455 section 5.1
requires closing), and its reader, queue and writer per connection made an idle WebSocket
cost 17.4 KB against 12.6 KB now (bench/run.py memory, docs/benchmarks.md). On the
one-in-flight ack load the CPU per ack stayed the same: this Python parser costs about what
the C parser plus a task wake-up per message did.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from enum import Enum

from aiohttp import web

# aiohttp's own unmasking (C, from its Cython extension; its pure-Python twin where the
# extension is not built). Against the parser's pure big-integer XOR: 32,350 -> 30,485
# instructions per one-in-flight ack (bench/ws_ack_instructions.sh), and a 16 MiB message
# is unmasked in ~1.4 ms instead of ~100 ms.
from aiohttp._websocket.helpers import websocket_mask

from selector.runtime.protocol.machine import next_state
from selector.runtime.protocol.wsframe import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    SHORT_TEXT_HEADS,
    FrameParser,
    Payload,
    close_frame,
    control_frame,
    frame,
    parse_close,
    text_frame,
    text_frames,
)

__all__ = ["TRANSITIONS", "WsConnection", "WsEvent", "WsHandlers", "WsState", "accept"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


#: ``reason`` of a connection failed with a close code.
_FAILURE_REASONS = {1002: "protocol_error", 1007: "invalid_utf8", 1009: "message_too_big"}


class WsState(Enum):
    """Where a connection stands (RFC 6455 section 7)."""

    OPEN = "open"
    #: The server sent its close frame and waits for the client's (or the close timeout).
    CLOSING = "closing"
    #: The TCP connection is closed or closing; nothing more is read or written.
    CLOSED = "closed"


class WsEvent(Enum):
    """What moves a connection."""

    SEND_CLOSE = "send_close"
    RECEIVE_CLOSE = "receive_close"
    FAIL = "fail"
    LOST = "lost"


#: The whole machine. A pair that is missing is a bug in the caller and raises
#: :class:`~selector.runtime.protocol.machine.InvalidTransition`: only :meth:`WsConnection.close`
#: sends a close frame, and only while open.
TRANSITIONS: dict[tuple[WsState, WsEvent], WsState] = {
    (WsState.OPEN, WsEvent.SEND_CLOSE): WsState.CLOSING,
    (WsState.OPEN, WsEvent.RECEIVE_CLOSE): WsState.CLOSED,
    (WsState.OPEN, WsEvent.FAIL): WsState.CLOSED,
    (WsState.OPEN, WsEvent.LOST): WsState.CLOSED,
    (WsState.CLOSING, WsEvent.RECEIVE_CLOSE): WsState.CLOSED,
    (WsState.CLOSING, WsEvent.FAIL): WsState.CLOSED,
    (WsState.CLOSING, WsEvent.LOST): WsState.CLOSED,
    # Once closed, the rest of an ending connection changes nothing: the loss is reported
    # twice (feed_eof, then connection_lost) and after an abort or a close timeout; a handler
    # that failed or aborted the connection leaves the parser's own failure, or a close
    # frame later in the same read, to arrive after it.
    (WsState.CLOSED, WsEvent.RECEIVE_CLOSE): WsState.CLOSED,
    (WsState.CLOSED, WsEvent.FAIL): WsState.CLOSED,
    (WsState.CLOSED, WsEvent.LOST): WsState.CLOSED,
}

# The open state as a module global for the per-message checks: on Python 3.11 every attribute
# read on an Enum class goes through EnumType.__getattr__'s slow hook (about 0.6 us against
# 0.05 us for a global, timeit on this machine). The one-in-flight ack path read six members
# per ack: ~5,800 of its ~49,600 instructions (callgrind).
_OPEN = WsState.OPEN


class WsHandlers:
    """What a route does with a connection's messages; override what it needs."""

    def on_text(self, conn: WsConnection, payload: Payload) -> None:
        """A whole text message (its UTF-8 is not checked yet)."""

    def on_binary(self, conn: WsConnection, payload: Payload) -> None:
        """A whole binary message."""

    def on_pong(self, conn: WsConnection) -> None:
        """A pong arrived."""

    def on_read_end(self, conn: WsConnection) -> None:
        """Every message of one read was handed over (write what they earned in one go)."""

    def on_send_timeout(self, conn: WsConnection) -> None:
        """The peer took nothing for ``send_timeout_s`` while reads were held; the
        connection is dropped right after (the route's handler may not run again: aiohttp
        cancels it when the connection is lost)."""

    def on_single_text(self, conn: WsConnection, payload: Payload) -> None:
        """A text message that was the whole of its read: :meth:`on_text` then
        :meth:`on_read_end` unless a route answers it at once in one step."""
        self.on_text(conn, payload)
        self.on_read_end(conn)


class _Upgraded(web.StreamResponse):
    """What a WebSocket route returns to aiohttp once the connection is over: :func:`accept`
    wrote the 101 itself, so there is nothing left to prepare or to end."""

    @property
    def prepared(self) -> bool:
        """The 101 is out: nothing may prepare this response again."""
        return True

    async def prepare(self, request: web.BaseRequest) -> None:
        """The 101 went out in :func:`accept`."""
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        """Nothing follows a 101 on this connection but WebSocket frames."""


def upgraded_response() -> web.StreamResponse:
    """The response a route returns after :func:`accept`, when the connection has ended.
    Built only then: a prepared aiohttp response kept for the connection's life held ~1 KB
    (headers, serialized head) per idle WebSocket (bench/run.py memory)."""
    return _Upgraded(status=101)


def _accept_key(key: str | None) -> str | None:
    """``Sec-WebSocket-Accept`` for a valid ``Sec-WebSocket-Key`` (16 random bytes), else None."""
    if not key:
        return None
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except binascii.Error:
        return None
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def upgrade_refusal(request: web.Request) -> str | None:
    """Why ``request`` is not a WebSocket opening handshake this server accepts, or None."""
    headers = request.headers
    if headers.get("Upgrade", "").strip().lower() != "websocket":
        return "Upgrade: websocket is required"
    tokens = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
    if "upgrade" not in tokens:
        return "Connection: Upgrade is required"
    if headers.get("Sec-WebSocket-Version", "").strip() != "13":
        return "Sec-WebSocket-Version: 13 is required"
    if _accept_key(headers.get("Sec-WebSocket-Key")) is None:
        return "Sec-WebSocket-Key must be 16 bytes in base64"
    return None


class WsConnection(asyncio.Protocol):
    """One WebSocket after the handshake: the transport's protocol from :meth:`start` on, and
    the writer of every frame the server sends on it."""

    __slots__ = (
        "_closing_timer",
        "_handlers",
        "_holding",
        "_http",
        "_loop",
        "_parser",
        "close_code",
        "close_timeout_s",
        "done",
        "reason",
        "request",
        "send_timeout_s",
        "state",
        "transport",
    )

    def __init__(
        self,
        request: web.Request,
        transport: asyncio.Transport,
        handlers: WsHandlers,
        *,
        max_message_bytes: int,
        close_timeout_s: float,
        send_timeout_s: float | None = None,
    ) -> None:
        self.request = request
        self.transport = transport
        self._handlers = handlers
        self._parser = FrameParser(max_message_bytes, websocket_mask)
        self._loop = asyncio.get_running_loop()
        self.state = WsState.OPEN
        self.close_timeout_s = close_timeout_s
        #: How long :meth:`hold_reads_while_backed_up` waits for a backed-up peer to take
        #: what was written before dropping it (None: for ever).
        self.send_timeout_s = send_timeout_s
        #: The close code sent or received first (None until then, or for an empty close).
        self.close_code: int | None = None
        #: Why it ended, for the ``ws.closed`` log line (see docs/wire-contract.md).
        self.reason = "closed"
        #: Resolved once the connection is closed (the route's handler awaits it).
        self.done: asyncio.Future[None] = self._loop.create_future()
        self._closing_timer: asyncio.TimerHandle | None = None
        self._http: asyncio.Protocol | None = None
        self._holding = False

    # -- state -----------------------------------------------------------------------------

    def _to(self, event: WsEvent) -> WsState:
        self.state = next_state(TRANSITIONS, self.state, event, "websocket")
        if self.state is WsState.CLOSED:
            if self._closing_timer is not None:
                self._closing_timer.cancel()
                self._closing_timer = None
            if not self.done.done():
                self.done.set_result(None)
        return self.state

    @property
    def closed(self) -> bool:
        """Whether a close frame was sent or the connection is gone: no data frame may follow."""
        return self.state is not WsState.OPEN

    @property
    def holding(self) -> bool:
        """Whether reads are held until a backed-up peer takes what was written."""
        return self._holding

    @property
    def buffered(self) -> int:
        """Bytes written but not yet sent."""
        return self.transport.get_write_buffer_size()

    # -- reading ----------------------------------------------------------------------------

    def start(self) -> None:
        """Take the connection over from aiohttp; call once the handlers are wired.

        Bytes the client sent right behind its request head reach :meth:`feed_data` through
        aiohttp's payload parser slot; from then on this object is the transport's protocol,
        so a read costs no pass through aiohttp's ``data_received``. Connection loss and flow
        control still go to aiohttp's protocol, which cancels the route's handler and wakes
        :meth:`drain`."""
        http = self.request.protocol
        # aiohttp types the slot as its own parser class; any object with feed_data fits it.
        http.set_parser(self)  # type: ignore[arg-type]
        http.keep_alive(False)
        self._http = http
        if self.state is not WsState.CLOSED:
            self.transport.set_protocol(self)

    def data_received(self, data: bytes) -> None:
        """asyncio: the client's bytes."""
        if self.state is _OPEN:
            # One small text frame per read is the common case (a UI waits for each ack).
            payload = self._parser.single_text(data)
            if payload is not None:
                self._handlers.on_single_text(self, payload)
                return
        self.feed_data(data)

    def eof_received(self) -> bool | None:
        """asyncio: the client half-closed; close (a WebSocket has no half-open state)."""
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """asyncio: aiohttp's protocol cleans up (and calls :meth:`feed_eof`)."""
        if self._http is not None:
            self._http.connection_lost(exc)
        self._to(WsEvent.LOST)

    def pause_writing(self) -> None:
        """asyncio: aiohttp's flow control, which :meth:`drain` waits on."""
        if self._http is not None:
            self._http.pause_writing()

    def resume_writing(self) -> None:
        """asyncio: see :meth:`pause_writing`."""
        if self._http is not None:
            self._http.resume_writing()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        """The client's bytes (also aiohttp's payload parser interface)."""
        if self.state is WsState.CLOSED:
            return False, b""
        handlers = self._handlers
        for opcode, payload in self._parser.feed(data):
            if opcode == OP_TEXT:
                if self.state is WsState.OPEN:
                    handlers.on_text(self, payload)
            elif opcode == OP_PONG:
                handlers.on_pong(self)
            elif opcode == OP_PING:
                if self.state is WsState.OPEN:
                    self._write(control_frame(OP_PONG, payload))
            elif opcode == OP_BINARY:
                if self.state is WsState.OPEN:
                    handlers.on_binary(self, payload)
            elif opcode == OP_CLOSE:
                handlers.on_read_end(self)
                self._received_close(payload)
                return False, b""
        handlers.on_read_end(self)
        failure = self._parser.failure
        if failure is not None:
            self.fail(*failure)
        return False, b""

    def feed_eof(self) -> None:
        """The TCP connection was lost."""
        self._to(WsEvent.LOST)

    # -- writing ------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    def send_text(self, payload: bytes) -> bool:
        """One text frame; False (nothing sent) once closing."""
        transport = self.transport
        if self.state is not _OPEN or transport.is_closing():
            return False
        # A short ack (the common reply) is framed here rather than by a call.
        size = len(payload)
        transport.write(SHORT_TEXT_HEADS[size] + payload if size < 126 else text_frame(payload))
        return True

    def send_texts(self, payloads: list[bytes]) -> bool:
        """Text frames, one write (one system call) for all of them; False (nothing sent)
        once closing."""
        if len(payloads) == 1:
            return self.send_text(payloads[0])
        transport = self.transport
        if self.state is not _OPEN or transport.is_closing():
            return False
        transport.write(text_frames(payloads))
        return True

    def send_framed(self, data: bytes) -> bool:
        """Text frames already built by :func:`~selector.runtime.protocol.wsframe.text_frames`
        (the same bytes for every subscriber of a fan-out); False once closing."""
        transport = self.transport
        if self.state is not _OPEN or transport.is_closing():
            return False
        transport.write(data)
        return True

    def send(self, opcode: int, payload: Payload) -> None:
        """One data frame (``OP_TEXT`` or ``OP_BINARY``); dropped once closing."""
        if self.state is WsState.OPEN:
            self._write(frame(opcode, payload))

    def ping(self, payload: bytes = b"") -> None:
        """A ping; its pong arrives through ``on_pong``."""
        if self.state is WsState.OPEN:
            self._write(control_frame(OP_PING, payload))

    async def drain(self) -> None:
        """Wait until the transport takes more (aiohttp's flow control)."""
        await self.request.writer.drain()

    def hold_reads_while_backed_up(self) -> None:
        """Stop reading while more is buffered than the transport's high-water mark, until
        it drains: a peer that sends but does not read (to ``/echo``) cannot grow the
        server's memory beyond one message and the buffer. One that has not drained within
        ``send_timeout_s`` is dropped (reason ``slow_reader``): without it, a peer that never
        reads would hold its connection for ever."""
        transport = self.transport
        if (
            self._holding
            or transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[1]
        ):
            return
        self._holding = True
        transport.pause_reading()
        self._loop.create_task(self._resume_when_drained())

    async def _resume_when_drained(self) -> None:
        timeout = self.send_timeout_s
        try:
            if timeout is None:
                await self.drain()
            else:
                # The loop's clock, not the hub's: it bounds real socket I/O, like the close
                # timeout and the header timeout it is set from (selector.runtime.clock).
                async with asyncio.timeout(timeout):
                    await self.drain()
        except TimeoutError:
            self.reason = "slow_reader"
            self._handlers.on_send_timeout(self)
            self.abort()
        except (ConnectionError, RuntimeError):
            pass  # gone; connection_lost ends it
        finally:
            self._holding = False
            if self.state is not WsState.CLOSED and not self.transport.is_closing():
                self.transport.resume_reading()

    # -- closing ------------------------------------------------------------------------------

    def close(self, code: int, reason: bytes = b"") -> None:
        """Start the closing handshake: send a close frame, then wait for the client's (or the
        close timeout) before closing TCP."""
        if self.state is not WsState.OPEN:
            return
        self.close_code = code
        self._write(close_frame(code, reason))
        self._to(WsEvent.SEND_CLOSE)
        # The loop's clock on purpose, not the hub's: a close handshake is real socket I/O
        # (selector.runtime.clock), and a ManualClock a test stopped moving must not keep a
        # connection whose peer never answers open for ever.
        self._closing_timer = self._loop.call_later(self.close_timeout_s, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._closing_timer = None
        self.transport.abort()
        self._to(WsEvent.LOST)

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection (section 7.1.7): a close frame if still open, then close TCP."""
        if self.state is WsState.OPEN:
            self.close_code = code
            self.reason = _FAILURE_REASONS.get(code, f"failed_{code}")
            self._write(close_frame(code, reason.encode()))
        self.transport.close()
        self._to(WsEvent.FAIL)

    def _received_close(self, payload: Payload) -> None:
        code, failure = parse_close(payload)
        if self.state is WsState.OPEN:
            # Echo the client's code (section 5.5.1), or fail with 1002/1007 for a bad one.
            self.close_code = failure or code
            self.reason = f"peer_close_{1005 if code is None else code}"
            self._write(close_frame(failure or code))
        # The server closes TCP first once both close frames are exchanged (section 7.1.1).
        self.transport.close()
        self._to(WsEvent.RECEIVE_CLOSE)

    def abort(self) -> None:
        """Drop the connection now, without a closing handshake (the peer may be gone)."""
        self.transport.abort()
        self._to(WsEvent.LOST)


async def accept(
    request: web.Request,
    handlers: WsHandlers,
    *,
    max_message_bytes: int,
    close_timeout_s: float,
    send_timeout_s: float | None = None,
) -> WsConnection:
    """Answer the opening handshake with 101; :meth:`WsConnection.start` then takes the
    connection over, and the route returns :func:`upgraded_response` once it has ended.
    Raises ``HTTPBadRequest`` for a request that is not a valid handshake,
    ``ConnectionResetError`` when the client is already gone."""
    refusal = upgrade_refusal(request)
    if refusal is not None:
        raise web.HTTPBadRequest(text=refusal)
    accept_value = _accept_key(request.headers["Sec-WebSocket-Key"])
    assert accept_value is not None
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("the client went away during the handshake")
    transport.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: %s\r\n\r\n" % accept_value.encode()
    )
    conn = WsConnection(
        request,
        transport,
        handlers,
        max_message_bytes=max_message_bytes,
        close_timeout_s=close_timeout_s,
        send_timeout_s=send_timeout_s,
    )
    return conn
