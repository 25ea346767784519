"""Measure a live path's idle timeout with WebSocket connections held idle (``selector probe``).

Each connection opens, stays silent for its duration, then sends a Ping: a Pong means the
path kept it; a close before that, or an unanswered Ping (a silent drop), means it did not.
:mod:`selector.verify.idlesearch` decides the durations.

The connection is a minimal RFC 6455 client on asyncio streams rather than aiohttp's: telling
a FIN from an RST needs the socket's own answer (an empty read or ``ECONNRESET``), which
aiohttp's WebSocket client reports as the same error. The endpoint must answer Pings
(RFC 6455 §5.5.2), as ``selector serve`` and most servers do; data it sends while the
connection should be idle is read and ignored, but it resets the path's idle timer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from selector.runtime.clock import SYSTEM_CLOCK, Clock
from selector.verify.idlesearch import Held, IdleSearch, first_durations, judge, narrow

__all__ = [
    "MAX_CONTROL_FRAMES",
    "MAX_FRAME_BYTES",
    "ProbeError",
    "ProbeResult",
    "ProbeSettings",
    "all_held",
    "connection_url",
    "probe_idle_timeout",
    "search_rounds",
]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_PING, _PONG, _CLOSE = 0x9, 0xA, 0x8

#: Largest frame payload the probe reads from the endpoint. It only waits for Pongs and
#: closes (at most 125 bytes) and skips what a server sends while idle (heartbeats); the
#: length is the peer's 64-bit claim, and reading it whole would buffer up to 2**63 bytes.
MAX_FRAME_BYTES = 1024 * 1024
#: Pings answered while waiting for one other frame. A Ping every second through the
#: longest idle duration (900 s by default) stays under it; a flood does not, and each Pong
#: written is buffered towards a peer that need not read them.
MAX_CONTROL_FRAMES = 10_000


class ProbeError(Exception):
    """The endpoint could not be reached or did not accept a WebSocket."""


@dataclass(frozen=True)
class ProbeSettings:
    """Bounds of a probe: nothing runs longer or opens more than these allow."""

    max_idle_s: float = 900.0
    precision_s: float = 1.0
    #: Connections held at once (one round).
    connections: int = 8
    #: How long a Ping (or the handshake) is waited for before it counts as unanswered.
    reply_timeout_s: float = 5.0
    #: Rounds at most, the first included.
    max_rounds: int = 6


@dataclass(frozen=True)
class ProbeResult:
    """What the probe measured."""

    url: str
    idle_timeout_s: float | None
    drop: str
    #: The timeout lies in (low, high]; ``high`` is None when nothing dropped.
    low_s: float
    high_s: float | None
    connections: int
    rounds: int
    held: tuple[Held, ...]


def connection_url(url: str, index: int, tag: str = "probe") -> str:
    """``url`` with its ``client_id`` (if any) made unique per connection (``ID.TAGN``): one
    id holds one stream on ``selector serve``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(key == "client_id" for key, _ in query):
        return url
    query = [(k, f"{v}.{tag}{index}" if k == "client_id" else v) for k, v in query]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _frame(opcode: int, payload: bytes) -> bytes:
    """A final, masked client frame (payload under 126 bytes: control frames only)."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + masked


class _Connection:
    """One WebSocket connection, just enough of it to idle, ping and see how it ends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, url: str, timeout_s: float) -> _Connection:
        parts = urlsplit(url)
        secure = parts.scheme in ("wss", "https")
        host = parts.hostname or "localhost"
        port = parts.port or (443 if secure else 80)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        key = base64.b64encode(os.urandom(16))
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=ssl.create_default_context() if secure else None
                )
                writer.write(
                    f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            why = str(exc) or type(exc).__name__
            raise ProbeError(f"cannot open a WebSocket: {why}") from None
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        if " 101 " not in f"{status} " or accept not in head:
            writer.close()
            raise ProbeError(f"the endpoint did not accept a WebSocket: {status}")
        return cls(reader, writer)

    async def next_opcode(self) -> int:
        """The opcode of the next frame (its payload read and dropped); Pings answered.
        Raises ``asyncio.IncompleteReadError`` on FIN, ``ConnectionResetError`` on RST, and
        :class:`ProbeError` for a frame over :data:`MAX_FRAME_BYTES` or more than
        :data:`MAX_CONTROL_FRAMES` Pings in a row."""
        for _ in range(MAX_CONTROL_FRAMES + 1):
            first, second = await self.reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            if length > MAX_FRAME_BYTES:
                raise ProbeError(
                    f"the endpoint sent a WebSocket frame of {length} bytes; "
                    f"the probe reads at most {MAX_FRAME_BYTES}"
                )
            payload = await self.reader.readexactly(length)
            opcode = first & 0x0F
            if opcode == _PING:
                self.writer.write(_frame(_PONG, payload[:125]))
                continue
            return opcode
        raise ProbeError(
            f"the endpoint sent more than {MAX_CONTROL_FRAMES} Pings in a row; "
            "the probe answers no more"
        )

    def close(self) -> None:
        self.writer.close()


async def _hold(url: str, idle_s: float, settings: ProbeSettings, clock: Clock) -> Held:
    conn = await _Connection.open(url, settings.reply_timeout_s)
    now = clock.monotonic
    opened = now()

    async def until(deadline: float, want: int | None) -> Held | None:
        """Read until ``deadline``; a Held if the connection ended or ``want`` arrived."""
        while (left := deadline - now()) > 0:
            try:
                # The idle durations are what is measured: read and waited on one clock.
                async with clock.timeout(left):
                    opcode = await conn.next_opcode()
            except TimeoutError:
                return None
            except asyncio.IncompleteReadError:
                return Held(idle_s, "fin", now() - opened)
            except ConnectionResetError:
                return Held(idle_s, "rst", now() - opened)
            if opcode == _CLOSE:
                return Held(idle_s, "fin", now() - opened)
            if opcode == want:
                return Held(idle_s, "survived")
        return None

    try:
        ended = await until(opened + idle_s, None)
        if ended is not None:
            return ended
        try:
            conn.writer.write(_frame(_PING, b"selector-probe"))
            await conn.writer.drain()
        except ConnectionResetError:
            return Held(idle_s, "rst", now() - opened)
        answered = await until(now() + settings.reply_timeout_s, _PONG)
        return answered if answered is not None else Held(idle_s, "silent")
    finally:
        conn.close()


async def search_rounds(
    url: str,
    settings: ProbeSettings,
    round_: Callable[[list[float], int], Awaitable[list[Held]]],
    progress: Callable[[str], None],
    noun: str,
) -> ProbeResult:
    """Rounds of ``round_(durations, first_index)`` until the search is done or bounded."""
    search = IdleSearch(0.0, None, "none")
    durations = first_durations(settings.max_idle_s, settings.precision_s, settings.connections)
    held_all: list[Held] = []
    opened = 0
    rounds = 0
    while durations and rounds < settings.max_rounds:
        rounds += 1
        listed = ", ".join(f"{d:g}" for d in durations)
        progress(f"round {rounds}: holding {len(durations)} {noun} idle for {listed} s")
        held = await round_(durations, opened)
        opened += len(durations)
        held_all.extend(held)
        for h in held:
            after = f" after {h.closed_after_s:.1f} s" if h.closed_after_s is not None else ""
            progress(f"  idle {h.idle_s:g} s: {h.outcome}{after}")
        search = judge(search, held)
        if search.done(settings.precision_s) or search.high_s is None:
            break
        durations = narrow(search.low_s, search.high_s, settings.precision_s, settings.connections)
    return ProbeResult(
        url=url,
        idle_timeout_s=search.idle_timeout_s,
        drop=search.drop,
        low_s=search.low_s,
        high_s=search.high_s,
        connections=opened,
        rounds=rounds,
        held=tuple(held_all),
    )


async def all_held(outcomes: Awaitable[list[Held | BaseException]]) -> list[Held]:
    """The round's outcomes, or its first error raised."""
    done = await outcomes
    failed = [o for o in done if isinstance(o, BaseException)]
    if failed:
        raise failed[0]
    return [o for o in done if isinstance(o, Held)]


async def probe_idle_timeout(
    url: str,
    settings: ProbeSettings,
    *,
    clock: Clock = SYSTEM_CLOCK,
    progress: Callable[[str], None] = lambda _: None,
) -> ProbeResult:
    """Search the idle timeout of the path to ``url`` within ``settings``' bounds; idle
    durations are read and waited on ``clock``."""
    # One handshake first, so an unreachable or wrong endpoint is one clear error.
    (await _Connection.open(connection_url(url, 0), settings.reply_timeout_s)).close()

    async def round_(durations: list[float], first: int) -> list[Held]:
        urls = [connection_url(url, first + i) for i in range(len(durations))]
        return await all_held(
            asyncio.gather(
                *(_hold(u, d, settings, clock) for u, d in zip(urls, durations, strict=True)),
                return_exceptions=True,
            )
        )

    return await search_rounds(url, settings, round_, progress, "connections")
