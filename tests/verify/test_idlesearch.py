"""The idle-timeout search as data: durations, and what a round of held connections says."""

from __future__ import annotations

import pytest

from selector.verify.idlesearch import Held, IdleSearch, first_durations, judge, narrow

START = IdleSearch(0.0, None, "none")


def test_first_durations_spread_up_to_max_idle_within_the_connection_budget() -> None:
    durations = first_durations(900, 1, 8)
    assert len(durations) <= 8 and durations[-1] == 900 and durations[0] == 1
    assert durations == sorted(durations)
    assert first_durations(6, 1, 1) == [6]
    with pytest.raises(ValueError):
        first_durations(6, 0, 3)


def test_narrow_splits_the_interval_to_the_precision() -> None:
    assert narrow(2, 6, 1, 8) == [3, 4, 5]
    assert narrow(0, 100, 1, 4) == [20, 40, 60, 80]
    assert narrow(2, 3, 1, 4) == [2.5]


def test_a_close_gives_the_timeout_at_once() -> None:
    after = judge(START, [Held(1, "survived"), Held(6, "fin", 3.02), Held(10, "fin", 3.05)])
    assert (after.drop, after.idle_timeout_s) == ("fin", 3.0)
    assert after.done(1.0)


def test_silence_brackets_the_timeout_and_narrows() -> None:
    first = judge(START, [Held(1, "survived"), Held(4, "silent"), Held(16, "silent")])
    assert (first.low_s, first.high_s, first.drop) == (1, 4, "silent")
    assert not first.done(1.0)
    second = judge(first, [Held(2, "survived"), Held(3, "silent")])
    assert (second.low_s, second.high_s) == (2, 3) and second.done(1.0)
    assert second.idle_timeout_s == 2.5


def test_nothing_dropped_is_none() -> None:
    after = judge(START, [Held(1, "survived"), Held(6, "survived")])
    assert (after.drop, after.idle_timeout_s, after.high_s) == ("none", None, None)
    assert after.done(1.0)
