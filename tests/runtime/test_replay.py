"""The replay buffer: bounded by events and bytes, explicit resync for a gap it cannot fill."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selector.runtime.protocol.replay import Replay, ReplayBuffer, Resync


def filled(n: int, *, max_events: int = 100, max_bytes: int = 10_000, size: int = 10):
    buffer: ReplayBuffer[int] = ReplayBuffer(max_events, max_bytes)
    for event_id in range(1, n + 1):
        buffer.append(event_id, event_id, size)
    return buffer


def test_a_fresh_subscriber_gets_live_events_only() -> None:
    assert filled(5).resume(None) == Replay(())


def test_resume_replays_exactly_what_was_missed() -> None:
    assert filled(5).resume(2) == Replay((3, 4, 5))
    assert filled(5).resume(5) == Replay(())
    assert filled(5).resume(0) == Replay((1, 2, 3, 4, 5))


def test_a_gap_older_than_the_buffer_means_resync() -> None:
    buffer = filled(10, max_events=3)
    assert buffer.resume(7) == Replay((8, 9, 10))
    assert buffer.resume(6) == Resync(after=6, oldest=8, latest=10)


def test_an_id_from_a_previous_server_life_means_resync() -> None:
    assert filled(3).resume(50) == Resync(after=50, oldest=1, latest=3)


def test_bytes_bound_keeps_the_newest_event() -> None:
    buffer = filled(5, max_bytes=25, size=10)
    assert len(buffer) == 2 and buffer.total_bytes == 20
    big: ReplayBuffer[str] = ReplayBuffer(10, 5)
    big.append(1, "x", 100)
    assert big.resume(0) == Replay(("x",))


def test_disabled_replay_still_tracks_ids() -> None:
    buffer = filled(4, max_events=0)
    assert buffer.latest == 4 and len(buffer) == 0
    assert buffer.resume(4) == Replay(())
    assert buffer.resume(3) == Resync(after=3, oldest=5, latest=4)


def test_ids_must_increase() -> None:
    buffer = filled(3)
    with pytest.raises(ValueError, match="does not follow"):
        buffer.append(3, 3, 1)


def test_restart_point() -> None:
    buffer: ReplayBuffer[int] = ReplayBuffer(10, 100, latest=41)
    assert buffer.resume(41) == Replay(())
    assert buffer.resume(40) == Resync(after=40, oldest=42, latest=41)
    buffer.append(42, 42, 1)
    assert buffer.resume(41) == Replay((42,))


@given(
    sizes=st.lists(st.integers(1, 50), max_size=80),
    max_events=st.integers(0, 20),
    max_bytes=st.integers(1, 300),
    last=st.integers(0, 90),
)
def test_resume_never_loses_or_duplicates_silently(
    sizes: list[int], max_events: int, max_bytes: int, last: int
) -> None:
    buffer: ReplayBuffer[int] = ReplayBuffer(max_events, max_bytes)
    for event_id, size in enumerate(sizes, start=1):
        buffer.append(event_id, event_id, size)
        assert len(buffer) <= max_events
        assert buffer.total_bytes <= max_bytes or len(buffer) == 1
    latest = len(sizes)
    plan = buffer.resume(last)
    if isinstance(plan, Replay):
        # the client ends up with every id after `last`, each once, in order
        assert list(plan.items) == list(range(last + 1, latest + 1))
    else:
        assert last > latest or last + 1 < buffer.oldest
        assert (plan.after, plan.latest) == (last, latest)
