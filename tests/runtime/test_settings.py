"""Where the server's settings come from: the lifetime planner, else the defaults."""

from __future__ import annotations

from types import SimpleNamespace

from selector.runtime.server.settings import (
    DEFAULT_HEARTBEAT,
    Heartbeat,
    PlannedSettings,
    settings_from_plans,
)


def plan(**fields: object) -> SimpleNamespace:
    return SimpleNamespace(**fields)


def test_values_come_from_the_websocket_and_sse_plans() -> None:
    ws = plan(
        protocol="websocket",
        websocket=plan(ping_interval_s=25.0, pong_timeout_s=5, close_timeout_s=3.0),
        replay=plan(events_per_connection=5000, bytes_per_connection=2_000_000),
        problems=(),
    )
    sse = plan(protocol="sse", sse=plan(heartbeat_interval_s=12.5, retry_ms=1500), problems=())
    assert settings_from_plans(ws, sse) == PlannedSettings(
        heartbeat=Heartbeat(25.0, 5.0, 12.5),
        sse_retry_ms=1500,
        close_timeout_s=3.0,
        replay_max_events=5000,
        replay_max_bytes=2 * 2_000_000 + 64 * 5000,  # two encodings plus framing
    )


def test_missing_or_nonsense_values_keep_the_defaults() -> None:
    ws = plan(websocket=plan(ping_interval_s=0, pong_timeout_s=True), replay=None)
    planned = settings_from_plans(ws, plan(sse=None))
    assert planned == PlannedSettings()
    assert planned.heartbeat == DEFAULT_HEARTBEAT


def test_problems_are_reported_with_their_protocol() -> None:
    ws = plan(protocol="websocket", problems=(plan(message="gcp_lb caps the lifetime at 30 s"),))
    planned = settings_from_plans(ws, plan(protocol="sse", problems=()))
    assert planned.problems == ("websocket: gcp_lb caps the lifetime at 30 s",)
