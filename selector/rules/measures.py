"""Measures: a closed set of quantities derived from a profile's facts, with their derivation.

A rationale quotes a measure with a ``{measure.NAME}`` placeholder and prints the derivation,
not just the number ("POST headers ~420 B for a 300 B payload at 12/s: 1.4x the payload"),
so a reader can check the arithmetic. Pure functions of the facts; the figures they use are
documented constants with their source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MEASURES",
    "POST_HEADERS_H1_BYTES",
    "POST_HEADERS_H2_BYTES",
    "RECONNECT_SPREAD_S",
    "Measure",
    "measure_text",
]

#: Request plus response headers of a small authenticated POST over HTTP/1.1 (request line,
#: Host, Content-Type, Content-Length, Cookie or Authorization, response status line, Date,
#: Content-Type, Content-Length): a few hundred bytes, RFC 9110/9112 syntax.
POST_HEADERS_H1_BYTES = 420
#: The same headers over HTTP/2 once HPACK's dynamic table holds them (RFC 7541): a few dozen
#: bytes of indexed fields, plus 9-byte frame headers each way (RFC 9113, section 4.1).
POST_HEADERS_H2_BYTES = 60
#: WebSocket frame header of a small client frame: 2 bytes plus the 4-byte masking key
#: (RFC 6455, section 5.2).
WS_CLIENT_FRAME_BYTES = 6
#: Window over which reconnecting clients are assumed to spread after a mass drop (jittered
#: exponential backoff, as the lifetime planner recommends).
RECONNECT_SPREAD_S = 30.0


def _num(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _post_headers(facts: Mapping[str, Any]) -> int:
    return (
        POST_HEADERS_H1_BYTES
        if facts["infrastructure.http_version"] == "1.1"
        else POST_HEADERS_H2_BYTES
    )


def _post_overhead(facts: Mapping[str, Any]) -> tuple[float, str]:
    payload = facts["traffic.client_to_server.payload_bytes"]
    rate = facts["traffic.client_to_server.rate_hz"]
    headers = _post_headers(facts)
    ratio = headers / payload if payload else 0.0
    version = facts["infrastructure.http_version"]
    return ratio, (
        f"POST headers ~{headers} B over HTTP/{version} for a {_num(payload)} B payload at "
        f"{_num(rate)}/s: {ratio:.1f}x the payload, where a WebSocket frame adds "
        f"{WS_CLIENT_FRAME_BYTES} B"
    )


def _post_requests(facts: Mapping[str, Any]) -> tuple[float, str]:
    rate = facts["traffic.client_to_server.rate_hz"]
    connections = facts["scale.concurrent_connections"]
    total = rate * connections
    return total, (
        f"{_num(rate)} POST/s per client x {_num(connections)} clients = {_num(total)} HTTP "
        f"requests/s to route, authenticate and log"
    )


def _fan_out_bytes(facts: Mapping[str, Any]) -> tuple[float, str]:
    rate = facts["traffic.server_to_client.rate_hz"]
    payload = facts["traffic.server_to_client.payload_bytes"]
    connections = facts["scale.concurrent_connections"]
    total = rate * payload * connections
    return total, (
        f"{_num(rate)}/s x {_num(payload)} B x {_num(connections)} connections = "
        f"{_num(total / 1e6)} MB/s of payload leaving the servers"
    )


def _reconnects(facts: Mapping[str, Any]) -> tuple[float, str]:
    connections = facts["scale.concurrent_connections"]
    per_s = connections / RECONNECT_SPREAD_S
    return per_s, (
        f"{_num(connections)} connections reconnecting over ~{_num(RECONNECT_SPREAD_S)} s after "
        f"a mass drop = {_num(round(per_s))} handshakes/s"
    )


@dataclass(frozen=True, slots=True)
class Measure:
    """One derived quantity: its unit, meaning and how to compute it with its derivation."""

    unit: str
    description: str
    compute: Callable[[Mapping[str, Any]], tuple[float, str]]


#: The closed set of measures a rationale may quote as ``{measure.NAME}``.
MEASURES: dict[str, Measure] = {
    "measure.post_overhead_ratio": Measure(
        "ratio",
        "HTTP POST header bytes per upstream message over its payload (SSE + POST design).",
        _post_overhead,
    ),
    "measure.post_requests_per_s": Measure(
        "requests/s",
        "HTTP requests per second an SSE + POST design costs at full scale.",
        _post_requests,
    ),
    "measure.fan_out_bytes_per_s": Measure(
        "bytes/s", "Server-to-client payload bytes per second at full scale.", _fan_out_bytes
    ),
    "measure.reconnects_per_s": Measure(
        "handshakes/s",
        "Reconnections per second after every connection drops at once.",
        _reconnects,
    ),
}


def measure_text(name: str, facts: Mapping[str, Any]) -> str:
    """The derivation of measure ``name`` on ``facts``, as a rationale quotes it."""
    return MEASURES[name].compute(facts)[1]
