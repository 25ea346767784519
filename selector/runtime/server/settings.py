"""Settings of the reference server, and where its heartbeat comes from.

Kept free of aiohttp so ``selector serve --help`` and the planner lookup stay light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from selector.runtime.protocol.fanout import DeliveryMode

if TYPE_CHECKING:
    from selector.planner.model import LifetimePlan
    from selector.profile import Profile

__all__ = [
    "DEFAULT_HEARTBEAT",
    "NO_HEARTBEAT",
    "Heartbeat",
    "PlannedSettings",
    "ServerSettings",
    "plan_for_profile",
    "settings_from_plans",
]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Liveness timings, in seconds."""

    #: WebSocket protocol ping (and application heartbeat event) interval; None: no pings,
    #: no heartbeat events and no reaping (the "naive" control of a verification run).
    ping_interval_s: float | None = 20.0
    #: A WebSocket peer that has not answered a ping after this long is reaped.
    pong_timeout_s: float = 10.0
    #: SSE comment heartbeat interval (the WHATWG spec suggests about 15 s); None: none.
    sse_comment_s: float | None = 15.0


#: No application heartbeat at all, as a naively deployed server runs.
NO_HEARTBEAT = Heartbeat(ping_interval_s=None, sse_comment_s=None)

#: Used when no profile is given or no planner is available: under the 60 s idle timeout of
#: nginx and AWS ALB by a wide margin (a proxy timeout of at least 1.5x the ping interval, the
#: margin the planner keeps).
DEFAULT_HEARTBEAT = Heartbeat()


@dataclass(frozen=True, slots=True)
class PlannedSettings:
    """What the lifetime planner says the server should use; None where it says nothing."""

    heartbeat: Heartbeat = DEFAULT_HEARTBEAT
    #: The SSE ``retry:`` window each stream's hint is drawn from (``plan.sse.retry_min_ms``
    #: to ``plan.sse.retry_ms``).
    sse_retry_ms: int | None = None
    sse_retry_min_ms: int | None = None
    #: How long a WebSocket closing handshake may take (``plan.websocket.close_timeout_s``).
    close_timeout_s: float | None = None
    #: Replay buffer bounds for ``delivery.resume`` (``plan.replay.*_per_connection``: the
    #: runtime broadcasts one stream, so a client's stream is the whole log).
    replay_max_events: int | None = None
    replay_max_bytes: int | None = None
    #: The plans' problems, prefixed with their protocol: show them, the numbers still apply.
    problems: tuple[str, ...] = ()


def plan_for_profile(profile: Profile) -> PlannedSettings:
    """The server's settings as ``selector.plan_lifetime`` plans them for the profile's
    WebSocket and SSE connections."""
    from selector.builtin import plan_lifetime

    return settings_from_plans(plan_lifetime(profile, "websocket"), plan_lifetime(profile, "sse"))


def _positive(value: float | None) -> float | None:
    return float(value) if value is not None and value > 0 else None


