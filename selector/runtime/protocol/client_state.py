"""Every decision a reconnecting client makes, without I/O: the client's state machine.

The asyncio adapters (``selector.runtime.client``) only move bytes and sleep; they report
what happened (``opened``, ``received``, ``alive``, ``closed``) with the current monotonic
time, and this class answers what to send, which events are new, whether the peer is dead and
how long to wait before reconnecting. Both transports share it: WebSocket and SSE (with
``POST /mutations`` upstream) differ only in how bytes travel.

Law of this module: a mutation leaves the outbox only on an ack; every (re)connect replays the
outbox in ``seq`` order; an event is delivered at most once (ids at or below the last one seen
are duplicates); reconnects always go through the backoff, also after a clean close, with the
server's ``retry_after`` as a floor; only close codes that a retry cannot fix stop the client.

The connection's own machine is one state enum (:class:`ConnectionState`) and one transition
table (:data:`TRANSITIONS`), the h11 way: every change goes through ``ClientState._to``, which
refuses (:class:`~selector.runtime.protocol.machine.InvalidTransition`) a pair the table lacks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from selector.runtime.protocol.backoff import Backoff
from selector.runtime.protocol.client_wire import (
    Ack,
    HeartbeatMessage,
    Malformed,
    Position,
    Resync,
    ServerError,
    ServerEvent,
    ServerMessage,
)
from selector.runtime.protocol.deadline import SilenceDeadline
from selector.runtime.protocol.machine import next_state
from selector.runtime.protocol.outbox import Outbox

__all__ = [
    "FATAL_CLOSE_CODES",
    "HEALTHY_AFTER_S",
    "MAX_SERVER_FLOOR",
    "RETRYABLE_ERROR_CODES",
    "TRANSITIONS",
    "ClientState",
    "ClientStats",
    "ConnectionEvent",
    "ConnectionState",
    "DeadPeer",
    "Reconnect",
]

#: Seconds a connection must stay up before a later failure restarts the backoff schedule.
HEALTHY_AFTER_S = 10.0

#: Error codes that refuse a mutation only for now (the server's store failed): the mutation
#: stays unacked and is sent again after the reconnect.
RETRYABLE_ERROR_CODES = frozenset({"STORE_FAILED"})

#: WebSocket close codes after which sending the same thing again cannot succeed
#: (unsupported data, invalid payload, policy violation, message too big, missing extension).
#: Everything else, including the clean 1000/1001/1012, leads to a reconnect.
FATAL_CLOSE_CODES = frozenset({1003, 1007, 1008, 1009, 1010})

#: Ack times kept for a verification harness (bounded so a long-lived client does not grow).
ACK_TIMES_KEPT = 100_000
#: Upper bound on a server's "come back after" hint, in seconds: a buggy or hostile hint
#: (``retry: 999999999999``) must not park the client for years.
MAX_SERVER_FLOOR = 600.0


class ConnectionState(Enum):
    """Where the client's connection stands."""

    #: No connection: before the first, while connecting, between two, after the last.
    DISCONNECTED = "disconnected"
    #: Up, but not proven yet: a failure now keeps growing the backoff schedule.
    OPEN = "open"
    #: Up and proven (it stayed up ``healthy_after`` seconds, or a mutation was acked on it):
    #: the backoff schedule restarted.
    HEALTHY = "healthy"


class ConnectionEvent(Enum):
    """What moves the connection (each is one method of :class:`ClientState`)."""

    #: :meth:`ClientState.opened`.
    OPENED = "opened"
    #: The open connection proved that the server works (restarts the backoff).
    PROVED = "proved"
    #: :meth:`ClientState.closed`: it ended, or a connect attempt failed; a decision follows.
    CLOSED = "closed"
    #: :meth:`ClientState.dropped`: the adapter stopped for good, no decision to make.
    DROPPED = "dropped"


_DISCONNECTED = ConnectionState.DISCONNECTED
_OPEN = ConnectionState.OPEN
_HEALTHY = ConnectionState.HEALTHY

