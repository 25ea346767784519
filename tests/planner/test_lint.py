"""Lint checks: each catches its mismatch, and the planner's own numbers lint clean."""

from __future__ import annotations

from typing import Any

import pytest

from selector.builtin import plan_lifetime
from selector.planner.facts import hop_limits
from selector.planner.lint import LINT_CHECKS, CurrentSettings, lint_settings
from selector.profile import HOP_KINDS, Profile

from .helpers import make_profile


def checks(profile: Profile, protocol: str, **settings: Any) -> list[tuple[str, int | None]]:
    findings = lint_settings(profile, protocol, CurrentSettings(**settings))
    for finding in findings:
        assert finding.check in LINT_CHECKS
        assert finding.message and finding.fix
    return [(f.check, f.hop_index) for f in findings]


ALB = {"kind": "aws_alb"}


def test_mattermost_race_heartbeat_equal_to_alb_idle() -> None:
    profile = make_profile(ALB)
    findings = lint_settings(profile, "websocket", CurrentSettings(heartbeat_s=60))
    assert [(f.check, f.hop_index) for f in findings] == [("heartbeat-reaches-idle-timeout", 0)]
    # The ALB is a managed edge here: the fix is a heartbeat that fits, with the margin.
    assert "40 s" in findings[0].fix


def test_heartbeat_below_but_too_close_to_idle_timeout() -> None:
    assert checks(make_profile(ALB), "websocket", heartbeat_s=45) == [
        ("hop-timeout-under-margin", 0)
    ]
    assert checks(make_profile(ALB), "websocket", heartbeat_s=40) == []


def test_controllable_hop_fix_raises_the_hop() -> None:
    findings = lint_settings(
        make_profile({"kind": "nginx"}), "websocket", CurrentSettings(heartbeat_s=50)
    )
    assert len(findings) == 1
    assert "proxy_read_timeout" in findings[0].fix and "75 s" in findings[0].fix


def test_stated_proxy_timeout_replaces_the_default() -> None:
    profile = make_profile({"kind": "nginx"})
    assert checks(profile, "websocket", heartbeat_s=25) == []
    assert checks(profile, "websocket", heartbeat_s=25, proxy_timeouts={0: 30.0}) == [
        ("hop-timeout-under-margin", 0)
    ]


def test_client_timeout_must_be_two_heartbeats() -> None:
    profile = make_profile()
    assert checks(profile, "websocket", heartbeat_s=20, client_timeout_s=30) == [
        ("client-timeout-under-2x-heartbeat", None)
    ]
    assert checks(profile, "websocket", heartbeat_s=20, client_timeout_s=40) == []


def test_sse_without_comment_heartbeats() -> None:
    profile = make_profile({"kind": "nginx"})
    assert ("sse-without-heartbeat", None) in checks(profile, "sse", heartbeat_s=0)
    assert ("sse-without-heartbeat", None) in checks(profile, "sse", heartbeat_via="ws-ping")
    assert checks(profile, "sse", heartbeat_s=15, heartbeat_via="sse-comment") == []
    # No heartbeat on a WebSocket is judged by its own check, not the SSE one.
    assert checks(profile, "websocket", heartbeat_s=0) == [("websocket-without-heartbeat", 0)]


def test_sse_heartbeat_over_firefox_idle_close_only_for_browsers() -> None:
    assert checks(make_profile(), "sse", heartbeat_s=25) == [
        ("sse-heartbeat-over-browser-limit", None)
    ]
    assert checks(make_profile(clients=("server",)), "sse", heartbeat_s=25) == []


def test_sse_buffering_left_on() -> None:
    profile = make_profile({"kind": "nginx"})
    assert checks(profile, "sse", sse_buffering=True) == [("sse-buffering-on", None)]
    assert checks(profile, "sse", sse_buffering=False) == []


def test_http2_ping_relied_on_behind_alb() -> None:
    assert checks(make_profile(ALB), "sse", heartbeat_via="http2-ping") == [
        ("sse-without-heartbeat", None),
        ("http2-ping-behind-alb", 0),
    ]
    assert ("http2-ping-behind-alb", 0) not in checks(
        make_profile({"kind": "envoy"}), "websocket", heartbeat_via="http2-ping"
    )


def test_tcp_keepalive_stops_at_hops_that_terminate_tcp() -> None:
    path = make_profile({"kind": "aws_nlb"}, {"kind": "nginx"})
    assert checks(path, "websocket", heartbeat_via="tcp-keepalive") == [
        ("tcp-keepalive-through-proxy", 1)
    ]


def test_nothing_stated_nothing_judged() -> None:
    assert checks(make_profile(ALB, {"kind": "heroku"}), "websocket") == []


def test_sse_through_front_door_is_reported() -> None:
    assert checks(make_profile({"kind": "azure_front_door"}), "sse") == [
        ("protocol-unsupported-by-hop", 0)
    ]


CARRYING = [
    (kind, protocol)
    for kind in HOP_KINDS
    for protocol in ("websocket", "sse")
    if hop_limits(kind, protocol) is not None
]


@pytest.mark.parametrize(("kind", "protocol"), CARRYING)
def test_the_planned_settings_lint_clean(kind: str, protocol: str) -> None:
    """Whatever the planner says to set, lint accepts: the two agree on the rules."""
    profile = make_profile({"kind": kind, "controllable": True}, {"kind": "nginx"})
    plan = plan_lifetime(profile, protocol)
    assert plan.feasible, plan.problems
    live = plan.websocket or plan.sse
    assert live is not None
    timeouts = {h.index: h.set_idle_timeout_s for h in plan.hops if h.set_idle_timeout_s}
    settings = CurrentSettings(
        heartbeat_s=plan.heartbeat_interval_s,
        client_timeout_s=live.client_timeout_s,
        proxy_timeouts=timeouts,  # type: ignore[arg-type]
        heartbeat_via="sse-comment" if protocol == "sse" else "ws-ping",
        sse_buffering=False,
    )
    assert lint_settings(profile, protocol, settings) == ()


def test_firefox_sse_limit_cites_its_source() -> None:
    profile = make_profile({"kind": "nginx"})
    findings = lint_settings(profile, "sse", CurrentSettings(heartbeat_s=28))
    browser = [f for f in findings if f.check == "sse-heartbeat-over-browser-limit"]
    assert browser and "https://github.com/dunglas/mercure/issues/646" in browser[0].message
