"""Where the server's settings come from: the lifetime planner, else the defaults."""

from __future__ import annotations

from pathlib import Path

from selector.builtin import plan_lifetime
from selector.loading import load_profile
from selector.planner.model import LifetimePlan, PlanProblem
from selector.runtime.server.settings import (
    DEFAULT_HEARTBEAT,
    Heartbeat,
    PlannedSettings,
    settings_from_plans,
)

PROFILES = Path(__file__).resolve().parents[2] / "profiles"


def plans(name: str) -> tuple[LifetimePlan, LifetimePlan]:
    profile = load_profile(PROFILES / f"{name}.yaml")
    return plan_lifetime(profile, "websocket"), plan_lifetime(profile, "sse")


def test_values_come_from_the_websocket_and_sse_plans() -> None:
    ws, sse = plans("chat")  # resume: true, so the plan sizes a replay buffer
    assert ws.websocket is not None and ws.replay is not None and sse.sse is not None
    planned = settings_from_plans(ws, sse)
    assert planned.heartbeat == Heartbeat(
        ws.websocket.ping_interval_s, ws.websocket.pong_timeout_s, sse.sse.heartbeat_interval_s
    )
    assert planned.close_timeout_s == ws.websocket.close_timeout_s
    assert planned.sse_retry_ms == sse.sse.retry_ms
    assert planned.replay_max_events == ws.replay.events_per_connection
    # Two encodings of each event plus framing.
    assert planned.replay_max_bytes == (
        2 * ws.replay.bytes_per_connection + 64 * ws.replay.events_per_connection
    )
    assert planned.heartbeat != DEFAULT_HEARTBEAT  # the plan, not the defaults, decided


def test_values_the_plans_leave_out_or_zero_keep_the_defaults() -> None:
    ws, sse = plans("chat")
    assert ws.websocket is not None and sse.sse is not None
    zeroed_ws = ws.model_copy(
        update={
            "websocket": ws.websocket.model_copy(
                update={"ping_interval_s": 0.0, "pong_timeout_s": 0.0, "close_timeout_s": 0.0}
            ),
            "replay": None,
        }
    )
    zeroed_sse = sse.model_copy(update={"sse": None})
    planned = settings_from_plans(zeroed_ws, zeroed_sse)
    assert planned == PlannedSettings()
    assert planned.heartbeat == DEFAULT_HEARTBEAT


def test_problems_are_reported_with_their_protocol() -> None:
    ws, sse = plans("chat")
    problem = PlanProblem(
        code="lifetime-cap", message="gcp_lb caps the lifetime at 30 s", fix="-", hop_index=0
    )
    planned = settings_from_plans(
        ws.model_copy(update={"problems": (problem,)}), sse.model_copy(update={"problems": ()})
    )
    assert planned.problems == ("websocket: gcp_lb caps the lifetime at 30 s",)