#: The whole machine. A pair that is missing is a bug in the caller: opening a connection
#: while one is up, or proving a connection that is not open (or already proven).
TRANSITIONS: dict[tuple[ConnectionState, ConnectionEvent], ConnectionState] = {
    (_DISCONNECTED, ConnectionEvent.OPENED): _OPEN,
    (_OPEN, ConnectionEvent.PROVED): _HEALTHY,
    (_OPEN, ConnectionEvent.CLOSED): _DISCONNECTED,
    (_HEALTHY, ConnectionEvent.CLOSED): _DISCONNECTED,
    # A connect attempt that failed (refused, timed out, a 4xx/5xx handshake).
    (_DISCONNECTED, ConnectionEvent.CLOSED): _DISCONNECTED,
    (_OPEN, ConnectionEvent.DROPPED): _DISCONNECTED,
    (_HEALTHY, ConnectionEvent.DROPPED): _DISCONNECTED,
    # close() and the end of the reconnect loop both drop, and either may come first.
    (_DISCONNECTED, ConnectionEvent.DROPPED): _DISCONNECTED,
}


@dataclass(frozen=True, slots=True)
class DeadPeer:
    """A dead-peer verdict: when it was reached and how long the peer had been silent."""

    at: float
    silent_for: float


@dataclass(frozen=True, slots=True)
class Reconnect:
    """What to do after a connection ended: reconnect after ``delay`` seconds, or stop."""

    reconnect: bool
    delay: float
    reason: str


@dataclass
class ClientStats:
    """Counters and observations a verification harness reads after a run."""

    connects: int = 0
    reconnects: int = 0
    #: When each connection opened (the caller's monotonic clock): recovery time after a
    #: dead-peer verdict is the first ``connected_at`` after its ``at``.
    connected_at: list[float] = field(default_factory=list)
    events: int = 0
    duplicate_events: int = 0
    #: Ids skipped between consecutive events (meaningful when every event is broadcast).
    missed_ids: int = 0
    acks: int = 0
    duplicate_acks: int = 0
    #: ``(seq, when)`` of each mutation's first ack, newest ``ACK_TIMES_KEPT`` only: with the
    #: send time from :meth:`Outbox.add` this gives ack round trips.
    ack_times: deque[tuple[int, float]] = field(
        default_factory=lambda: deque(maxlen=ACK_TIMES_KEPT)
    )
    heartbeats: int = 0
    malformed: int = 0
    resyncs: list[Resync] = field(default_factory=list)
    errors: list[ServerError] = field(default_factory=list)
    dead_peers: list[DeadPeer] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)


