"""Settings of the reference server, and where its heartbeat comes from.

Kept free of aiohttp so ``selector serve --help`` and the planner lookup stay light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from selector.runtime.protocol.fanout import DeliveryMode

if TYPE_CHECKING:
    from selector.profile import Profile

__all__ = ["DEFAULT_HEARTBEAT", "Heartbeat", "ServerSettings", "heartbeat_for_profile"]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Liveness timings, in seconds."""

    #: WebSocket protocol ping (and application heartbeat event) interval.
    ping_interval_s: float = 20.0
    #: A WebSocket peer that has not answered a ping after this long is reaped.
    pong_timeout_s: float = 10.0
    #: SSE comment heartbeat interval (the WHATWG spec suggests about 15 s).
    sse_comment_s: float = 15.0


#: Used when no profile is given or no planner is available: under the 60 s idle timeout of
#: nginx and AWS ALB by a wide margin (the seed's rule: timeout >= 1.5 x ping interval).
DEFAULT_HEARTBEAT = Heartbeat()


def heartbeat_for_profile(profile: Profile) -> tuple[Heartbeat, list[str]]:
    """The heartbeat the lifetime planner computes for ``profile``, and the plan's problems.

    Uses ``selector.planner.plan_lifetime(profile, protocol)`` for ``"websocket"`` and
    ``"sse"``; without the planner (it ships separately) the defaults, and no problems.
    A plan with problems still gives its numbers: the caller should show the problems.
    """
    try:
        from selector.planner import plan_lifetime  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return DEFAULT_HEARTBEAT, []
    ws_plan = plan_lifetime(profile, "websocket")
    sse_plan = plan_lifetime(profile, "sse")
    return heartbeat_from_plans(ws_plan, sse_plan), problem_messages(ws_plan, sse_plan)


def _seconds(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return default


def heartbeat_from_plans(ws_plan: Any, sse_plan: Any) -> Heartbeat:
    """Read ``plan.websocket.ping_interval_s``/``pong_timeout_s`` and
    ``plan.sse.heartbeat_interval_s`` from two lifetime plans (the planner's
    ``LifetimePlan``); any value missing or not positive keeps its default."""
    ws = getattr(ws_plan, "websocket", None)
    sse = getattr(sse_plan, "sse", None)
    d = DEFAULT_HEARTBEAT
    return Heartbeat(
        ping_interval_s=_seconds(getattr(ws, "ping_interval_s", None), d.ping_interval_s),
        pong_timeout_s=_seconds(getattr(ws, "pong_timeout_s", None), d.pong_timeout_s),
        sse_comment_s=_seconds(getattr(sse, "heartbeat_interval_s", None), d.sse_comment_s),
    )


def problem_messages(*plans: Any) -> list[str]:
    """The ``problems[].message`` of lifetime plans, prefixed with their protocol."""
    return [
        f"{getattr(plan, 'protocol', '?')}: {getattr(problem, 'message', problem)}"
        for plan in plans
        for problem in getattr(plan, "problems", ())
    ]


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Everything the reference server can be configured with (``selector serve`` flags)."""

    host: str = "127.0.0.1"
    port: int = 8765
    heartbeat: Heartbeat = DEFAULT_HEARTBEAT
    #: SQLite file for durable state (WAL); None keeps state in memory only.
    state_path: str | None = None
    #: Bearer token required on /ws, /sse, /mutations, /publish and /state when set.
    token: str | None = None
    #: Browser origins (``scheme://host[:port]``) allowed besides the server's own.
    allowed_origins: tuple[str, ...] = ()
    #: Largest WebSocket message or POST body; a bigger WS message closes with 1009.
    max_message_bytes: int = 64 * 1024
    #: Concurrent WS + SSE connections per client IP (high enough for loopback benchmarks).
    max_connections_per_ip: int = 4096
    #: Replay buffer bounds.
    replay_max_events: int = 1000
    replay_max_bytes: int = 4 * 1024 * 1024
    #: Per-subscriber outbound queue bounds, and what happens when a consumer exceeds them.
    queue_max_frames: int = 1000
    queue_max_bytes: int = 1024 * 1024
    delivery: DeliveryMode = "reliable"
    #: Largest single SSE write: coalescing must not buy throughput with latency.
    sse_batch_max_bytes: int = 16 * 1024
    #: ``retry:`` hint sent at the start of every SSE stream.
    sse_retry_ms: int = 2000
    #: On graceful shutdown clients are told to come back after this long, spread by up to
    #: ``shutdown_retry_spread_ms`` more per client so they do not all return at once.
    shutdown_retry_after_ms: int = 1000
    shutdown_retry_spread_ms: int = 2000
    #: How long a closing handshake may take before the transport is dropped.
    close_timeout_s: float = 2.0
