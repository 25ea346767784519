"""Exponential backoff with full jitter and a server floor."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selector.runtime.protocol.backoff import Backoff

_UNIT = st.floats(min_value=0.0, max_value=1.0)


@settings(deadline=None)  # shared CI cores: no per-example deadline
@given(
    base=st.floats(min_value=0.001, max_value=10.0),
    extra_cap=st.floats(min_value=0.0, max_value=100.0),
    draws=st.lists(_UNIT, min_size=1, max_size=80),
    floor=st.one_of(st.none(), st.floats(min_value=0.0, max_value=60.0)),
)
def test_every_delay_lies_between_floor_and_floor_plus_ceiling(
    base: float, extra_cap: float, draws: list[float], floor: float | None
) -> None:
    values = iter(draws)
    backoff = Backoff(base=base, cap=base + extra_cap, random_source=lambda: next(values))
    for attempt in range(len(draws)):
        ceiling = min(backoff.cap, base * 2.0**attempt)
        assert backoff.ceiling() == pytest.approx(ceiling)
        delay = backoff.next_delay(floor)
        low = floor or 0.0
        assert low <= delay <= low + ceiling + 1e-9


@settings(deadline=None)  # shared CI cores: no per-example deadline
@given(
    base=st.floats(min_value=0.001, max_value=10.0),
    extra_cap=st.floats(min_value=0.0, max_value=100.0),
    attempts=st.integers(min_value=0, max_value=200),
)
def test_ceiling_never_decreases_and_never_exceeds_cap(
    base: float, extra_cap: float, attempts: int
) -> None:
    backoff = Backoff(base=base, cap=base + extra_cap)
    previous = 0.0
    for _ in range(attempts):
        ceiling = backoff.ceiling()
        assert previous <= ceiling <= backoff.cap
        previous = ceiling
        backoff.next_delay()


def test_top_of_the_jitter_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base=0.5, cap=5.0, random_source=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_spreads_delays_below_the_ceiling() -> None:
    draws = iter([0.0, 0.25, 0.5])
    backoff = Backoff(base=1.0, cap=100.0, random_source=lambda: next(draws))
    assert [backoff.next_delay() for _ in range(3)] == [0.0, 0.5, 2.0]


def test_floor_is_added_under_the_jitter_not_instead_of_it() -> None:
    backoff = Backoff(base=1.0, cap=8.0, random_source=lambda: 0.5)
    assert backoff.next_delay(2.0) == 2.5  # floor 2 s + half of the 1 s ceiling
    assert backoff.next_delay(None) == 1.0


def test_reset_starts_the_schedule_again() -> None:
    backoff = Backoff(base=1.0, cap=60.0, random_source=lambda: 1.0)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.attempt == 0
    assert backoff.next_delay() == 1.0


def test_huge_attempt_counts_do_not_overflow() -> None:
    backoff = Backoff(base=1.0, cap=30.0, random_source=lambda: 1.0)
    backoff.attempt = 10_000
    assert backoff.next_delay() == 30.0


def test_a_random_source_outside_the_unit_interval_is_clamped() -> None:
    assert Backoff(base=1.0, cap=1.0, random_source=lambda: 7.0).next_delay() == 1.0
    assert Backoff(base=1.0, cap=1.0, random_source=lambda: -3.0).next_delay() == 0.0


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_invalid_settings_are_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        Backoff(base=base, cap=cap)
