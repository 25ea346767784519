"""One WebSocket connection or SSE stream receiving the event stream, and what it holds."""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web

from selector.runtime.protocol.fanout import FanoutQueue
from selector.runtime.protocol.identity import Claim
from selector.runtime.server.websocket import WsConnection

__all__ = ["OWNER_KEY", "Route", "Subscriber"]

#: The route a subscriber streams on (``/ws`` or ``/sse``), as log lines and metric labels
#: name it; the protocol vocabulary of the decision side is :mod:`selector.protocols`.
Route = Literal["ws", "sse"]

#: Request key under which admission leaves the token owner a stream acts for.
OWNER_KEY = web.RequestKey("owner", str)


class Subscriber:
    """One WebSocket connection or SSE stream receiving the event stream."""

    __slots__ = (
        "acks",
        "chunked",
        "client_id",
        "conn_id",
        "draining",
        "ending",
        "messages_in",
        "messages_out",
        "owner",
        "peer",
        "proven",
        "queue",
        "replies",
        "request",
        "route",
        "secret",
        "transport",
        "wake",
        "writer",
        "ws",
    )

    def __init__(
        self,
        *,
        conn_id: int,
        route: Route,
        client_id: str,
        request: web.Request,
        queue: FanoutQueue,
        ws: WsConnection | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.route: Route = route
        self.client_id = client_id
        self.request = request
        self.peer = request.remote or ""
        #: The connection's transport (aiohttp's ``request.transport`` is a property chain,
        #: read per subscriber per tick by the fan-out).
        self.transport = request.transport
        self.queue = queue
        self.ws = ws
        #: The client id's resume secret as this connection proved it (``secret=`` query), or
        #: as the server issued it on this connection's first ack.
        self.secret: str | None = request.query.get("secret") or None
        #: WS: the claim this connection last proved its secret against; while that same
        #: object is on record its mutations need no new comparison (:meth:`Hub.submit`).
        self.proven: Claim | None = None
        #: Digest of the token the stream was admitted with ("" without tokens).
        self.owner: str = request.get(OWNER_KEY, "")
        #: SSE only (an idle WebSocket should not pay for an Event): set when the handler
        #: must drain a backlog or end.
        self.wake: asyncio.Event | None = asyncio.Event() if route == "sse" else None
        #: SSE: whether the response uses chunked transfer coding (HTTP/1.1).
        self.chunked = request.version >= (1, 1)
        #: The peer is slow: its SSE handler or WS writer task owns writing until the queue
        #: is empty.
        self.draining = False
        #: WS: the task draining a backlog, if any (none while the peer keeps up).
        self.writer: asyncio.Task[None] | None = None
        #: Set on graceful shutdown: write what is queued, then end.
        self.ending = False
        #: WS: acks and errors earned this tick, written together at the end of the tick.
        self.replies: list[bytes] = []
        #: WS: this connection's own traffic (a :class:`~.metrics.ConnectionTally`),
        #: folded into the hub's counters when it ends.
        self.messages_in = 0
        self.acks = 0
        self.messages_out = 0

    @property
    def transport_open(self) -> bool:
        """Whether the underlying TCP transport is still open."""
        transport = self.request.transport
        return transport is not None and not transport.is_closing()

    def abort(self) -> None:
        """Drop the connection now, without a closing handshake (the peer may be gone)."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        self.signal()

    def signal(self) -> None:
        """Wake the SSE handler (no-op for a WebSocket)."""
        if self.wake is not None:
            self.wake.set()
