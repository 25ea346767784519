"""Measures: a closed set of quantities derived from a profile's facts, with their derivation.

A rationale quotes a measure with a ``{measure.NAME}`` placeholder and prints the derivation,
not just the number ("POST headers ~420 B for a 300 B payload at 12/s: 1.4x the payload"),
so a reader can check the arithmetic. Pure functions of the facts; the figures they use are
documented constants with their source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from selector.rules.values import Facts, number

__all__ = [
    "BROWSER_CONNECTIONS_PER_ORIGIN",
    "DEPENDENT_MEASURES",
    "MEASURES",
    "MEASURE_OPERATORS",
    "POST_HEADERS_H1_BYTES",
    "POST_HEADERS_H2_BYTES",
    "RECONNECT_SPREAD_S",
    "Lever",
    "Measure",
    "measure_text",
    "measure_values",
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
#: Connections a browser opens to one origin over HTTP/1.1 (Chromium, Firefox and Safari alike;
#: MDN's EventSource page warns that SSE streams count against it across all tabs).
BROWSER_CONNECTIONS_PER_ORIGIN = 6
#: Window over which reconnecting clients are assumed to spread after a mass drop (jittered
#: exponential backoff, as the lifetime planner recommends).
RECONNECT_SPREAD_S = 30.0


def _num(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _post_headers(facts: Facts) -> int:
    return (
        POST_HEADERS_H1_BYTES
        if facts["infrastructure.http_version"] == "1.1"
        else POST_HEADERS_H2_BYTES
    )


def _post_overhead(facts: Facts) -> tuple[float, str]:
    payload = number(facts, "traffic.client_to_server.payload_bytes")
    rate = number(facts, "traffic.client_to_server.rate_hz")
    headers = _post_headers(facts)
    ratio = headers / payload if payload else 0.0
    version = facts["infrastructure.http_version"]
    return ratio, (
        f"POST headers ~{headers} B over HTTP/{version} for a {_num(payload)} B payload at "
        f"{_num(rate)}/s: {ratio:.1f}x the payload, where a WebSocket frame adds "
        f"{WS_CLIENT_FRAME_BYTES} B"
    )


def _post_requests(facts: Facts) -> tuple[float, str]:
    rate = number(facts, "traffic.client_to_server.rate_hz")
    connections = number(facts, "scale.concurrent_connections")
    share = number(facts, "traffic.client_to_server.sending_share")
    total = rate * connections * share
    clients = f"{_num(connections)} clients"
    if share < 1:
        clients = f"{_num(connections * share)} sending clients ({_num(share)} of {clients})"
    return total, (
        f"{_num(rate)} POST/s per client x {clients} = {_num(total)} HTTP "
        f"requests/s to route, authenticate and log"
    )


def _fan_out_bytes(facts: Facts) -> tuple[float, str]:
    rate = number(facts, "traffic.server_to_client.rate_hz")
    payload = number(facts, "traffic.server_to_client.payload_bytes")
    connections = number(facts, "scale.concurrent_connections")
    total = rate * payload * connections
    return total, (
        f"{_num(rate)}/s x {_num(payload)} B x {_num(connections)} connections = "
        f"{_num(total / 1e6)} MB/s of payload leaving the servers"
    )


def _client_bytes(direction: str) -> Callable[[Facts], tuple[float, str]]:
    def compute(facts: Facts) -> tuple[float, str]:
        rate = number(facts, f"traffic.{direction}.rate_hz")
        payload = number(facts, f"traffic.{direction}.payload_bytes")
        total = float(rate * payload)
        return total, f"{_num(rate)}/s x {_num(payload)} B = {_num(total)} B/s per client"

    return compute


def _product(facts: Facts, names: tuple[str, ...]) -> float:
    """The product of the number facts ``names``, left to right from 1.0 (most measures are
    such a product)."""
    total = 1.0
    for name in names:
        total *= number(facts, name)
    return total


def _client_bytes_value(direction: str) -> Callable[[Facts], float]:
    names = (f"traffic.{direction}.rate_hz", f"traffic.{direction}.payload_bytes")
    return lambda facts: _product(facts, names)


def _receive_only(facts: Facts) -> tuple[float, str]:
    connections = number(facts, "scale.concurrent_connections")
    share = number(facts, "traffic.client_to_server.sending_share")
    receiving = connections * (1 - share)
    return receiving, (
        f"{_num(connections)} connections x (1 - {_num(share)} that send) = "
        f"{_num(receiving)} connections that only receive"
    )


def _receive_only_value(facts: Facts) -> float:
    return float(
        number(facts, "scale.concurrent_connections")
        * (1 - number(facts, "traffic.client_to_server.sending_share"))
    )


def _reconnects(facts: Facts) -> tuple[float, str]:
    connections = number(facts, "scale.concurrent_connections")
    per_s = connections / RECONNECT_SPREAD_S
    return per_s, (
        f"{_num(connections)} connections reconnecting over ~{_num(RECONNECT_SPREAD_S)} s after "
        f"a mass drop = {_num(round(per_s))} handshakes/s"
    )


def _origin_connections(facts: Facts) -> tuple[float, str]:
    streams = number(facts, "scale.streams_per_client")
    left = max(BROWSER_CONNECTIONS_PER_ORIGIN - streams, 0)
    return float(streams), (
        f"{_num(streams)} streams hold {_num(streams)} of the {BROWSER_CONNECTIONS_PER_ORIGIN} "
        f"HTTP/1.1 connections a browser opens to one origin, leaving {_num(left)} for page "
        f"loads, API requests and other tabs"
    )


def _ratio_value(facts: Facts) -> float:
    payload = number(facts, "traffic.client_to_server.payload_bytes")
    return _post_headers(facts) / payload if payload else 0.0


_REQUESTS = (
    "traffic.client_to_server.rate_hz",
    "scale.concurrent_connections",
    "traffic.client_to_server.sending_share",
)
_FAN_OUT = (
    "traffic.server_to_client.rate_hz",
    "traffic.server_to_client.payload_bytes",
    "scale.concurrent_connections",
)


def _requests_value(facts: Facts) -> float:
    return _product(facts, _REQUESTS)


def _fan_out_value(facts: Facts) -> float:
    return _product(facts, _FAN_OUT)


def _reconnects_value(facts: Facts) -> float:
    return float(number(facts, "scale.concurrent_connections") / RECONNECT_SPREAD_S)


def _solve_product(name: str, *others: str) -> Callable[[Facts, float], float | None]:
    """For a measure that is ``name`` times ``others``: the value of ``name`` at which the
    measure equals a threshold, the others held; ``None`` when they are 0 (no value will)."""

    def solve(facts: Facts, threshold: float) -> float | None:
        rest = _product(facts, others)
        return threshold / rest if rest else None

    return solve


def _solve_payload_for_ratio(facts: Facts, threshold: float) -> float | None:
    return _post_headers(facts) / threshold if threshold > 0 else None


@dataclass(frozen=True, slots=True)
class Lever:
    """A number fact a measure grows or shrinks with, the other facts held.

    Tipping-point search uses it to turn a threshold on the measure into a threshold on the
    fact a user can edit: ``solve(facts, t)`` is the fact's value at which the measure equals
    ``t``; ``increasing`` says on which side the measure exceeds ``t``.
    """

    fact: str
    increasing: bool
    solve: Callable[[Facts, float], float | None]


def _product_levers(*factors: str) -> tuple[Lever, ...]:
    """The levers of a measure that is the product of ``factors``: each grows it, the others
    held."""
    return tuple(
        Lever(fact, True, _solve_product(fact, *(other for other in factors if other != fact)))
        for fact in factors
    )


@dataclass(frozen=True, slots=True)
class Measure:
    """One derived quantity: its unit, meaning and how to compute it with its derivation.

    ``value`` is the number alone (what conditions and graded effects read, computed once per
    profile); ``compute`` adds the derivation a rationale prints. ``inputs`` are every fact
    ``value`` reads; ``levers`` the number facts among them, each monotonic.
    """

    unit: str
    description: str
    compute: Callable[[Facts], tuple[float, str]]
    value: Callable[[Facts], float]
    inputs: tuple[str, ...]
    levers: tuple[Lever, ...]


_UP_RATE = "traffic.client_to_server.rate_hz"
_UP_PAYLOAD = "traffic.client_to_server.payload_bytes"
_DOWN_RATE = "traffic.server_to_client.rate_hz"
_DOWN_PAYLOAD = "traffic.server_to_client.payload_bytes"
_CONNECTIONS = "scale.concurrent_connections"
_SENDING = "traffic.client_to_server.sending_share"

#: The closed set of measures a rationale may quote as ``{measure.NAME}``, a condition may
#: compare (``{measure: NAME, gt: 2}``) and a graded effect may read.
MEASURES: dict[str, Measure] = {
    "measure.post_overhead_ratio": Measure(
        "ratio",
        "HTTP POST header bytes per upstream message over its payload (SSE + POST design).",
        _post_overhead,
        _ratio_value,
        (_UP_PAYLOAD, "infrastructure.http_version"),
        (Lever(_UP_PAYLOAD, False, _solve_payload_for_ratio),),
    ),
    "measure.post_requests_per_s": Measure(
        "requests/s",
        "HTTP requests per second an SSE + POST design costs at full scale.",
        _post_requests,
        _requests_value,
        (_UP_RATE, _CONNECTIONS, _SENDING),
        _product_levers(_UP_RATE, _CONNECTIONS, _SENDING),
    ),
    "measure.receive_only_connections": Measure(
        "connections",
        "Connections that only receive: those beyond traffic.client_to_server.sending_share.",
        _receive_only,
        _receive_only_value,
        (_CONNECTIONS, _SENDING),
        # The share alone: while every connection sends (a share of 1, every v1 file), no
        # number of connections makes one of them receive-only.
        (Lever(_SENDING, False, lambda facts, t: 1 - t / number(facts, _CONNECTIONS)),),
    ),
    "measure.fan_out_bytes_per_s": Measure(
        "bytes/s",
        "Server-to-client payload bytes per second at full scale.",
        _fan_out_bytes,
        _fan_out_value,
        (_DOWN_RATE, _DOWN_PAYLOAD, _CONNECTIONS),
        _product_levers(_DOWN_RATE, _DOWN_PAYLOAD, _CONNECTIONS),
    ),
    "measure.client_upload_bytes_per_s": Measure(
        "bytes/s",
        "Client-to-server payload bytes per second from one client.",
        _client_bytes("client_to_server"),
        _client_bytes_value("client_to_server"),
        (_UP_RATE, _UP_PAYLOAD),
        _product_levers(_UP_RATE, _UP_PAYLOAD),
    ),
    "measure.client_download_bytes_per_s": Measure(
        "bytes/s",
        "Server-to-client payload bytes per second to one client.",
        _client_bytes("server_to_client"),
        _client_bytes_value("server_to_client"),
        (_DOWN_RATE, _DOWN_PAYLOAD),
        _product_levers(_DOWN_RATE, _DOWN_PAYLOAD),
    ),
    "measure.origin_connections_held": Measure(
        "connections",
        "Connections to the origin one user's SSE streams hold, of the "
        f"{BROWSER_CONNECTIONS_PER_ORIGIN} a browser opens per origin over HTTP/1.1.",
        _origin_connections,
        lambda facts: float(number(facts, "scale.streams_per_client")),
        ("scale.streams_per_client",),
        (Lever("scale.streams_per_client", True, lambda facts, t: t),),
    ),
    "measure.reconnects_per_s": Measure(
        "handshakes/s",
        "Reconnections per second after every connection drops at once.",
        _reconnects,
        _reconnects_value,
        (_CONNECTIONS,),
        (Lever(_CONNECTIONS, True, lambda facts, t: t * RECONNECT_SPREAD_S),),
    ),
}

#: Operators a condition may compare a measure with: a measure is a continuous quantity, so
#: only thresholds (an ``eq`` on a product of floats would be an accident).
MEASURE_OPERATORS: tuple[str, ...] = ("gt", "ge", "lt", "le")

#: Measure names by the fact they read: what to recompute when a what-if changes that fact.
DEPENDENT_MEASURES: dict[str, tuple[str, ...]] = {}
for _name, _measure in MEASURES.items():
    for _input in _measure.inputs:
        DEPENDENT_MEASURES[_input] = (*DEPENDENT_MEASURES.get(_input, ()), _name)


def measure_values(facts: Facts) -> dict[str, float]:
    """The value of every measure on ``facts``, keyed by measure name."""
    return {name: measure.value(facts) for name, measure in MEASURES.items()}


def measure_text(name: str, facts: Facts) -> str:
    """The derivation of measure ``name`` on ``facts``, as a rationale quotes it."""
    return MEASURES[name].compute(facts)[1]
