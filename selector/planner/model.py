"""The connection-lifetime plan: what to set on the server, the client and every hop.

Frozen pydantic models, serialisable with ``model_dump(mode="json")``. Field names carry their
unit and are named so a server can be configured from them directly, for example
``plan.websocket.ping_interval_s`` or ``plan.reconnect.base_s``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from selector.protocols import Protocol

__all__ = [
    "Assumption",
    "HopPlan",
    "LifetimePlan",
    "PlanProblem",
    "PlannedReconnect",
    "ReconnectPolicy",
    "ReplayBuffer",
    "SsePlan",
    "WebRtcPlan",
    "WebSocketPlan",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebSocketPlan(_Model):
    """Liveness settings of a WebSocket (also WebRTC's signalling channel)."""

    ping_interval_s: float = Field(
        description="The server sends a Ping frame every this many seconds on each connection."
    )
    pong_timeout_s: float = Field(
        description="The server closes a connection whose Pong has not arrived this many "
        "seconds after its Ping."
    )
    close_timeout_s: float = Field(
        description="After starting a close handshake, either side drops the TCP connection "
        "if the peer's Close frame has not arrived within this many seconds."
    )
    server_detection_bound_s: float = Field(
        description="Worst-case seconds before the server notices a silently dropped "
        "connection: ping interval + pong timeout + close timeout."
    )
    client_timeout_s: float = Field(
        description="The client treats the connection as dead after this many seconds without "
        "any message from the server (2x the ping interval). Browser JavaScript never sees "
        "Ping frames, so browser clients need an application-level heartbeat message from "
        "the server at the ping interval."
    )
    client_detection_bound_s: float = Field(
        description="Worst-case seconds before the client notices a dead connection and starts "
        "reconnecting: client timeout + close timeout."
    )


class SsePlan(_Model):
    """Liveness settings of a Server-Sent Events stream."""

    heartbeat_interval_s: float = Field(
        description="The server writes an SSE comment line (':') every this many seconds on "
        "each stream, so no hop sees it idle."
    )
    client_timeout_s: float = Field(
        description="The client (a fetch-based reader, or a watchdog around EventSource) treats "
        "the stream as dead after this many seconds without any bytes (2x the heartbeat)."
    )
    client_detection_bound_s: float = Field(
        description="Worst-case seconds before the client notices a dead stream and reconnects "
        "(the client timeout: an SSE stream is simply aborted, there is no close handshake)."
    )
    upstream_keepalive_s: float = Field(
        description="Close a pooled upstream HTTP connection (POST /mutations) after it has "
        "been idle this long (the heartbeat interval, so below every hop's idle timeout): "
        "between POSTs nothing keeps it alive, and a hop that dropped it silently would "
        "swallow the next POST until the request times out."
    )
    retry_ms: int = Field(
        description="The top of the window the stream's 'retry:' field is drawn from, in "
        "milliseconds: the reconnect policy's base delay."
    )
    retry_min_ms: int = Field(
        description="The bottom of that window. EventSource waits exactly the 'retry:' it was "
        "sent, with no jitter of its own (WHATWG HTML, server-sent events, 'reconnection "
        "time'), so the server sends each stream its own value drawn uniformly from "
        "[retry_min_ms, retry_ms]: after a mass drop the clients come back spread over the "
        "window, as the reconnect policy's full jitter spreads other clients."
    )
    peak_reconnect_rate_per_s: float = Field(
        description="New streams per second at the peak after every stream drops at once, "
        "with the retry drawn per stream: the connections over the window's width."
    )


class WebRtcPlan(_Model):
    """What WebRTC needs besides its signalling channel."""

    signalling: WebSocketPlan = Field(
        description="Liveness of the signalling WebSocket, which crosses the proxy path."
    )
    all_sessions_relayed: bool = Field(
        description="UDP is blocked, so every session must be relayed by TURN over TLS on port "
        "443; otherwise a TURN relay still carries roughly 15-22 % of sessions."
    )
    turn_transports: tuple[str, ...] = Field(
        description="TURN listeners to deploy, in the order clients should try them."
    )
    consent_check_interval_s: float = Field(
        description="ICE consent freshness (RFC 7675): STUN binding checks about every 5 s "
        "(randomised 4-6 s) on the selected candidate pair."
    )
    consent_timeout_s: float = Field(
        description="ICE consent freshness: the media path is abandoned 30 s after the last "
        "answered check; restart ICE over the signalling channel."
    )


class HopPlan(_Model):
    """One hop of ``infrastructure.path`` and what to do about it."""

    index: int = Field(description="Position in infrastructure.path (0 = outermost).")
    kind: str = Field(description="The hop's kind.")
    controllable: bool = Field(description="Whether the operator can change its timeouts.")
    idle_timeout_s: float | None = Field(
        description="The hop's idle timeout today (the profile's override or the kind's "
        "default); None if the hop has none."
    )
    max_lifetime_s: float | None = Field(
        description="The hop's maximum connection lifetime today; None if it has none."
    )
    origin: Literal["profile", "default", "assumed"] = Field(
        description="Where the limits come from: the profile's override, a documented default, "
        "or an assumed default the user should confirm."
    )
    set_idle_timeout_s: float | None = Field(
        description="The idle timeout to configure on a hop the operator controls (at least "
        "1.5x the heartbeat); None for hops declared fixed in the profile or with no idle timeout."
    )
    set_max_lifetime_s: float | None = Field(
        description="The lifetime limit to configure on a controllable hop whose lifetime is "
        "too short to be practical; None when nothing must change."
    )
    action: Literal["keep", "raise", "fixed", "unsupported"] = Field(
        description="keep: today's value already fits; raise: change it to the set_ value; "
        "fixed: declared fixed in the profile (timeout_control or controllable), the "
        "heartbeat fits under it; unsupported: the hop cannot carry this protocol."
    )
    setting: str = Field(description="Which setting of the hop holds the timeout.")
    source: str = Field(description="Where the default figures come from.")
    note: str = Field(default="", description="A caveat about this hop.")


class Assumption(_Model):
    """A value the plan relies on that nobody confirmed: confirm it or override it."""

    hop_index: int = Field(description="Position of the hop in infrastructure.path.")
    kind: str = Field(description="The hop's kind.")
    field: str = Field(description="Profile field that overrides the value, on that hop.")
    value: float = Field(description="The value assumed, in seconds.")
    reason: str = Field(description="Why it is an assumption.")


class PlanProblem(_Model):
    """A constraint the plan cannot meet. Any problem makes the plan unusable as it stands."""

    code: str = Field(description="Stable kebab-case identifier of the kind of problem.")
    message: str = Field(description="What cannot be met, with the numbers.")
    fix: str = Field(description="What the user can change to make a plan possible.")
    hop_index: int | None = Field(
        default=None, description="The hop at fault, as a position in infrastructure.path."
    )


class ReconnectPolicy(_Model):
    """Client reconnects: exponential backoff with full jitter.

    Attempt ``n`` (from 0) waits a uniformly random time in ``[0, min(cap_s, base_s * 2**n)]``;
    the attempt counter resets once a connection has stayed up for ``cap_s``.
    """

    jitter: Literal["full"] = Field(
        default="full", description="Full jitter: the whole delay is random, from 0."
    )
    base_s: float = Field(description="Upper bound of the first reconnect delay, in seconds.")
    cap_s: float = Field(description="Largest upper bound any reconnect delay reaches.")
    mass_disconnect_connections: int = Field(
        description="Connections that reconnect at once after a server restart or a dropped "
        "hop (scale.concurrent_connections)."
    )
    peak_reconnect_rate_per_s: float = Field(
        description="Expected new connections per second right after a mass disconnect: the "
        "connections spread over the first reconnect window (base_s)."
    )
    new_connection_limit_per_s: float | None = Field(
        description="The lowest known new-connection rate limit on the path, if any."
    )
    limited_by: str | None = Field(
        description="The hop whose new-connection limit set base_s, if one did."
    )
    accept_rate_per_s: float = Field(
        description="The new-connection rate base_s keeps the peak under (with headroom): the "
        "lowest of the path's documented limit and the servers' accept rate."
    )
    accept_rate_from: Literal["path", "profile", "assumed"] = Field(
        description="Where accept_rate_per_s comes from: a hop's documented limit, "
        "scale.accept_rate_per_s in the profile, or the planner's assumption (no measurement)."
    )


class PlannedReconnect(_Model):
    """A reconnect before a hop's lifetime limit ends the connection (no heartbeat helps)."""

    hop_index: int = Field(description="The hop with the shortest lifetime limit.")
    kind: str = Field(description="Its kind.")
    max_lifetime_s: float = Field(
        description="The lifetime limit planned for (after any raise the plan recommends)."
    )
    reconnect_after_min_s: float = Field(
        description="Open a replacement connection no earlier than this many seconds after "
        "connecting..."
    )
    reconnect_after_max_s: float = Field(
        description="...and no later than this; pick uniformly in between so connections "
        "opened together do not all rotate together. Open the new one before closing the old."
    )
    steady_reconnect_rate_per_s: float = Field(
        description="New connections per second caused by rotation alone, across all clients."
    )


class ReplayBuffer(_Model):
    """Server-side history so a reconnecting client can resume (delivery.resume)."""

    tolerated_outage_s: float = Field(
        description="Longest disconnection the plan lets a client recover from without loss: "
        "client detection bound + two reconnect caps, and at least 2 minutes."
    )
    events_per_connection: int = Field(
        description="Events to keep for one connection: its event rate x tolerated outage."
    )
    bytes_per_connection: int = Field(
        description="Bytes those events take (events x payload_bytes)."
    )
    shared_log_events: int = Field(
        description="Events a shared log (one per topic, events fanned out to fan_out "
        "receivers) must keep across all connections."
    )
    shared_log_bytes: int = Field(description="Bytes of that shared log.")


class LifetimePlan(_Model):
    """Heartbeats, hop timeouts and reconnect policy for one protocol over the profile's path.

    Check ``problems`` first: when it is not empty the constraints cannot all be met and the
    numbers only show how far off they are. ``assumptions`` lists values nobody confirmed.
    """

    protocol: Protocol = Field(description="The protocol planned.")
    heartbeat_interval_s: float = Field(
        description="The chosen heartbeat: WebSocket ping interval or SSE comment interval "
        "(for WebRTC, the signalling WebSocket's ping interval)."
    )
    heartbeat_bound_by: str = Field(description="What set the heartbeat, in words.")
    websocket: WebSocketPlan | None = Field(
        description="Settings of the WebSocket; present when protocol is websocket."
    )
    sse: SsePlan | None = Field(description="Settings of the SSE stream; present for sse.")
    webrtc: WebRtcPlan | None = Field(description="WebRTC needs; present for webrtc.")
    hops: tuple[HopPlan, ...] = Field(description="Each hop and what to set on it.")
    reconnect: ReconnectPolicy = Field(description="How clients reconnect.")
    planned_reconnect: PlannedReconnect | None = Field(
        description="Reconnects to plan before a hop's lifetime limit; None if no hop has one."
    )
    replay: ReplayBuffer | None = Field(
        description="Replay buffer for delivery.resume; None when resume is not required."
    )
    assumptions: tuple[Assumption, ...] = Field(
        description="Values assumed for hops whose defaults are unknown or unconfirmed."
    )
    problems: tuple[PlanProblem, ...] = Field(
        description="Constraints that cannot be met; empty when the plan is usable."
    )
    notes: tuple[str, ...] = Field(description="Advice that goes with the numbers.")
    note_ids: tuple[str, ...] = Field(
        default=(),
        description="Stable id of each note, in the order of notes: a row of "
        "selector/planner/notes.yaml, or one of the solver's computed notes (COMPUTED_NOTE_IDS).",
    )

    @property
    def feasible(self) -> bool:
        """True when every constraint can be met (``problems`` is empty)."""
        return not self.problems

    def hop(self, kind: str) -> HopPlan | None:
        """The first hop of ``kind`` on the path, if any."""
        return next((h for h in self.hops if h.kind == kind), None)
