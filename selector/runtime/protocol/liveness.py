"""Heartbeat bookkeeping for every connection at once, driven by the caller's clock.

One task serves all connections (cheaper than a timer per connection, see tools.md): it asks
:meth:`Liveness.due` what to do at ``now``, does it, and sleeps until :meth:`next_wakeup`.

- WebSocket: a ping round every ``ping_interval`` pings every connection not already waiting
  for a pong; a connection whose pong has not come ``pong_timeout`` after its ping is reaped
  (terminated without a close handshake: a silently dropped peer would never answer one).
- SSE has no pong; the round also says when to write a comment heartbeat, every
  ``sse_comment_interval``, so proxies see traffic and clients can run a silence deadline.

Pure, no I/O, no clock: ``now`` is any monotonic time in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Due", "Liveness"]

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Due(Generic[K]):
    """What the heartbeat task must do now."""

    #: Connections to ping now (their pong deadline starts now).
    ping: list[K] = field(default_factory=list)
    #: Connections whose pong deadline passed: terminate them and count them as reaped.
    reap: list[K] = field(default_factory=list)
    #: Whether to send the heartbeats of this round (WS heartbeat events with a ping round).
    ping_round: bool = False
    #: Whether to write an SSE comment heartbeat to every stream.
    sse_comment: bool = False


def _next_slot(previous: float, interval: float, now: float) -> float:
    """Keep a steady cadence, but after a stall (the loop was blocked past a whole interval)
    restart from ``now``: catching up would send a burst of rounds."""
    following = previous + interval
    return following if following > now else now + interval


class Liveness(Generic[K]):
    """Pong deadlines of all WebSocket connections plus the SSE comment schedule."""

    def __init__(
        self,
        *,
        ping_interval: float | None,
        pong_timeout: float,
        sse_comment_interval: float | None,
        now: float,
    ) -> None:
        """``None`` for an interval disables that heartbeat (a "naive" server: nothing is
        pinged, reaped or commented)."""
        for value in (ping_interval, pong_timeout, sse_comment_interval):
            if value is not None and value <= 0:
                raise ValueError("heartbeat intervals must be > 0")
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.sse_comment_interval = sse_comment_interval
        # key -> when the unanswered ping was sent (None: not waiting for a pong)
        self._waiting: dict[K, float | None] = {}
        self._next_ping = now + ping_interval if ping_interval is not None else math.inf
        self._next_sse = (
            now + sse_comment_interval if sse_comment_interval is not None else math.inf
        )
        self._next_reap: float | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, key: K) -> None:
        """Track a new connection; its first ping comes with the next round."""
        self._waiting[key] = None

    def remove(self, key: K) -> None:
        """Forget a closed connection (unknown keys are ignored)."""
        self._waiting.pop(key, None)

    def pong(self, key: K, now: float) -> float | None:
        """Record a pong; returns the round-trip time when it answers an outstanding ping."""
        sent = self._waiting.get(key)
        if sent is None:
            return None  # unsolicited pong, or an unknown connection
        self._waiting[key] = None
        return max(0.0, now - sent)

    def due(self, now: float) -> Due[K]:
        """Everything to do at ``now``; call it again after :meth:`next_wakeup`."""
        reap: list[K] = []
        if self._next_reap is not None and now >= self._next_reap:
            # Same arithmetic as the wake-up time (sent + timeout), so waking exactly at the
            # deadline reaps: ``now - timeout`` can round below ``sent`` and spin the loop.
            timeout = self.pong_timeout
            reap = [
                k for k, sent in self._waiting.items() if sent is not None and sent + timeout <= now
            ]
            for key in reap:
                del self._waiting[key]
            pending = [sent for sent in self._waiting.values() if sent is not None]
            self._next_reap = min(pending) + self.pong_timeout if pending else None
        ping: list[K] = []
        ping_round = now >= self._next_ping
        if ping_round:
            ping = [k for k, sent in self._waiting.items() if sent is None]
            for key in ping:
                self._waiting[key] = now
            if ping and self._next_reap is None:
                self._next_reap = now + self.pong_timeout
            assert self.ping_interval is not None  # else _next_ping stays infinite
            self._next_ping = _next_slot(self._next_ping, self.ping_interval, now)
        sse_comment = now >= self._next_sse
        if sse_comment:
            assert self.sse_comment_interval is not None
            self._next_sse = _next_slot(self._next_sse, self.sse_comment_interval, now)
        return Due(ping=ping, reap=reap, ping_round=ping_round, sse_comment=sse_comment)

    def next_wakeup(self) -> float:
        """The earliest time at which :meth:`due` has something to do (``math.inf``: never)."""
        candidates = [self._next_ping, self._next_sse]
        if self._next_reap is not None:
            candidates.append(self._next_reap)
        return min(candidates)