def settings_from_plans(ws_plan: LifetimePlan, sse_plan: LifetimePlan) -> PlannedSettings:
    """The server's settings from the planner's WebSocket and SSE lifetime plans: the ping
    interval, pong and close timeouts, the SSE comment interval and ``retry:`` window, and the
    replay bounds. A value the plans leave out or set to zero keeps its default."""
    ws = ws_plan.websocket
    sse = sse_plan.sse
    replay = ws_plan.replay
    d = DEFAULT_HEARTBEAT
    heartbeat = Heartbeat(
        ping_interval_s=_positive(ws.ping_interval_s if ws else None) or d.ping_interval_s,
        pong_timeout_s=_positive(ws.pong_timeout_s if ws else None) or d.pong_timeout_s,
        sse_comment_s=_positive(sse.heartbeat_interval_s if sse else None) or d.sse_comment_s,
    )
    retry = sse.retry_ms if sse and sse.retry_ms > 0 else None
    events = replay.events_per_connection if replay and replay.events_per_connection > 0 else None
    size = replay.bytes_per_connection if replay and replay.bytes_per_connection > 0 else None
    return PlannedSettings(
        heartbeat=heartbeat,
        sse_retry_ms=retry,
        sse_retry_min_ms=sse.retry_min_ms
        if sse and retry and 0 <= sse.retry_min_ms <= retry
        else None,
        close_timeout_s=_positive(ws.close_timeout_s if ws else None),
        replay_max_events=events,
        # The buffer holds each event twice (WS and SSE encodings) plus ~64 bytes of framing
        # and envelope, while the plan counts payload bytes.
        replay_max_bytes=2 * size + 64 * (events or 0) if size else None,
        problems=tuple(
            f"{plan.protocol}: {problem.message}"
            for plan in (ws_plan, sse_plan)
            for problem in plan.problems
        ),
    )


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Everything the reference server can be configured with (``selector serve`` flags)."""

    host: str = "127.0.0.1"
    port: int = 8765
    heartbeat: Heartbeat = DEFAULT_HEARTBEAT
    #: SQLite file for durable state (WAL); None keeps state in memory only.
    state_path: str | None = None
    #: Bearer tokens, any of which is required on /ws, /sse, /mutations, /publish, /state and
    #: /echo when set; a client id claimed under one token refuses the others.
    tokens: tuple[str, ...] = ()
    #: Bounds of the per-client ledger (marks and claims): past ``max_client_ids`` ids, or
    #: after ``client_idle_s`` without a mutation or stream, the least recently active id is
    #: forgotten (see docs/wire-contract.md, "Eviction").
    max_client_ids: int = 100_000
    client_idle_s: float = 30 * 24 * 3600.0
    #: Browser origins (``scheme://host[:port]``) allowed besides the server's own.
    allowed_origins: tuple[str, ...] = ()
    #: Origins the server is reached at (``https://example.com`` behind a proxy): same-origin
    #: for browsers, and their hosts are allowed ``Host`` values.
    public_origins: tuple[str, ...] = ()
    #: ``Host`` values (``host[:port]``) allowed besides the bound address and ``localhost``.
    allowed_hosts: tuple[str, ...] = ()
    #: Proxy addresses or networks whose ``X-Forwarded-For`` names the client.
    trusted_proxies: tuple[str, ...] = ()
    #: Largest WebSocket message or POST body (inclusive); one byte more closes with 1009.
    max_message_bytes: int = 64 * 1024
    #: Concurrent WS + SSE (+ /echo) connections per client IP (high enough for loopback
    #: benchmarks).
    max_connections_per_ip: int = 4096
    #: Open TCP connections in all, counted from accept; more are answered 503 and closed.
    max_connections: int = 10_000
    #: A connection that has not sent complete request headers this long after accept (or
    #: after its last response: the keep-alive idle timeout) is closed.
    header_timeout_s: float = 15.0
    #: Serve ``/echo`` (a plain WebSocket echo for conformance suites).
    echo: bool = False
    #: Replay buffer bounds.
    replay_max_events: int = 1000
    replay_max_bytes: int = 4 * 1024 * 1024
    #: Probe arrivals ``/rtc/log`` keeps (the newest): a verification run sends a few
    #: thousand, and a peer that floods probes cannot grow the server's memory past this.
    rtc_log_max_entries: int = 100_000
    #: Per-subscriber outbound queue bounds, and what happens when a consumer exceeds them.
    queue_max_frames: int = 1000
    queue_max_bytes: int = 1024 * 1024
    delivery: DeliveryMode = "reliable"
    #: Largest single SSE write: coalescing must not buy throughput with latency.
    sse_batch_max_bytes: int = 16 * 1024
    #: ``retry:`` hint sent at the start of every SSE stream; with ``sse_retry_min_ms`` the
    #: top of a window each stream's own hint is drawn from, uniformly.
    sse_retry_ms: int = 2000
    sse_retry_min_ms: int | None = None
    #: On graceful shutdown clients are told to come back after this long, spread by up to
    #: ``shutdown_retry_spread_ms`` more per client so they do not all return at once.
    shutdown_retry_after_ms: int = 1000
    shutdown_retry_spread_ms: int = 2000
    #: How long a closing handshake may take before the transport is dropped.
    close_timeout_s: float = 2.0
