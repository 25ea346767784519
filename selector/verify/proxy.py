"""A TCP proxy that fails the way load balancers and networks do, for loopback tests.

The failure that matters most is the silent drop: a load balancer forgets an idle
connection and stops forwarding without sending FIN or RST to either side, so neither peer's
socket closes and ``onclose`` never fires. This proxy reproduces it faithfully: after the
idle window it swallows every byte in both directions while keeping both sockets open. If the
client then gives up and closes its side, the upstream socket stays open, as the server's
would behind a real load balancer that lost the flow: only the server's own heartbeat can
reap it.

Other modes: idle timeout with RST, a maximum connection lifetime, added one-way latency, an
emulated network (round trip, jitter and loss per direction, see :mod:`selector.verify.network`),
a bandwidth cap and a mid-stream cut after a number of bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from dataclasses import dataclass, field
from typing import Literal

from selector.runtime.clock import SYSTEM_CLOCK, Clock
from selector.verify.network import Network

__all__ = ["FaultPolicy", "FaultProxy", "ProxyStats", "request_head", "strip_upgrade"]

FaultAction = Literal["silent_drop", "rst", "fin"]

_READ_SIZE = 64 * 1024
#: Chunks queued per direction before the proxy stops reading (at most 4 MiB).
_QUEUED_CHUNKS = 64
#: Request heads kept in :attr:`ProxyStats.request_heads`.
_MAX_HEADS = 256


@dataclass(frozen=True)
class FaultPolicy:
    """How the proxy misbehaves. Times are in seconds of the proxy's clock (already
    time-scaled)."""

    idle_timeout_s: float | None = None
    idle_action: FaultAction = "silent_drop"
    max_lifetime_s: float | None = None
    lifetime_action: FaultAction = "rst"
    latency_s: float = 0.0
    bandwidth_bytes_per_s: float | None = None
    cut_after_bytes: int | None = None
    #: Round trip, jitter and loss added per direction, on top of ``latency_s``.
    network: Network = field(default_factory=Network)
    #: Random state of the network model (jitter and loss draws), for replayable runs.
    random_state: int = 0
    #: Remove ``Upgrade`` (and ``Connection: upgrade``) from requests, as some corporate
    #: proxies and old intermediaries do: a WebSocket handshake arrives as a plain GET.
    strip_upgrade: bool = False
    #: Hold response bytes until this many have gathered, as a buffering reverse proxy does
    #: (nginx ``proxy_buffering``); upgraded (101) connections pass unbuffered.
    buffer_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("idle_timeout_s", "max_lifetime_s", "bandwidth_bytes_per_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if self.latency_s < 0:
            raise ValueError(f"latency_s must be >= 0, got {self.latency_s}")
        if self.cut_after_bytes is not None and self.cut_after_bytes < 1:
            raise ValueError(f"cut_after_bytes must be >= 1, got {self.cut_after_bytes}")

    def due_fault(
        self, *, now: float, opened_at: float, last_activity: float
    ) -> tuple[FaultAction, str] | None:
        """The fault that applies at ``now``, if any, with its reason (pure; no clock)."""
        if self.max_lifetime_s is not None and now - opened_at >= self.max_lifetime_s:
            return self.lifetime_action, "max_lifetime"
        if self.idle_timeout_s is not None and now - last_activity >= self.idle_timeout_s:
            return self.idle_action, "idle_timeout"
        return None

    def next_check(self, *, opened_at: float, last_activity: float) -> float | None:
        """The earliest time at which :meth:`due_fault` could change its answer."""
        times = []
        if self.max_lifetime_s is not None:
            times.append(opened_at + self.max_lifetime_s)
        if self.idle_timeout_s is not None:
            times.append(last_activity + self.idle_timeout_s)
        return min(times) if times else None


@dataclass
class ProxyStats:
    """What the proxy saw and did; evidence for ``selector verify``."""

    connections: int = 0
    active: int = 0
    bytes_upstream: int = 0
    bytes_downstream: int = 0
    #: Faults applied, by ``"<reason>:<action>"``, for example ``"idle_timeout:silent_drop"``.
    faults: dict[str, int] = field(default_factory=dict)
    #: Bytes that arrived after a silent drop and were swallowed.
    bytes_swallowed: int = 0
    #: Sockets released because their side closed after a silent drop (the other side of
    #: such a link is never told).
    sides_released: int = 0
    #: The head (request line and headers) of each HTTP request clients sent, in order, as
    #: far as a read starts with one (see :func:`request_head`): what a test checks a client
    #: asked for. The first ``_MAX_HEADS`` only.
    request_heads: list[bytes] = field(default_factory=list)

    def count_fault(self, reason: str, action: str) -> None:
        key = f"{reason}:{action}"
        self.faults[key] = self.faults.get(key, 0) + 1

    @property
    def drops(self) -> int:
        """All faults applied."""
        return sum(self.faults.values())


def request_head(chunk: bytes) -> bytes | None:
    """The HTTP request head ``chunk`` starts with (without the blank line), or None (pure).
    A head is small and sent in one write, so on loopback it arrives in one read."""
    method, space, _ = chunk[:16].partition(b" ")
    if not space or not method.isalpha() or not method.isupper():
        return None
    head, sep, _ = chunk.partition(b"\r\n\r\n")
    return head if sep else None


def strip_upgrade(chunk: bytes) -> bytes:
    """A request head without its ``Upgrade`` header and with ``Connection: upgrade`` turned
    into ``keep-alive`` (pure). Only a chunk that starts with ``GET`` and holds the whole head
    is touched: a handshake is small and sent at once."""
    head, sep, body = chunk.partition(b"\r\n\r\n")
    if not chunk.startswith(b"GET ") or not sep:
        return chunk
    lines = []
    for line in head.split(b"\r\n"):
        name = line.split(b":", 1)[0].strip().lower()
        if name == b"upgrade":
            continue
        if name == b"connection" and b"upgrade" in line.lower():
            line = b"Connection: keep-alive"
        lines.append(line)
    return b"\r\n".join(lines) + sep + body


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0) instead of FIN, as a load balancer that resets does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Link:
    """One proxied connection: two pumps and a watchdog."""

    def __init__(
        self,
        proxy: FaultProxy,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.proxy = proxy
        self.policy = proxy.policy
        self.client_reader, self.client_writer = client
        self.upstream_reader, self.upstream_writer = upstream
        self.clock = proxy.clock
        self.opened_at = self.clock.monotonic()
        self.last_activity = self.opened_at
        self.forwarded = 0
        self.dropped = False  # silently dropped: swallow everything from now on
        self.sides_gone = 0
        self.closed = asyncio.Event()
        self.index = proxy.stats.connections

    def _due(self, rng: random.Random, last_due: float) -> float:
        """When a chunk read now may leave: TCP delivers in order, so never before the
        chunk ahead of it (a delayed or retransmitted chunk holds up what follows)."""
        delay = self.policy.latency_s + self.policy.network.chunk_delay(rng)
        return max(last_due, self.clock.monotonic() + delay)

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(
                self._pump(self.client_reader, self.upstream_writer, upstream=True)
            ),
            asyncio.create_task(
                self._pump(self.upstream_reader, self.client_writer, upstream=False)
            ),
            asyncio.create_task(self._watchdog()),
        ]
        try:
            await self.closed.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for writer in (self.client_writer, self.upstream_writer):
                writer.transport.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        stats = self.proxy.stats
        # Bounded, so a slow far side (a bandwidth cap) pushes back on the sender as a real
        # link would, instead of the proxy buffering without limit.
        pending: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUED_CHUNKS)
        sender = asyncio.create_task(self._send(pending, writer))
        rng = random.Random(f"{self.policy.random_state}:{self.index}:{upstream}")
        last_due = 0.0
        buffering = not upstream and self.policy.buffer_bytes is not None
        held = b""
        try:
            while True:
                try:
                    chunk = await reader.read(_READ_SIZE)
                except (ConnectionError, OSError):
                    chunk = b""
                if not chunk:
                    await self._peer_closed(upstream=upstream, pending=pending)
                    return
                if self.dropped:
                    stats.bytes_swallowed += len(chunk)
                    continue
                if upstream and len(stats.request_heads) < _MAX_HEADS:
                    head = request_head(chunk)
                    if head is not None:
                        stats.request_heads.append(head)
                if upstream and self.policy.strip_upgrade:
                    chunk = strip_upgrade(chunk)
                if buffering and self.policy.buffer_bytes is not None:
                    if not held and chunk.startswith(b"HTTP/1.1 101"):
                        buffering = False  # an upgraded connection is not buffered
                    else:
                        held += chunk
                        if len(held) < self.policy.buffer_bytes:
                            continue
                        chunk, held = held, b""
                self.last_activity = self.clock.monotonic()
                if self.policy.cut_after_bytes is not None:
                    room = self.policy.cut_after_bytes - self.forwarded
                    if len(chunk) >= room:
                        chunk = chunk[: max(room, 0)]
                        if chunk:
                            await pending.put((self._due(rng, last_due), chunk))
                            await pending.join()
                        self._apply("rst", "cut")
                        return
                self.forwarded += len(chunk)
                if upstream:
                    stats.bytes_upstream += len(chunk)
                else:
                    stats.bytes_downstream += len(chunk)
                last_due = self._due(rng, last_due)
                await pending.put((last_due, chunk))
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _send(
        self, pending: asyncio.Queue[tuple[float, bytes] | None], writer: asyncio.StreamWriter
    ) -> None:
        """Deliver chunks in order after the added latency, at most at the bandwidth cap."""
        link_free = self.clock.monotonic()
        while True:
            item = await pending.get()
            try:
                if item is None:
                    if writer.can_write_eof():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    continue
                due, chunk = item
                if self.policy.bandwidth_bytes_per_s is not None:
                    # A chunk leaves once the link has had time to serialise it.
                    link_free = max(link_free, due) + len(chunk) / self.policy.bandwidth_bytes_per_s
                    due = link_free
                delay = due - self.clock.monotonic()
                if delay > 0:
                    await self.clock.sleep(delay)
                if self.dropped:
                    continue
                writer.write(chunk)
                try:
                    await writer.drain()
                except (ConnectionError, OSError):
                    self.closed.set()
                    return
            finally:
                pending.task_done()

    async def _peer_closed(
        self, *, upstream: bool, pending: asyncio.Queue[tuple[float, bytes] | None]
    ) -> None:
        if self.dropped:
            # The load balancer has forgotten this flow: the other side is never told. The
            # closing side's socket is released; the other stays open until its owner reaps it.
            closing = self.client_writer if upstream else self.upstream_writer
            closing.transport.abort()
            self.proxy.stats.sides_released += 1
            self.sides_gone += 1
            if self.sides_gone == 2:
                self.closed.set()
            return
        # An orderly close passes through as FIN after what was already in flight.
        await pending.put(None)
        await pending.join()
        self.closed.set()

    async def _watchdog(self) -> None:
        while not self.dropped:
            wake = self.policy.next_check(
                opened_at=self.opened_at, last_activity=self.last_activity
            )
            if wake is None:
                return
            await self.clock.sleep(max(0.0, wake - self.clock.monotonic()))
            if self.dropped:
                return  # dropped meanwhile (a forced blackhole): one fault per link
            fault = self.policy.due_fault(
                now=self.clock.monotonic(),
                opened_at=self.opened_at,
                last_activity=self.last_activity,
            )
            if fault is not None:
                action, reason = fault
                self._apply(action, reason)
                return

    def drop_silently(self, reason: str) -> None:
        """Stop forwarding now, without telling either side (no-op if already dropped)."""
        if not self.dropped and not self.closed.is_set():
            self._apply("silent_drop", reason)

    def _apply(self, action: FaultAction, reason: str) -> None:
        self.proxy.stats.count_fault(reason, action)
        if action == "silent_drop":
            self.dropped = True
            return
        for writer in (self.client_writer, self.upstream_writer):
            if action == "rst":
                _reset(writer)
            else:
                writer.close()
        self.closed.set()


class FaultProxy:
    """Listen on ``host:port`` (0 = any free port) and forward to ``target`` under ``policy``.

    Use as an async context manager; :attr:`port` is known once it has started. Closing the
    proxy ends every link it holds, silently dropped ones included.
    """

    def __init__(
        self,
        target: tuple[str, int],
        policy: FaultPolicy | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sock: socket.socket | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.target = target
        #: Idle windows, lifetimes, latency and bandwidth delays follow this clock.
        self.clock = clock
        #: A listening socket made elsewhere (inside a network namespace), used instead of
        #: ``host:port``.
        self.sock = sock
        self.policy = policy or FaultPolicy()
        self.host = host
        self.port = port
        self.stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._ignored: set[asyncio.StreamWriter] = set()
        self._handlers_done = asyncio.Event()
        self._blackhole = False

    async def start(self) -> FaultProxy:
        """Start listening; returns self."""
        if self.sock is not None:
            self._server = await asyncio.start_server(self._accept, sock=self.sock)
        else:
            self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        return self

    async def close(self) -> None:
        """Stop listening and end every connection."""
        if self._server is not None:
            self._server.close()
        # Links are ended by their own event rather than by cancelling asyncio's handler
        # tasks, which asyncio would log as errors.
        for link in list(self._links):
            link.closed.set()
        for ignored in list(self._ignored):
            ignored.transport.abort()
        if self._links:
            await asyncio.wait_for(self._handlers_done.wait(), timeout=10)
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def blackhole(self) -> bool:
        """While true, nothing gets through and nobody is told.

        Turning it on silently drops every open connection (counted as
        ``"forced:silent_drop"``); connections opened meanwhile are accepted and then
        ignored, as by a network path that went dark. Turning it off lets new connections
        through again; the dropped ones stay dead, as behind a load balancer that forgot them.
        """
        return self._blackhole

    @blackhole.setter
    def blackhole(self, on: bool) -> None:
        self._blackhole = on
        if on:
            for link in list(self._links):
                link.drop_silently("forced")

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._blackhole:
            await self._ignore(reader, writer)
            return
        try:
            upstream = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self.stats.connections += 1
        self.stats.active += 1
        link = _Link(self, (reader, writer), upstream)
        self._links.add(link)
        self._handlers_done.clear()
        if self._blackhole:
            link.drop_silently("forced")  # the path went dark while this one was connecting
        try:
            await link.run()
        finally:
            self.stats.active -= 1
            self._links.discard(link)
            if not self._links:
                self._handlers_done.set()

    async def _ignore(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Swallow a connection made during a blackhole until its client gives up."""
        self.stats.count_fault("forced", "ignored_connect")
        self._ignored.add(writer)
        try:
            while chunk := await reader.read(_READ_SIZE):
                self.stats.bytes_swallowed += len(chunk)
        except (ConnectionError, OSError):
            pass
        finally:
            self._ignored.discard(writer)
            writer.transport.abort()
