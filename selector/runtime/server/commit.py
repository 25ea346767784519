"""The commit group of a loop tick: everything staged during one tick (applied mutations,
claims, events, evictions) is committed together at the end of the tick, so a burst costs one
commit; with a durable store an ack waits for that commit (:meth:`GroupCommit.group`).

The decisions (what is staged, what FAILED refuses) are in
:class:`~selector.runtime.protocol.commit.CommitSession`; this module owns the asyncio side:
the end-of-tick callback and the future acks wait on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from selector.runtime.protocol.commit import CommitSession
from selector.runtime.server.logs import log_transition
from selector.runtime.server.metrics import Counters
from selector.runtime.server.store import MemoryStore

__all__ = ["MAX_DEFERRED_TURNS", "QUIET_TURNS", "GroupCommit"]

#: A deferred flush (:meth:`GroupCommit.schedule`) runs on the loop turn this many turns after
#: the last deferred work was staged...
QUIET_TURNS = 4
#: ...and on this turn after it was first asked for at the latest, so a steady stream of
#: events cannot hold it back.
MAX_DEFERRED_TURNS = 8


class GroupCommit:
    """Schedules the end-of-tick flush and commits the tick's group when it runs.

    ``on_flush`` is the hub's end-of-tick pump; it calls :meth:`commit` first.
    """

    __slots__ = (
        "_deferred",
        "_deferred_turns",
        "_group",
        "_handle",
        "_more",
        "_on_flush",
        "_quiet_turns",
        "counters",
        "durable",
        "loop",
        "session",
        "store",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        store: MemoryStore,
        session: CommitSession,
        on_flush: Callable[[], None],
        counters: Counters,
    ) -> None:
        self.loop = loop
        self.store = store
        self.session = session
        self.durable = store.durable
        self._on_flush = on_flush
        self._group: asyncio.Future[None] | None = None
        self._handle: asyncio.Handle | None = None
        #: The pending flush was deferred (:meth:`schedule`): how many turns it waited, how
        #: many since the last deferred work, and whether more came since the last turn.
        self._deferred = False
        self._deferred_turns = 0
        self._quiet_turns = 0
        self._more = False
        #: ``store_commits`` counts the transactions the store wrote (with ``--state`` one
        #: WAL fsync each: bench/run.py reads how many acks share one).
        self.counters = counters

    def schedule(self, defer: bool = False) -> None:
        """Run the flush at the end of this tick (once, however often it is asked).

        ``defer``: run it :data:`QUIET_TURNS` loop turns after the last deferred work was
        staged, and :data:`MAX_DEFERRED_TURNS` turns after the first at the latest; anything
        that asks without ``defer`` meanwhile (a subscriber's frames, an ack waiting for a
        commit) brings the flush forward to the end of the tick. A published event is
        deferred so the events of POSTs read close together share a flush, and each stream
        gets them in one write: on Python 3.11 aiohttp starts a handler two loop turns after
        reading its request, so a flush at the end of the first publish's tick ran between
        the handlers of one burst. An event reaches the streams a few loop turns later.

        Measured on the SSE fan-out of bench/run.py (100 streams, 4 publishers): waiting one
        more turn took writes per publish ~63 -> ~44 and server CPU per delivery 3.06 ->
        2.43 µs (bench/sse_writes.sh, alternating runs); waiting while events kept coming
        (at most 4 turns) took them to ~39 and 2.28 µs; waiting for 4 turns without one (at
        most 8) took deliveries/s against the coalescing Node server 0.91x -> 1.08x and CPU
        per delivery 1.04x -> 0.88x (bench/run.py --only sse --rounds 4 --baseline, on a
        quiet machine), with the p50 delivery latency 0.71 -> 0.67 ms.
        """
        if self._handle is None:
            self._deferred = defer
            self._deferred_turns = 0
            self._quiet_turns = 0
            self._more = False
            self._handle = self.loop.call_soon(self._turn)
        elif not defer:
            self._deferred = False
        else:
            self._more = True

    def staged(self, defer: bool = False) -> None:
        """Something was staged: with a durable store it joins the open group (whose acks
        wait, so it is never deferred); in memory ``defer`` is passed to :meth:`schedule`."""
        if self.durable:
            self.group()
        else:
            self.schedule(defer)

    def group(self) -> asyncio.Future[None]:
        """The open group's future: resolved once everything staged so far is committed."""
        if self._group is None:
            self._group = self.loop.create_future()
        self.schedule()
        return self._group

    def _turn(self) -> None:
        self._deferred_turns += 1
        self._quiet_turns = 1 if self._more else self._quiet_turns + 1
        self._more = False
        if (
            self._deferred
            and self._quiet_turns < QUIET_TURNS
            and self._deferred_turns < MAX_DEFERRED_TURNS
        ):
            self._handle = self.loop.call_soon(self._turn)
        else:
            self._run()

    def _run(self) -> None:
        self._handle = None
        self._on_flush()

    def commit(self) -> BaseException | None:
        """Commit the group (called by the flush); the store's error when it failed.

        On failure nothing of the group is acked and no mark of it is raised: a re-sent copy
        is applied again once the state is rebuilt from the store.
        """
        group, self._group = self._group, None
        try:
            if self.store.commit():
                self.counters.store_commits += 1
        except Exception as exc:
            self.session.commit_failed()
            log_transition("store.failed", error=f"{type(exc).__name__}: {exc}")
            if group is not None:
                group.set_exception(exc)
                group.exception()  # retrieved: waiters get it, nobody else must log it
            return exc
        if not self.session.failed:
            self.session.committed()
        if group is not None:
            group.set_result(None)
        return None

    def stop(self) -> None:
        """Run a pending flush now (shutdown): what was staged is committed."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._on_flush()
