"""Reconnect delays: exponential backoff with full jitter and a server-given floor.

Without jitter every client that lost the same server reconnects at the same instants and the
restarted server meets the whole fleet at once. "Full jitter" draws each delay uniformly from
``[0, min(cap, base * 2**attempt))``. When the server says when to come back (a WebSocket close
reason ``retry_after_ms=NNN``, an SSE ``retry:`` field) that time is a floor and the jitter is
added on top of it, so the fleet is still spread out after the floor instead of arriving
together at it.

Pure: no clock and no sleeping; the random source is injectable so tests are deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]

# 2**64 times any sane base is far beyond any cap; keeps the power from overflowing a float.
_MAX_EXPONENT = 64


class Backoff:
    """Delay schedule for consecutive failed (re)connection attempts.

    Call :meth:`next_delay` before each reconnect and :meth:`reset` once a connection has
    proved healthy; the schedule then starts again from ``base``.
    """

    def __init__(
        self,
        *,
        base: float = 0.5,
        cap: float = 30.0,
        random_source: Callable[[], float] = random.random,
    ) -> None:
        if base <= 0:
            raise ValueError("backoff base must be > 0 seconds")
        if cap < base:
            raise ValueError("backoff cap must be >= base")
        self.base = base
        self.cap = cap
        self._random = random_source
        #: Consecutive attempts since the last :meth:`reset`.
        self.attempt = 0

    def ceiling(self) -> float:
        """Upper bound of the jitter for the next attempt: ``min(cap, base * 2**attempt)``."""
        return min(self.cap, self.base * 2.0 ** min(self.attempt, _MAX_EXPONENT))

    def next_delay(self, floor: float | None = None) -> float:
        """Seconds to wait before the next attempt; advances the schedule.

        ``floor`` is the server's "come back after" time in seconds (``None`` or negative:
        none). The result lies in ``[floor, floor + ceiling()]``.
        """
        # Clamped so that an injected source outside [0, 1] cannot break the bounds.
        jitter = min(max(self._random(), 0.0), 1.0) * self.ceiling()
        self.attempt += 1
        return max(floor or 0.0, 0.0) + jitter

    def reset(self) -> None:
        """The connection works again: the next failure starts from ``base``."""
        self.attempt = 0
