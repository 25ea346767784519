"""Where the server's heartbeat comes from: the lifetime planner, else the defaults."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from selector.runtime.settings import (
    DEFAULT_HEARTBEAT,
    Heartbeat,
    heartbeat_for_profile,
    heartbeat_from_plans,
    problem_messages,
)


def plan(**fields: object) -> SimpleNamespace:
    return SimpleNamespace(**fields)


def test_values_come_from_the_websocket_and_sse_plans() -> None:
    ws = plan(protocol="websocket", websocket=plan(ping_interval_s=25.0, pong_timeout_s=5))
    sse = plan(protocol="sse", sse=plan(heartbeat_interval_s=12.5))
    assert heartbeat_from_plans(ws, sse) == Heartbeat(25.0, 5.0, 12.5)


def test_missing_or_nonsense_values_keep_the_defaults() -> None:
    ws = plan(websocket=plan(ping_interval_s=0, pong_timeout_s=True))
    assert heartbeat_from_plans(ws, plan(sse=None)) == DEFAULT_HEARTBEAT


def test_problems_are_reported_with_their_protocol() -> None:
    ws = plan(protocol="websocket", problems=(plan(message="gcp_lb caps the lifetime at 30 s"),))
    assert problem_messages(ws, plan(protocol="sse", problems=())) == [
        "websocket: gcp_lb caps the lifetime at 30 s"
    ]


def test_without_a_planner_the_defaults_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "selector.planner", None)  # import raises ImportError
    assert heartbeat_for_profile(object()) == (DEFAULT_HEARTBEAT, [])  # type: ignore[arg-type]
