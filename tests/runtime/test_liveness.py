"""Heartbeat bookkeeping driven by an explicit clock."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selector.runtime.protocol.liveness import Liveness


def tracker(now: float = 0.0) -> Liveness[str]:
    return Liveness(ping_interval=20, pong_timeout=10, sse_comment_interval=15, now=now)


def test_pings_every_interval_and_reaps_after_the_pong_timeout() -> None:
    live = tracker()
    live.add("a")
    live.add("b")
    assert live.next_wakeup() == 15  # the SSE comment comes first
    assert live.due(15).sse_comment and not live.due(15).ping
    due = live.due(20)
    assert due.ping_round and sorted(due.ping) == ["a", "b"]
    assert live.next_wakeup() == 30  # the pong deadline
    assert live.pong("a", 20.004) == pytest.approx(0.004)
    due = live.due(30)
    assert due.reap == ["b"] and len(live) == 1
    due = live.due(40)
    assert due.ping == ["a"]


def test_a_new_connection_waits_for_the_next_round() -> None:
    live = tracker()
    live.due(20)
    live.add("late")
    assert live.due(30).reap == []
    assert live.due(40).ping == ["late"]


def test_pong_without_ping_and_unknown_keys_are_harmless() -> None:
    live = tracker()
    live.add("a")
    assert live.pong("a", 1.0) is None
    assert live.pong("ghost", 1.0) is None
    live.remove("ghost")


def test_a_stalled_loop_does_not_cause_a_burst_of_rounds() -> None:
    live = tracker()
    live.add("a")
    assert live.due(1000).ping_round
    assert not live.due(1000.5).ping_round
    assert live.next_wakeup() > 1000


def test_pong_timeout_longer_than_the_interval_does_not_re_ping() -> None:
    live = Liveness[str](ping_interval=5, pong_timeout=12, sse_comment_interval=100, now=0)
    live.add("a")
    assert live.due(5).ping == ["a"]
    assert live.due(10).ping == []  # still waiting: its deadline is 17, not 22
    assert live.due(17).reap == ["a"]


def test_intervals_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Liveness[str](ping_interval=0, pong_timeout=1, sse_comment_interval=1, now=0)


@given(
    interval=st.floats(0.5, 30),
    timeout=st.floats(0.5, 30),
    rtts=st.lists(st.floats(0, 60), min_size=1, max_size=30),
)
def test_only_a_late_pong_gets_a_connection_reaped(
    interval: float, timeout: float, rtts: list[float]
) -> None:
    """Simulate one connection answering round i's ping after rtts[i] seconds (the clock
    advances only to the times the tracker asks for, as the server's task does)."""
    live = Liveness[str](
        ping_interval=interval, pong_timeout=timeout, sse_comment_interval=99, now=0
    )
    live.add("c")
    now, pong_at, reaped_at, round_no, sent = 0.0, None, None, 0, 0.0
    for _ in range(200):
        wake = live.next_wakeup()
        if pong_at is not None and pong_at < wake:
            now = pong_at
            live.pong("c", now)
            pong_at = None
            continue
        now = wake
        due = live.due(now)
        if due.reap:
            reaped_at = now
            break
        if due.ping:
            sent = now
            if round_no < len(rtts):
                pong_at = now + rtts[round_no]
            round_no += 1
        if round_no > len(rtts):
            break
    late = [rtt for rtt in rtts[:round_no] if rtt >= timeout]
    if reaped_at is not None:
        # reaped exactly when the unanswered ping's deadline passed, and only then
        assert reaped_at == pytest.approx(sent + timeout)
        assert late or round_no > len(rtts)
    else:
        assert not late


def test_disabled_heartbeats_never_ping_reap_or_comment() -> None:
    live = Liveness[str](ping_interval=None, pong_timeout=10, sse_comment_interval=None, now=0)
    live.add("a")
    assert live.next_wakeup() == math.inf
    due = live.due(1e9)
    assert (due.ping, due.reap, due.ping_round, due.sse_comment) == ([], [], False, False)
