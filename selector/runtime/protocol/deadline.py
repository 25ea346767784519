"""Dead-peer detection from silence: the client's liveness deadline.

A load balancer that drops an idle connection sends no FIN and no RST, so the socket never
reports a close. The only evidence is silence: the server promises to send something
(an event, an ack, a ping, an application heartbeat, an SSE comment) at least every heartbeat
interval, so a connection that stays silent past the deadline is declared dead. Any frame or
comment is proof of life. Sans-I/O: every method takes ``now`` (seconds, monotonic).
"""

from __future__ import annotations

__all__ = ["SilenceDeadline"]


class SilenceDeadline:
    """Tracks the last proof of life and when silence becomes a verdict."""

    def __init__(self, timeout: float, now: float) -> None:
        if timeout <= 0:
            raise ValueError("silence timeout must be > 0 seconds")
        self.timeout = timeout
        self.last_seen = now

    def alive(self, now: float) -> None:
        """Something arrived from the peer."""
        if now > self.last_seen:
            self.last_seen = now

    @property
    def deadline(self) -> float:
        """The instant at which continued silence means the peer is gone."""
        return self.last_seen + self.timeout

    def remaining(self, now: float) -> float:
        """Seconds until the deadline (0 once it has passed)."""
        return max(self.deadline - now, 0.0)

    def expired(self, now: float) -> bool:
        """True once the peer has been silent for ``timeout`` seconds or more."""
        return now >= self.deadline

    def silent_for(self, now: float) -> float:
        """Seconds since the last proof of life."""
        return max(now - self.last_seen, 0.0)
