"""Invariants of the lifetime solver over arbitrary valid paths (hypothesis)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from selector.builtin import plan_lifetime
from selector.planner.model import LifetimePlan
from selector.planner.solver import (
    ASSUMED_ACCEPT_RATE_PER_S,
    HOP_MARGIN,
    MIN_SENSIBLE_HEARTBEAT_S,
    heartbeat_interval,
    heartbeat_intervals,
    heartbeats_and_plan,
)
from selector.profile import HOP_KINDS, Profile
from selector.rules.facts import profile_facts
from selector.rules.loading import default_matrix

from .helpers import make_profile

seconds = st.floats(min_value=0.01, max_value=100_000, allow_nan=False, allow_infinity=False)

hops = st.fixed_dictionaries(
    {"kind": st.sampled_from(HOP_KINDS)},
    optional={
        "idle_timeout_s": seconds,
        "max_lifetime_s": seconds,
        "controllable": st.booleans(),
    },
)

profiles = st.builds(
    lambda path, control, connections, resume, clients, udp: make_profile(
        *path,
        connections=connections,
        resume=resume,
        clients=clients,
        timeout_control=control,
        udp_allowed=udp,
    ),
    st.lists(hops, max_size=6),
    st.sampled_from(["full", "partial", "none"]),
    st.integers(min_value=1, max_value=10_000_000),
    st.booleans(),
    st.sampled_from([("browser",), ("server",), ("browser", "mobile")]),
    st.booleans(),
)
protocols = st.sampled_from(["websocket", "sse", "webrtc"])


def planned_idle(plan: LifetimePlan) -> list[tuple[bool, float]]:
    """(controllable, idle timeout once the plan is applied) for every hop carrying the
    protocol and having an idle timeout."""
    out = []
    for hop in plan.hops:
        if hop.action == "unsupported" or hop.idle_timeout_s is None:
            continue
        value = hop.set_idle_timeout_s if hop.controllable else hop.idle_timeout_s
        assert value is not None, hop
        out.append((hop.controllable, value))
    return out


@settings(max_examples=300, deadline=None)
@given(profiles)
def test_the_heartbeats_of_all_protocols_are_each_protocols_own(profile: Profile) -> None:
    """heartbeat_intervals() works WebRTC's out once with the WebSocket's: they are equal."""
    both = heartbeat_intervals(profile)
    assert list(both) == ["websocket", "sse", "webrtc"]
    for protocol, interval in both.items():
        assert interval == heartbeat_interval(profile, protocol)
        assert interval == plan_lifetime(profile, protocol).heartbeat_interval_s


@settings(max_examples=300, deadline=None)
@given(profiles, st.sampled_from(["websocket", "sse", "webrtc", None]))
def test_heartbeats_and_plan_is_both_worked_out_apart(
    profile: Profile, protocol: str | None
) -> None:
    """heartbeats_and_plan() shares the hops and the heartbeat: the same as asking apart."""
    notes = default_matrix().notes
    heartbeats, plan = heartbeats_and_plan(profile, protocol, profile_facts(profile), notes)
    assert heartbeats == heartbeat_intervals(profile)
    if protocol is None:
        assert plan is None
    else:
        assert plan is not None
        assert plan.model_dump_json() == plan_lifetime(profile, protocol).model_dump_json()


@settings(max_examples=300, deadline=None)
@given(profiles, protocols)
def test_heartbeat_is_below_every_idle_timeout(profile: Profile, protocol: str) -> None:
    plan = plan_lifetime(profile, protocol)
    assert plan.heartbeat_interval_s > 0
    for _, idle in planned_idle(plan):
        assert plan.heartbeat_interval_s < idle


@settings(max_examples=300, deadline=None)
@given(profiles, protocols)
def test_every_hop_gets_at_least_one_and_a_half_heartbeats(profile: Profile, protocol: str) -> None:
    plan = plan_lifetime(profile, protocol)
    for _controllable, idle in planned_idle(plan):
        assert idle >= HOP_MARGIN * plan.heartbeat_interval_s - 1e-9


@settings(max_examples=200, deadline=None)
@given(profiles, protocols)
def test_too_short_heartbeat_is_always_reported(profile: Profile, protocol: str) -> None:
    plan = plan_lifetime(profile, protocol)
    reported = any(p.code == "heartbeat-too-short" for p in plan.problems)
    assert reported == (plan.heartbeat_interval_s < MIN_SENSIBLE_HEARTBEAT_S)


@settings(max_examples=200, deadline=None)
@given(profiles, protocols)
def test_numbers_are_finite_and_consistent(profile: Profile, protocol: str) -> None:
    plan = plan_lifetime(profile, protocol)
    rc = plan.reconnect
    assert 0 < rc.base_s <= rc.cap_s
    assert math.isfinite(rc.peak_reconnect_rate_per_s)
    if rc.new_connection_limit_per_s is not None and not any(
        p.code == "reconnect-storm-exceeds-limit" for p in plan.problems
    ):
        assert rc.peak_reconnect_rate_per_s <= rc.new_connection_limit_per_s
    rotation = plan.planned_reconnect
    if rotation is not None:
        assert 0 < rotation.reconnect_after_min_s <= rotation.reconnect_after_max_s
        assert rotation.reconnect_after_max_s < rotation.max_lifetime_s
    if plan.replay is not None:
        assert plan.replay.events_per_connection >= 0
        assert plan.replay.shared_log_bytes >= 0
    for problem in plan.problems:
        assert problem.message and problem.fix


@settings(max_examples=100, deadline=None)
@given(profiles, protocols)
def test_plan_is_deterministic(profile: Profile, protocol: str) -> None:
    assert plan_lifetime(profile, protocol) == plan_lifetime(profile, protocol)


@settings(max_examples=200, deadline=None)
@given(st.lists(hops, min_size=1, max_size=5), seconds, protocols)
def test_a_shorter_fixed_hop_never_lengthens_the_heartbeat(
    path: list[dict[str, Any]], idle: float, protocol: str
) -> None:
    before = plan_lifetime(make_profile(*path), protocol)
    tighter = make_profile(*path, {"kind": "other", "idle_timeout_s": idle, "controllable": False})
    after = plan_lifetime(tighter, protocol)
    assert after.heartbeat_interval_s <= before.heartbeat_interval_s


@settings(max_examples=200, deadline=None)
@given(
    connections=st.integers(min_value=1, max_value=10_000_000),
    accept_rate=st.none() | st.floats(min_value=0.5, max_value=1e6),
    gateway=st.booleans(),
)
def test_the_reconnect_peak_stays_under_the_rate_it_was_sized_for(
    connections: int, accept_rate: float | None, gateway: bool
) -> None:
    path = [{"kind": "aws_api_gateway"}] if gateway else [{"kind": "nginx"}]
    profile = make_profile(*path, connections=connections, accept_rate=accept_rate)
    reconnect = plan_lifetime(profile, "websocket").reconnect
    limits = [ASSUMED_ACCEPT_RATE_PER_S if accept_rate is None else accept_rate]
    limits += [500.0] if gateway else []
    assert reconnect.accept_rate_per_s == min(limits)
    assert reconnect.peak_reconnect_rate_per_s <= reconnect.accept_rate_per_s
    assert reconnect.peak_reconnect_rate_per_s == connections / reconnect.base_s
    assert reconnect.base_s >= 1.0 and reconnect.cap_s >= reconnect.base_s
