"""The traffic plan of a verification run (pure)."""

from __future__ import annotations

import pytest

from selector.builtin import plan_lifetime
from selector.loading import load_profile, load_profile_text
from selector.verify.traffic import (
    MIN_MESSAGES_PER_PHASE,
    VerifyOptions,
    build_traffic_plan,
)
from tests.conftest import PROFILES


def plan_for(name: str, protocol: str = "websocket", **options: object):  # type: ignore[no-untyped-def]
    profile = load_profile(PROFILES / f"{name}.yaml")
    return profile, build_traffic_plan(
        profile,
        plan_lifetime(profile, protocol),
        VerifyOptions(**options),  # type: ignore[arg-type]
    )


def test_default_scale_makes_the_shortest_idle_window_about_a_second() -> None:
    profile, plan = plan_for("chat")  # aws_alb 60 s (fixed), nginx 60 s
    assert plan.time_scale == pytest.approx(1 / 60)
    assert plan.naive.faults.idle_timeout_s == pytest.approx(1.0)
    assert plan.idle_gap_s == pytest.approx(1.5)
    assert plan.naive.heartbeat_s is None and plan.naive.client_timeout_s is None
    # the planned heartbeat fits under the scaled idle window
    assert plan.planned.heartbeat_s is not None
    assert plan.planned.heartbeat_s < plan.planned.faults.idle_timeout_s  # type: ignore[operator]
    assert plan.clients == 20
    assert plan.full_scale_connections == profile.scale.concurrent_connections
    assert plan.extrapolation_factor == profile.scale.concurrent_connections / 20


def test_rates_are_not_scaled_but_raised_to_a_minimum_with_a_note() -> None:
    _, plan = plan_for("chat")
    assert plan.downstream is not None and plan.upstream is not None
    assert plan.downstream.rate_hz == MIN_MESSAGES_PER_PHASE  # profile says 2 Hz
    assert plan.downstream.raised
    assert any("server_to_client.rate_hz raised from 2 to 3 Hz" in n for n in plan.notes)
    _, editor = plan_for("collaborative-editor")
    assert editor.downstream is not None and editor.downstream.rate_hz == 20
    assert not editor.downstream.raised


def test_a_lowered_rate_says_lowered() -> None:
    profile = load_profile_text(
        "schema_version: 1\nname: cursors\n"
        "traffic:\n  server_to_client: {rate_hz: 210, payload_bytes: 40}\n"
        "delivery: {guarantee: best_effort, latency_p99_ms: 80}\n"
        "scale: {concurrent_connections: 5000}\n"
    )
    plan = build_traffic_plan(
        profile, plan_lifetime(profile, "websocket"), VerifyOptions(clients=20)
    )
    assert plan.downstream is not None and plan.downstream.lowered
    assert plan.downstream.rate_hz == 150
    note = next(n for n in plan.notes if "rate_hz" in n)
    assert "lowered from 210 to 150 Hz" in note and "at least" not in note


def test_explicit_scale_and_client_count() -> None:
    _, plan = plan_for("chat", clients=5, time_scale=0.5)
    assert plan.clients == 5
    assert plan.time_scale == 0.5
    assert plan.naive.faults.idle_timeout_s == pytest.approx(30)


def test_sse_plan_uses_comment_heartbeat() -> None:
    _, plan = plan_for("notifications-feed", "sse")
    assert plan.protocol == "sse"
    assert plan.planned.pong_timeout_s is None
    assert plan.planned.heartbeat_s is not None


def test_webrtc_is_not_runnable() -> None:
    profile = load_profile(PROFILES / "video-call.yaml")
    with pytest.raises(ValueError, match="cannot run webrtc"):
        build_traffic_plan(profile, plan_lifetime(profile, "webrtc"))


def test_send_offsets_are_deterministic_per_seed_and_bounded() -> None:
    _, plan = plan_for("collaborative-editor", random_state=7)
    _, same = plan_for("collaborative-editor", random_state=7)
    _, other = plan_for("collaborative-editor", random_state=8)
    offsets = plan.send_offsets(15, client=3, phase=0)
    assert offsets == same.send_offsets(15, client=3, phase=0)
    assert offsets != other.send_offsets(15, client=3, phase=0)
    assert all(0 <= t <= plan.active_phase_s for t in offsets)
    assert 14 <= len(offsets) <= 16
    assert offsets == sorted(offsets)


def test_options_are_validated() -> None:
    with pytest.raises(ValueError):
        VerifyOptions(clients=0)
    with pytest.raises(ValueError):
        VerifyOptions(time_scale=2)


_SPLIT = (
    "schema_version: 2\nname: riders\ntraffic:\n"
    "  server_to_client: {rate_hz: 1, payload_bytes: 200}\n"
    "  client_to_server: {rate_hz: 400, payload_bytes: 200, sending_share: SHARE}\n"
    "scale: {concurrent_connections: 300, fan_out: 5}\n"
)


@pytest.mark.parametrize(
    ("share", "senders", "rate"),
    # 20 clients: a fifth is 4; a sliver still leaves one sender; a rate capped for the whole
    # sample is capped for the senders alone (3000 messages/s over 4 senders, not 20).
    [("1", None, 150), ("0.2", 4, 400), ("0.001", 1, 400), ("0.5", 10, 300)],
)
def test_only_the_sending_share_of_the_sample_sends(
    share: str, senders: int | None, rate: float
) -> None:
    profile = load_profile_text(_SPLIT.replace("SHARE", share))
    plan = build_traffic_plan(profile, plan_lifetime(profile, "sse"), VerifyOptions(clients=20))
    up = plan.upstream
    assert up is not None and up.senders == senders and up.rate_hz == rate
    assert [up.sends(client) for client in range(20)].count(True) == (senders or 20)
    note = [n for n in plan.notes if "sending_share" in n]
    if senders is None:
        assert note == []
    else:
        assert note == [
            f"traffic.client_to_server.sending_share {share}: {senders} of the 20 sampled "
            "clients send client messages, the others only receive"
        ]