class ClientState:
    """State of one logical client across any number of connections."""

    def __init__(
        self,
        *,
        silence_timeout: float,
        backoff: Backoff | None = None,
        outbox: Outbox | None = None,
        last_event_id: int | None = None,
        now: float = 0.0,
        healthy_after: float = HEALTHY_AFTER_S,
    ) -> None:
        self.outbox = outbox if outbox is not None else Outbox()
        self.backoff = backoff if backoff is not None else Backoff()
        self.silence = SilenceDeadline(silence_timeout, now)
        #: The id to resume from (``last_event_id`` / ``Last-Event-ID``); None before any.
        self.last_event_id = last_event_id
        #: The server's reconnect hint in seconds (SSE ``retry:``), a floor for the backoff.
        self.server_retry: float | None = None
        self.stats = ClientStats()
        #: The connection's state; it moves only through :data:`TRANSITIONS`.
        self.connection = ConnectionState.DISCONNECTED
        #: The client id's resume secret, once the server issued it (in an ack).
        self.secret: str | None = None
        #: Seconds a connection must stay up before it counts as healthy.
        self.healthy_after = healthy_after
        self._opened_at = now

    # -- connection lifecycle -------------------------------------------------------------

    def _to(self, event: ConnectionEvent) -> None:
        self.connection = next_state(TRANSITIONS, self.connection, event, "client connection")

    @property
    def connected(self) -> bool:
        """Whether a connection is up (open or healthy)."""
        return self.connection is not _DISCONNECTED

    def dropped(self) -> None:
        """The adapter stopped for good (``close()``, the end of its reconnect loop), with or
        without a connection up: no reconnect to decide. Both may say it, in either order."""
        self._to(ConnectionEvent.DROPPED)

    def opened(self, now: float) -> None:
        """A connection is up. Every pending mutation is unsent on it: the adapter's next
        ``outbox.take_unsent()`` returns all of them, in order, before any newer one.

        Raises :class:`InvalidTransition` while a connection is already up."""
        self._to(ConnectionEvent.OPENED)
        self._opened_at = now
        self.stats.connects += 1
        self.stats.connected_at.append(now)
        if self.stats.connects > 1:
            self.stats.reconnects += 1
        self.silence = SilenceDeadline(self.silence.timeout, now)
        self.outbox.connection_lost()  # a fresh connection has carried nothing yet

    def closed(
        self,
        now: float,
        *,
        reason: str,
        close_code: int | None = None,
        retry_after: float | None = None,
        fatal: bool = False,
    ) -> Reconnect:
        """The connection ended (or never opened); decide whether and when to reconnect.

        ``retry_after`` (seconds) is a server hint from this close (``retry_after_ms=`` in a
        close reason); otherwise the last SSE ``retry:`` value is the floor.
        """
        self._check_healthy(now)
        self._to(ConnectionEvent.CLOSED)
        self.outbox.connection_lost()
        self.stats.disconnects.append(reason)
        if fatal or close_code in FATAL_CLOSE_CODES:
            return Reconnect(False, 0.0, reason)
        floor = retry_after if retry_after is not None else self.server_retry
        if floor is not None:
            floor = min(floor, MAX_SERVER_FLOOR)
        return Reconnect(True, self.backoff.next_delay(floor), reason)

    # -- inbound --------------------------------------------------------------------------

    def alive(self, now: float) -> None:
        """Proof of life that carries no message (a ping, a pong, an SSE comment, bytes)."""
        self.silence.alive(now)
        self._check_healthy(now)

    def _check_healthy(self, now: float) -> None:
        # A first byte proves little: a server that accepts, sends its position and then
        # fails would otherwise keep the delay at its minimum forever and the client would
        # never reach max_consecutive_failures. A connection that stayed up for
        # ``healthy_after`` seconds (or got a mutation acked, see apply) starts a new schedule.
        if self.connection is _OPEN and now - self._opened_at >= self.healthy_after:
            self._proved()

    def _proved(self) -> None:
        self._to(ConnectionEvent.PROVED)
        self.backoff.reset()

    def received(self, message: ServerMessage, now: float) -> ServerEvent | None:
        """Apply one message that arrived on the connection; returns the event to deliver,
        if it is a new one. The message is proof of life of the connection."""
        self.alive(now)
        return self.apply(message, now)

    def apply(self, message: ServerMessage, now: float) -> ServerEvent | None:
        """Apply a message without counting it as proof of life of the connection: an ack
        in a ``POST /mutations`` response says nothing about the SSE stream's health."""
        stats = self.stats
        if isinstance(message, ServerEvent):
            last = self.last_event_id
            if last is not None and message.id <= last:
                stats.duplicate_events += 1
                return None
            if last is not None and message.id > last + 1:
                stats.missed_ids += message.id - last - 1
            self.last_event_id = message.id
            stats.events += 1
            return message
        if isinstance(message, Ack):
            stats.acks += 1
            if message.duplicate:
                stats.duplicate_acks += 1
            if message.secret is not None:
                self.secret = message.secret
            if self.outbox.ack(message.seq):
                stats.ack_times.append((message.seq, now))
            if self.connection is _OPEN:
                self._proved()  # the server kept a mutation: it works, not only accepts
        elif isinstance(message, HeartbeatMessage):
            stats.heartbeats += 1
        elif isinstance(message, Position):
            # Only a fresh client takes it: an id of its own is always at least as good.
            if self.last_event_id is None and message.latest is not None:
                self.last_event_id = message.latest
        elif isinstance(message, Resync):
            stats.resyncs.append(message)
            # Live events continue after `latest`, and the server is authoritative: also when
            # `latest` is below our id (a server restarted without state counts from 0 again),
            # otherwise every new event would look like a duplicate.
            if message.latest is not None:
                self.last_event_id = message.latest
        elif isinstance(message, ServerError):
            stats.errors.append(message)
            if message.seq is not None and message.code not in RETRYABLE_ERROR_CODES:
                # Refused for good: resending it after a reconnect would be refused again.
                self.outbox.reject(message.seq)
        elif isinstance(message, Malformed):
            stats.malformed += 1
        return None

    def rejected(self, seq: int, error: ServerError) -> None:
        """The server refused mutation ``seq`` for good (HTTP 400 to ``POST /mutations``)."""
        self.outbox.reject(seq)
        self.stats.errors.append(error)

    # -- liveness -------------------------------------------------------------------------

    def silence_remaining(self, now: float) -> float:
        """Seconds the adapter may wait for the next message before checking the verdict."""
        return self.silence.remaining(now)

    def peer_is_dead(self, now: float) -> DeadPeer | None:
        """The verdict once the silence deadline has passed (recorded in the stats)."""
        if not self.silence.expired(now):
            return None
        verdict = DeadPeer(at=now, silent_for=self.silence.silent_for(now))
        self.stats.dead_peers.append(verdict)
        return verdict
