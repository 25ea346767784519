"""Bounded per-subscriber queues: slow consumers never grow memory without bound."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from selector.runtime.protocol.fanout import FanoutQueue, Offer


def test_reliable_disconnects_when_full_and_frees_the_queue() -> None:
    queue = FanoutQueue(max_frames=2, max_bytes=100, mode="reliable")
    assert queue.offer(b"a") is Offer.QUEUED
    assert queue.offer(b"b") is Offer.QUEUED
    assert queue.offer(b"c") is Offer.DISCONNECT
    assert queue.closed and len(queue) == 0 and queue.pending_bytes == 0
    assert queue.offer(b"d") is Offer.DISCONNECT


def test_best_effort_skips_and_keeps_what_it_has() -> None:
    queue = FanoutQueue(max_frames=10, max_bytes=4, mode="best_effort")
    assert queue.offer(b"abc") is Offer.QUEUED
    assert queue.offer(b"de") is Offer.SKIPPED
    assert queue.offer(b"f") is Offer.QUEUED
    assert queue.take(100) == [b"abc", b"f"]
    assert not queue.closed


def test_take_caps_a_batch_by_bytes_but_always_moves_one_frame() -> None:
    queue = FanoutQueue(max_frames=10, max_bytes=1000)
    for frame in (b"x" * 30, b"y" * 30, b"z" * 30):
        queue.offer(frame)
    assert queue.take(70) == [b"x" * 30, b"y" * 30]
    assert queue.take(10) == [b"z" * 30]
    assert queue.take(10) == []


def test_force_bypasses_bounds_until_closed() -> None:
    queue = FanoutQueue(max_frames=1, max_bytes=1)
    queue.force(b"replayed")
    queue.force(b"more")
    assert len(queue) == 2
    queue.closed = True
    queue.force(b"late")
    assert len(queue) == 2


@given(
    frames=st.lists(st.binary(min_size=1, max_size=40), max_size=60),
    takes=st.lists(st.integers(1, 100), max_size=60),
    best_effort=st.booleans(),
)
def test_memory_stays_bounded_and_order_is_kept(
    frames: list[bytes], takes: list[int], best_effort: bool
) -> None:
    queue = FanoutQueue(5, 100, "best_effort" if best_effort else "reliable")
    delivered: list[bytes] = []
    accepted: list[bytes] = []
    for i, frame in enumerate(frames):
        if queue.offer(frame) is Offer.QUEUED:
            accepted.append(frame)
        assert len(queue) <= 5 and queue.pending_bytes <= 100
        if i < len(takes):
            delivered += queue.take(takes[i])
    delivered += queue.take(10_000)
    if not queue.closed:
        assert delivered == accepted  # FIFO, nothing duplicated
    assert queue.pending_bytes == 0
