"""The clock the runtime's I/O layer reads and sleeps on: the server hub and its heartbeat,
the reconnecting clients and the fault proxy all take one, so a test can move time itself.

The sans-I/O core (:mod:`selector.runtime.protocol`) reads no clock at all: its callers pass
``now``, read from here. :class:`LoopClock` is the default everywhere; :class:`ManualClock`
only moves when told to, which makes deadlines (pong timeouts, idle windows, client silence)
testable without waiting for them. Socket timeouts (connect, close handshakes, the server's
header, body and send deadlines) stay on the event loop's own clock: they bound real I/O,
share ``header_timeout_s`` with aiohttp's own timers, which no injected clock reaches, and
must still fire under a ManualClock a test has stopped moving.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "LoopClock", "ManualClock"]


class Clock(Protocol):
    """Monotonic time, wall time and sleeping, as the runtime uses them."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines and intervals)."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch (timestamps sent to peers)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` have passed on this clock."""
        ...

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        """Like ``asyncio.timeout``: the block is cancelled and raises ``TimeoutError`` once
        ``seconds`` have passed on this clock."""
        ...


class LoopClock:
    """:func:`time.monotonic` (the clock asyncio's own loop reads), ``asyncio.sleep`` and
    wall time from :func:`time.time`."""

    def __repr__(self) -> str:
        return "LoopClock()"

    def monotonic(self) -> float:
        """:func:`time.monotonic`, read directly rather than through the running loop: on
        Python 3.11 ``asyncio.get_running_loop()`` makes a ``getpid`` system call, and the
        hub reads this clock once per mutation (12.8 % of the server's samples on the
        one-in-flight ack load of bench/run.py, py-spy)."""
        return time.monotonic()

    def wall(self) -> float:
        """The system's wall clock."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        """``asyncio.timeout``."""
        return asyncio.timeout(seconds)


#: The default clock of the hub, the clients and the fault proxy.
SYSTEM_CLOCK = LoopClock()


class ManualClock:
    """A clock that stands still until :meth:`advance` moves it; sleepers wake when it
    passes their deadline. Wall time is ``wall_at_zero`` plus the monotonic time.

    Sleeping for zero or less yields to the loop once and returns, as ``asyncio.sleep(0)``.
    """

    def __init__(self, start: float = 0.0, wall_at_zero: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_at_zero = wall_at_zero
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        """The time the clock was last moved to."""
        return self._now

    def wall(self) -> float:
        """``wall_at_zero`` plus :meth:`monotonic`."""
        return self._wall_at_zero + self._now

    async def sleep(self, seconds: float) -> None:
        """Wait until :meth:`advance` has moved the clock ``seconds`` past now."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), wake))
        await wake

    @contextlib.asynccontextmanager
    async def timeout(self, seconds: float) -> AsyncIterator[object]:
        """``asyncio.timeout`` that expires when :meth:`advance` reaches its deadline."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(None) as scope:
            due = loop.create_future()

            def expire(done: asyncio.Future[None]) -> None:
                if not done.cancelled():
                    scope.reschedule(loop.time())

            due.add_done_callback(expire)
            if seconds <= 0:
                due.set_result(None)
            else:
                heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), due))
            try:
                yield scope
            finally:
                due.cancel()

    @property
    def sleepers(self) -> int:
        """How many sleeps and timeouts are waiting for the clock to move."""
        return sum(1 for _, _, wake in self._sleepers if not wake.done())

    def advance(self, seconds: float) -> None:
        """Move the clock forward and wake every sleeper whose deadline it reached, in
        deadline order (they run once the caller yields to the loop)."""
        if seconds < 0:
            raise ValueError(f"a clock does not go back: advance({seconds})")
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                wake.set_result(None)
