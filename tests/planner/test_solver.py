"""The lifetime solver, on real idle-drop situations (the hop limits of planner/facts.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from selector.builtin import plan_lifetime
from selector.errors import UsageError
from selector.planner.facts import HOP_FACTS, hop_limits
from selector.planner.model import LifetimePlan
from selector.planner.solver import (
    ASSUMED_ACCEPT_RATE_PER_S,
    HOP_MARGIN,
    MIN_SENSIBLE_HEARTBEAT_S,
)
from selector.profile import HOP_KINDS

from .helpers import make_profile

PLANNER_DIR = Path(__file__).resolve().parents[2] / "selector" / "planner"


def codes(plan: LifetimePlan) -> list[str]:
    return [p.code for p in plan.problems]


def test_facts_table_covers_every_hop_kind_with_a_source() -> None:
    assert set(HOP_FACTS) == set(HOP_KINDS)
    for kind, facts in HOP_FACTS.items():
        assert facts.source, kind
        assert facts.setting, kind
        limits = facts.websocket
        assert limits.idle_timeout_s is not None or limits.max_lifetime_s is not None, kind
        if limits.assumed:
            assert limits.note, f"{kind}: an assumed value must say why"


def test_fixed_hop_bounds_the_heartbeat_with_the_margin() -> None:
    # An ALB someone else runs, lowered to 30 s: the 25 s default ping would race it.
    plan = plan_lifetime(
        make_profile({"kind": "aws_alb", "idle_timeout_s": 30.0}, timeout_control="none"),
        "websocket",
    )
    assert plan.heartbeat_interval_s * HOP_MARGIN <= 30.0
    assert plan.heartbeat_interval_s > 0.5 * 30.0 / HOP_MARGIN  # not needlessly short
    assert "aws_alb" in plan.heartbeat_bound_by
    assert plan.hops[0].action == "fixed"
    assert plan.feasible


def test_controllable_hop_is_raised_to_one_and_a_half_heartbeats() -> None:
    plan = plan_lifetime(make_profile({"kind": "nginx", "idle_timeout_s": 20.0}), "websocket")
    hop = plan.hops[0]
    assert hop.controllable
    assert hop.action == "raise"
    assert hop.set_idle_timeout_s is not None
    assert hop.set_idle_timeout_s >= HOP_MARGIN * plan.heartbeat_interval_s
    # A hop the operator controls does not shorten the heartbeat: it is raised instead.
    unconstrained = plan_lifetime(make_profile(), "websocket")
    assert plan.heartbeat_interval_s == unconstrained.heartbeat_interval_s


def test_controllable_hop_that_already_fits_is_kept() -> None:
    plan = plan_lifetime(make_profile({"kind": "nginx"}), "websocket")
    hop = plan.hops[0]
    assert hop.action == "keep"
    assert hop.set_idle_timeout_s == hop.idle_timeout_s == 60.0


def test_idle_timeout_too_short_for_any_heartbeat_is_a_problem_not_a_value() -> None:
    plan = plan_lifetime(
        make_profile({"kind": "other", "idle_timeout_s": 6.0, "controllable": False}),
        "websocket",
    )
    assert not plan.feasible
    problem = plan.problems[0]
    assert problem.code == "heartbeat-too-short"
    assert problem.hop_index == 0
    assert "6 s" in problem.message and problem.fix
    # The numbers still respect the hop, so they show how far off the path is.
    assert plan.heartbeat_interval_s < 6.0
    assert plan.heartbeat_interval_s < MIN_SENSIBLE_HEARTBEAT_S


def test_fixed_lifetime_cap_is_planned_rotation_not_a_failure() -> None:
    # Under partial control the GCP LB is a managed edge: its 30 s cap ends every connection,
    # and clients that reconnect on purpose before it lose nothing.
    plan = plan_lifetime(make_profile({"kind": "gcp_lb"}), "websocket")
    assert plan.feasible, plan.problems
    assert plan.hops[0].max_lifetime_s == 30
    rotation = plan.planned_reconnect
    assert rotation is not None and rotation.hop_index == 0
    assert rotation.reconnect_after_max_s < 30
    note = next(n for n in plan.notes if "gcp_lb (path[0])" in n)
    assert "declared fixed in the profile" in note and "controllable: true" in note
    assert "gcloud compute backend-services update --timeout" in note
    # Once the operator says they control it, the same path plans fine.
    assert plan_lifetime(make_profile({"kind": "gcp_lb", "controllable": True}), "sse").feasible


def test_controllable_lifetime_limit_is_raised_and_rotation_planned_before_it() -> None:
    plan = plan_lifetime(make_profile({"kind": "gcp_lb", "controllable": True}), "sse")
    assert plan.feasible
    hop = plan.hops[0]
    assert hop.action == "raise" and hop.set_max_lifetime_s is not None
    rotation = plan.planned_reconnect
    assert rotation is not None
    assert rotation.max_lifetime_s == hop.set_max_lifetime_s
    assert rotation.reconnect_after_min_s < rotation.reconnect_after_max_s
    assert rotation.reconnect_after_max_s < rotation.max_lifetime_s
    assert any("Last-Event-ID" in note and "reconnect time" in note for note in plan.notes)


def test_api_gateway_two_hour_cap_and_connection_rate_shape_reconnects() -> None:
    connections = 100_000
    plan = plan_lifetime(
        make_profile({"kind": "aws_api_gateway"}, connections=connections), "websocket"
    )
    assert plan.feasible, plan.problems
    rotation = plan.planned_reconnect
    assert rotation is not None and rotation.kind == "aws_api_gateway"
    assert rotation.max_lifetime_s == 7200
    assert rotation.reconnect_after_max_s < 7200
    reconnect = plan.reconnect
    assert reconnect.new_connection_limit_per_s == 500
    assert reconnect.limited_by is not None
    # Full jitter over [0, base]: the expected spread rate stays under the 500/s limit.
    assert reconnect.peak_reconnect_rate_per_s == pytest.approx(connections / reconnect.base_s)
    assert reconnect.peak_reconnect_rate_per_s <= 500
    assert reconnect.cap_s >= reconnect.base_s


def test_reconnect_storm_beyond_any_window_is_a_problem() -> None:
    plan = plan_lifetime(
        make_profile({"kind": "aws_api_gateway"}, connections=1_000_000), "websocket"
    )
    assert "reconnect-storm-exceeds-limit" in codes(plan)


def test_without_a_known_limit_the_window_is_sized_for_the_assumed_accept_rate() -> None:
    plan = plan_lifetime(make_profile({"kind": "nginx"}, connections=50_000), "websocket")
    reconnect = plan.reconnect
    assert reconnect.new_connection_limit_per_s is None
    assert (reconnect.accept_rate_from, reconnect.accept_rate_per_s) == (
        "assumed",
        ASSUMED_ACCEPT_RATE_PER_S,
    )
    # 50,000 connections spread at no more than 80 % of 1000/s: a 62.5 s first window.
    assert reconnect.base_s == 62.5 and reconnect.cap_s >= reconnect.base_s
    assert reconnect.peak_reconnect_rate_per_s == pytest.approx(800)
    assert reconnect.limited_by is not None and "assumed" in reconnect.limited_by
    assert any("assumed" in n and "scale.accept_rate_per_s" in n for n in plan.notes)
    assert plan.feasible


def test_a_measured_accept_rate_replaces_the_assumption() -> None:
    plan = plan_lifetime(
        make_profile({"kind": "nginx"}, connections=50_000, accept_rate=10_000), "websocket"
    )
    reconnect = plan.reconnect
    assert (reconnect.accept_rate_from, reconnect.accept_rate_per_s) == ("profile", 10_000)
    assert reconnect.base_s == 6.3 and reconnect.peak_reconnect_rate_per_s <= 10_000
    assert not any("assumed" in note for note in plan.notes)


def test_a_small_fleet_keeps_the_one_second_window() -> None:
    plan = plan_lifetime(make_profile({"kind": "nginx"}, connections=500), "websocket")
    assert plan.reconnect.base_s == 1.0 and plan.reconnect.limited_by is None
    assert not any("assumed" in note for note in plan.notes)


def test_the_lower_of_path_limit_and_server_rate_sizes_the_window() -> None:
    gateway = {"kind": "aws_api_gateway"}
    by_path = plan_lifetime(make_profile(gateway, connections=20_000), "websocket").reconnect
    assert (by_path.accept_rate_from, by_path.accept_rate_per_s) == ("path", 500)
    slow = make_profile(gateway, connections=20_000, accept_rate=100)
    by_servers = plan_lifetime(slow, "websocket").reconnect
    assert (by_servers.accept_rate_from, by_servers.accept_rate_per_s) == ("profile", 100)
    assert by_servers.peak_reconnect_rate_per_s <= 100 < by_path.peak_reconnect_rate_per_s


def test_an_assumed_rate_too_low_for_the_fleet_is_a_note_not_a_failure() -> None:
    plan = plan_lifetime(make_profile({"kind": "nginx"}, connections=1_000_000), "websocket")
    assert "reconnect-storm-exceeds-limit" not in codes(plan)
    assert any("longer than" in n and "scale.accept_rate_per_s" in n for n in plan.notes)
    measured = make_profile({"kind": "nginx"}, connections=1_000_000, accept_rate=1000)
    assert "reconnect-storm-exceeds-limit" in codes(plan_lifetime(measured, "websocket"))


def test_sse_through_front_door_is_unsupported_but_websocket_plans() -> None:
    profile = make_profile({"kind": "azure_front_door"})
    sse = plan_lifetime(profile, "sse")
    assert codes(sse) == ["protocol-unsupported-by-hop"]
    assert sse.hops[0].action == "unsupported"
    ws = plan_lifetime(profile, "websocket")
    assert ws.feasible
    assert ws.planned_reconnect is not None and ws.planned_reconnect.max_lifetime_s == 4 * 3600


def test_unconfirmed_and_unknown_defaults_are_listed_as_assumptions() -> None:
    plan = plan_lifetime(make_profile({"kind": "cloudflare"}, {"kind": "other"}), "websocket")
    assumed = {(a.hop_index, a.field): a.value for a in plan.assumptions}
    assert assumed == {
        (0, "idle_timeout_s"): hop_limits("cloudflare", "websocket").idle_timeout_s,  # type: ignore[union-attr]
        (1, "idle_timeout_s"): hop_limits("other", "websocket").idle_timeout_s,  # type: ignore[union-attr]
    }
    assert [h.origin for h in plan.hops] == ["assumed", "assumed"]
    assert all(a.reason for a in plan.assumptions)


def test_a_profile_override_removes_the_assumption() -> None:
    plan = plan_lifetime(make_profile({"kind": "other", "idle_timeout_s": 90.0}), "websocket")
    assert plan.assumptions == ()
    assert plan.hops[0].origin == "profile"
    assert plan.hops[0].idle_timeout_s == 90.0


def test_cloudflare_sse_read_timeout_is_documented_not_assumed() -> None:
    plan = plan_lifetime(make_profile({"kind": "cloudflare"}), "sse")
    assert plan.assumptions == ()
    assert plan.hops[0].idle_timeout_s == 120


def test_websocket_detection_bounds_add_up_end_to_end() -> None:
    plan = plan_lifetime(make_profile({"kind": "heroku"}), "websocket")
    ws = plan.websocket
    assert ws is not None and plan.sse is None and plan.webrtc is None
    assert ws.ping_interval_s * HOP_MARGIN <= 55  # Heroku's rolling window
    assert 0 < ws.pong_timeout_s <= ws.ping_interval_s
    assert ws.server_detection_bound_s == pytest.approx(
        ws.ping_interval_s + ws.pong_timeout_s + ws.close_timeout_s
    )
    assert ws.client_timeout_s >= 2 * ws.ping_interval_s
    assert ws.client_detection_bound_s == pytest.approx(ws.client_timeout_s + ws.close_timeout_s)


def test_slow_network_lengthens_the_pong_timeout() -> None:
    fast = plan_lifetime(make_profile(), "websocket").websocket
    slow_profile = make_profile().model_copy(
        update={"delivery": make_profile().delivery.model_copy(update={"latency_p99_ms": 9000.0})}
    )
    slow = plan_lifetime(slow_profile, "websocket").websocket
    assert fast is not None and slow is not None
    assert slow.pong_timeout_s > fast.pong_timeout_s
    assert slow.pong_timeout_s >= 2 * 9.0 or slow.pong_timeout_s == slow.ping_interval_s


def test_sse_heartbeat_stays_under_firefox_idle_close_for_browsers() -> None:
    plan = plan_lifetime(make_profile({"kind": "aws_nlb"}), "sse")
    sse = plan.sse
    assert sse is not None
    assert sse.heartbeat_interval_s * HOP_MARGIN <= 30  # Firefox drops ~30 s idle streams
    assert sse.client_timeout_s >= 2 * sse.heartbeat_interval_s
    assert sse.retry_ms == round(plan.reconnect.base_s * 1000)


def test_replay_buffer_covers_the_longest_tolerated_outage() -> None:
    down = {"rate_hz": 5.0, "payload_bytes": 300}
    plan = plan_lifetime(make_profile({"kind": "nginx"}, resume=True, down=down), "sse")
    replay = plan.replay
    assert replay is not None and plan.sse is not None
    # A client that notices late and then backs off to the cap still finds its events.
    assert replay.tolerated_outage_s >= plan.sse.client_detection_bound_s + plan.reconnect.cap_s
    assert replay.events_per_connection >= 5.0 * replay.tolerated_outage_s
    assert replay.bytes_per_connection == replay.events_per_connection * 300
    assert plan_lifetime(make_profile({"kind": "nginx"}), "sse").replay is None


def test_message_over_api_gateway_limit_is_a_problem() -> None:
    plan = plan_lifetime(
        make_profile({"kind": "aws_api_gateway"}, down={"rate_hz": 1.0, "payload_bytes": 200_000}),
        "websocket",
    )
    assert "message-too-large-for-hop" in codes(plan)


def test_webrtc_plans_signalling_turn_and_consent() -> None:
    blocked = plan_lifetime(make_profile({"kind": "aws_alb"}, udp_allowed=False), "webrtc")
    rtc = blocked.webrtc
    assert rtc is not None and blocked.websocket is None
    assert rtc.all_sessions_relayed
    assert rtc.turn_transports == ("turns (TLS) on tcp/443",)
    assert rtc.signalling.ping_interval_s == blocked.heartbeat_interval_s
    assert rtc.consent_timeout_s > rtc.consent_check_interval_s
    open_net = plan_lifetime(make_profile(), "webrtc").webrtc
    assert open_net is not None and not open_net.all_sessions_relayed
    assert any("443" in t for t in open_net.turn_transports)


def test_acknowledged_mutations_get_the_queue_advice() -> None:
    up = {"rate_hz": 1.0, "payload_bytes": 100, "needs_ack": True}
    plan = plan_lifetime(make_profile(up=up), "websocket")
    assert any("until its ack arrives" in note for note in plan.notes)


def test_unknown_protocol_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        plan_lifetime(make_profile(), "carrier-pigeon")


def test_plan_is_json_serialisable_and_round_trips() -> None:
    plan = plan_lifetime(
        make_profile({"kind": "aws_api_gateway"}, {"kind": "nginx"}, resume=True), "websocket"
    )
    data = json.loads(plan.model_dump_json())
    assert data["websocket"]["ping_interval_s"] == plan.heartbeat_interval_s
    assert LifetimePlan.model_validate(data) == plan
    assert all(math.isfinite(v) for v in _numbers(data))


def _numbers(value: object) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [float(value)]
    return []


def test_device_fleet_with_full_timeout_control_pings_less_often() -> None:
    fleet = make_profile(
        {"kind": "aws_alb"}, {"kind": "haproxy"}, clients=("server",), timeout_control="full"
    )
    plan = plan_lifetime(fleet, "websocket")
    assert plan.feasible
    assert plan.heartbeat_interval_s == 60.0 and "MQTT" in plan.heartbeat_bound_by
    # Every hop is raised to keep the 1.5x margin over the longer interval.
    assert all((h.set_idle_timeout_s or 0) >= 90 for h in plan.hops)
    # Browsers, or a hop the operator cannot change, keep the usual 25 s.
    browsers = make_profile({"kind": "aws_alb"}, timeout_control="full")
    assert plan_lifetime(browsers, "websocket").heartbeat_interval_s == 25.0
    partial = make_profile({"kind": "aws_alb"}, {"kind": "haproxy"}, clients=("server",))
    assert plan_lifetime(partial, "websocket").heartbeat_interval_s == 25.0
