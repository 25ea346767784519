"""The planner's closed vocabularies, importable without pydantic (the CLI builds its
``--help`` from them)."""

from __future__ import annotations

__all__ = ["CONFIG_TARGETS", "HEARTBEAT_MECHANISMS"]

#: How a team's heartbeat travels. Only data the hops see (a WebSocket frame, SSE bytes, an
#: application message) keeps every hop's idle timer from firing.
HEARTBEAT_MECHANISMS: tuple[str, ...] = (
    "ws-ping",
    "sse-comment",
    "app-message",
    "http2-ping",
    "tcp-keepalive",
)

#: Proxies ``selector config`` writes configuration for.
CONFIG_TARGETS: tuple[str, ...] = ("nginx", "haproxy", "envoy", "ingress_nginx", "aws_alb")
