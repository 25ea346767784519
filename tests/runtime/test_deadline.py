"""Silence deadline: any proof of life moves it; silence past the timeout is a verdict."""

from __future__ import annotations

import pytest

from selector.runtime.protocol.deadline import SilenceDeadline


def test_deadline_moves_with_each_proof_of_life() -> None:
    deadline = SilenceDeadline(timeout=10.0, now=100.0)
    assert deadline.remaining(104.0) == 6.0
    deadline.alive(104.0)
    assert deadline.deadline == 114.0
    assert not deadline.expired(113.9)
    assert deadline.expired(114.0)
    assert deadline.silent_for(114.0) == 10.0
    assert deadline.remaining(120.0) == 0.0


def test_an_older_timestamp_does_not_move_the_deadline_back() -> None:
    deadline = SilenceDeadline(timeout=5.0, now=50.0)
    deadline.alive(49.0)
    assert deadline.deadline == 55.0


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SilenceDeadline(timeout=0.0, now=0.0)
