"""The runtime's clocks: the loop clock and the manual clock tests move by hand."""

from __future__ import annotations

import asyncio
import time

import pytest

from selector.runtime.clock import SYSTEM_CLOCK, ManualClock

from .conftest import arun, eventually


def test_the_manual_clock_wakes_sleepers_in_deadline_order_only_when_moved() -> None:
    async def scenario() -> list[tuple[str, float]]:
        clock = ManualClock(start=100.0)
        woke: list[tuple[str, float]] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append((name, clock.monotonic()))

        tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("b", 5), ("a", 2), ("c", 9))]
        await eventually(lambda: clock.sleepers == 3)
        clock.advance(1.5)  # before every deadline
        # Deterministic, no yield needed: advance() resolves a sleeper's future synchronously
        # or not at all, so every sleeper still pending now stays asleep until moved again.
        assert clock.sleepers == 3 and woke == []
        clock.advance(4)  # past a (102) and b (105), not c (109)
        await eventually(lambda: len(woke) == 2)
        clock.advance(10)
        await asyncio.gather(*tasks)
        return woke

    assert arun(scenario()) == [("a", 105.5), ("b", 105.5), ("c", 115.5)]


def test_the_manual_clock_never_goes_back_and_keeps_wall_time_in_step() -> None:
    clock = ManualClock(wall_at_zero=1000.0)
    clock.advance(2.5)
    assert (clock.monotonic(), clock.wall()) == (2.5, 1002.5)
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)


def test_a_zero_sleep_only_yields() -> None:
    async def scenario() -> float:
        clock = ManualClock()
        await clock.sleep(0)
        await clock.sleep(-1)
        return clock.monotonic()

    assert arun(scenario()) == 0.0


def test_the_loop_clock_reads_the_monotonic_and_wall_clocks() -> None:
    async def scenario() -> tuple[float, float, float, float, float]:
        before = time.monotonic()
        now = SYSTEM_CLOCK.monotonic()
        after = time.monotonic()
        wall_before = time.time()
        wall = SYSTEM_CLOCK.wall()
        return before, now, after, wall_before, wall

    before, now, after, wall_before, wall = arun(scenario())
    assert before <= now <= after and wall_before <= wall
