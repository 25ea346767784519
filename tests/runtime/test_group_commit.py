"""When the end-of-tick flush runs: once per tick, a few quiet turns later for published events
(so a burst of POSTs shares one write per stream), brought forward by anything that cannot
wait."""

from __future__ import annotations

import asyncio
from pathlib import Path

from selector.runtime.protocol.commit import CommitSession
from selector.runtime.protocol.envelope import Publish
from selector.runtime.protocol.ledger import Ledger
from selector.runtime.server.commit import MAX_DEFERRED_TURNS, QUIET_TURNS, GroupCommit
from selector.runtime.server.hub import Hub
from selector.runtime.server.metrics import Counters
from selector.runtime.server.settings import ServerSettings
from selector.runtime.server.store import MemoryStore, SqliteStore
from tests.runtime.conftest import RecordingTransport, arun, in_process_subscriber


async def _turn() -> None:
    """Let the loop run one turn: everything queued before this call runs first."""
    await asyncio.sleep(0)


def _commits(store: MemoryStore, flushes: list[int]) -> GroupCommit:
    loop = asyncio.get_running_loop()
    session = CommitSession(Ledger(), immediate=not store.durable)
    commits: GroupCommit

    def flush() -> None:
        flushes.append(1)
        commits.commit()

    commits = GroupCommit(loop, store, session, flush, Counters())
    return commits


def test_a_flush_runs_once_at_the_end_of_the_tick_however_often_asked() -> None:
    async def scenario() -> list[int]:
        flushes: list[int] = []
        commits = _commits(MemoryStore(), flushes)
        for _ in range(3):
            commits.schedule()
        await _turn()
        seen = [len(flushes)]
        await _turn()
        return [*seen, len(flushes)]

    assert arun(scenario()) == [1, 1]


def test_a_deferred_flush_waits_for_quiet_turns() -> None:
    async def scenario() -> list[int]:
        flushes: list[int] = []
        commits = _commits(MemoryStore(), flushes)
        commits.schedule(defer=True)
        seen = []
        for _ in range(QUIET_TURNS + 2):
            await _turn()
            seen.append(len(flushes))
        return seen

    assert QUIET_TURNS >= 3  # a POST read in the event's turn publishes two turns later
    assert arun(scenario()) == [0] * (QUIET_TURNS - 1) + [1, 1, 1]


def test_a_deferred_flush_waits_while_events_keep_coming_up_to_a_bound() -> None:
    async def scenario(busy_turns: int) -> int | None:
        """The turn the flush ran in; None if it had not run one turn past the bound."""
        flushes: list[int] = []
        commits = _commits(MemoryStore(), flushes)
        commits.schedule(defer=True)
        # Counted in loop turns, so eventually() (which polls with sleeps) cannot drive it:
        # bounded in count here, and in time by arun.
        for turn in range(1, MAX_DEFERRED_TURNS + 2):
            await _turn()
            if flushes:
                return turn
            if turn <= busy_turns:
                commits.schedule(defer=True)  # another event in this turn
        return None

    assert arun(scenario(0), timeout=5) == QUIET_TURNS
    assert arun(scenario(1), timeout=5) == QUIET_TURNS + 1  # the event of turn 1 rides along
    assert arun(scenario(2), timeout=5) == QUIET_TURNS + 2
    # However many keep coming, it runs MAX_DEFERRED_TURNS turns after the first at the latest.
    assert QUIET_TURNS < MAX_DEFERRED_TURNS
    assert arun(scenario(100), timeout=5) == MAX_DEFERRED_TURNS


def test_anything_that_cannot_wait_brings_a_deferred_flush_forward() -> None:
    async def scenario() -> list[int]:
        flushes: list[int] = []
        commits = _commits(MemoryStore(), flushes)
        commits.schedule(defer=True)
        commits.schedule()
        commits.schedule(defer=True)  # a later deferral does not push it back again
        await _turn()
        seen = [len(flushes)]
        await _turn()
        return [*seen, len(flushes)]

    assert arun(scenario()) == [1, 1]


def test_a_durable_store_never_defers_what_an_ack_waits_for(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, bool]:
        flushes: list[int] = []
        store = SqliteStore(str(tmp_path / "state.db"), keep_events=100)
        try:
            commits = _commits(store, flushes)
            commits.staged(defer=True)
            group = commits.group()
            await _turn()
            return len(flushes), group.done()
        finally:
            store.close()

    assert arun(scenario()) == (1, True)


def test_stop_runs_a_pending_deferred_flush_now() -> None:
    async def scenario() -> list[int]:
        flushes: list[int] = []
        commits = _commits(MemoryStore(), flushes)
        commits.schedule(defer=True)
        await _turn()  # past the first turn: the flush is queued for the next
        commits.stop()
        seen = [len(flushes)]
        await _turn()
        await _turn()
        return [*seen, len(flushes)]

    assert arun(scenario()) == [1, 1]


def test_events_published_a_turn_apart_reach_a_stream_in_one_write() -> None:
    # On Python 3.11 aiohttp starts the handlers of POSTs read together a turn apart: their
    # events must still share one write per stream.
    async def scenario() -> list[bytes]:
        hub = Hub(ServerSettings(), MemoryStore())
        transport = RecordingTransport()
        hub.subscribe(in_process_subscriber(hub, "sse", transport), None)
        await _turn()  # the position notice: a subscriber's frames are not deferred
        assert len(transport.written) == 1
        hub.publish(Publish(event="tick", data=1))
        await _turn()
        hub.publish(Publish(event="tick", data=2))
        for _ in range(QUIET_TURNS + 1):
            await _turn()
        return transport.written[1:]

    writes = arun(scenario())
    assert len(writes) == 1
    assert b"data: 1\n\n" in writes[0] and b"data: 2\n\n" in writes[0]
