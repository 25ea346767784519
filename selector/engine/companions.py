"""What the chosen protocol needs next to it: signalling and TURN for WebRTC, the POST path
for SSE upstream, a fallback where networks are hostile. Pure: facts in, list out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from selector.rules.facts import format_fact

if TYPE_CHECKING:
    from selector.engine.recommendation import Companion

__all__ = ["companions_for"]


def _needs(protocol: str, facts: Mapping[str, Any]) -> list[tuple[str, str]]:
    up_rate = facts["traffic.client_to_server.rate_hz"]
    browser = "browser" in facts["clients"]
    hostile = facts["infrastructure.restrictive_networks"]
    out: list[tuple[str, str]] = []
    if protocol == "webrtc":
        out.append(
            (
                "signalling channel",
                "peers exchange SDP offers/answers and ICE candidates before a connection exists: "
                "run a WebSocket (or HTTP) signalling endpoint",
            )
        )
        udp = facts["infrastructure.udp_allowed"]
        out.append(
            (
                "STUN and TURN servers",
                "about 15-22 % of sessions need a TURN relay (more on mobile carrier NAT)"
                + (
                    "; UDP is blocked, so offer TURN over TLS on port 443"
                    if not udp or hostile
                    else "; offer TURN over TLS on 443 too for restrictive networks"
                ),
            )
        )
        if facts["topology"] == "client_server" and facts["media"] == "none":
            out.append(
                (
                    "server-side WebRTC stack",
                    "the server terminates the data channels itself (e.g. pion, aiortc, "
                    "libdatachannel)",
                )
            )
        if facts["media"] != "none" and facts["scale.fan_out"] > 2:
            out.append(
                (
                    "SFU (selective forwarding unit)",
                    f"media reaches {format_fact(facts['scale.fan_out'])} receivers: forward "
                    "streams through an SFU instead of a full mesh of peer connections",
                )
            )
    elif protocol == "sse":
        if up_rate > 0:
            ack = facts["traffic.client_to_server.needs_ack"]
            out.append(
                (
                    "HTTP POST endpoint for upstream messages",
                    f"clients send {format_fact(up_rate)} messages/s; SSE is one-way, so they POST"
                    + (" and the response is the acknowledgement" if ack else ""),
                )
            )
        if facts["delivery.resume"]:
            out.append(
                (
                    "event ids and a replay buffer",
                    "send id: with every event and replay from Last-Event-ID on reconnect",
                )
            )
        if browser and facts["auth"] == "bearer_header":
            out.append(
                (
                    "auth without headers",
                    "EventSource cannot send Authorization: use a cookie, a short-lived query "
                    "token, or a fetch-based SSE client",
                )
            )
        if browser and facts["infrastructure.http_version"] == "1.1":
            out.append(
                (
                    "HTTP/2 at the edge",
                    "over HTTP/1.1 browsers allow 6 connections per origin across all tabs; "
                    "HTTP/2 lifts the limit",
                )
            )
    elif protocol == "websocket":
        if facts["delivery.resume"]:
            out.append(
                (
                    "sequence numbers, acks and a replay buffer",
                    "WebSocket has no resumption: number messages and replay the missed ones "
                    "after a reconnect",
                )
            )
        if hostile:
            out.append(
                (
                    "SSE + POST fallback",
                    "inspecting proxies can refuse or cut the Upgrade; fall back to a streamed "
                    "HTTP response plus POST (or long polling) for those networks",
                )
            )
        if browser:
            out.append(
                (
                    "application-level heartbeat",
                    "browser JavaScript cannot send WebSocket pings; send a small app message "
                    "so both sides detect silently dropped connections",
                )
            )
    return out


def companions_for(protocol: str, facts: Mapping[str, Any]) -> list[Companion]:
    """The companion pieces ``protocol`` needs for a profile with ``facts``."""
    from selector.engine.recommendation import Companion, trusted

    return [
        trusted(Companion, component=component, reason=reason)
        for component, reason in _needs(protocol, facts)
    ]
