"""Facts: the flat, named values of a profile that rule conditions and rationales may use.

A fact name is the dotted path of a profile field (``traffic.client_to_server.rate_hz``), or,
for the few values a profile holds only indirectly, a documented derived name
(``infrastructure.hop_kinds``). Facts are plain Python values in a plain ``dict``, so scoring
and tipping-point search never touch pydantic: a what-if change is one dictionary assignment.

An absent traffic direction reads as rate 0 and payload 0, which is what the rules need
("no upstream"); rationales only quote a direction's values when it carries messages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from selector.profile import (
    HOP_KINDS,
    AuthStyle,
    ClientKind,
    Delivery,
    Hosting,
    Infrastructure,
    ManagedProtocol,
    Profile,
    Traffic,
    Upstream,
)
from selector.rules.measures import MEASURES
from selector.rules.values import FactValue

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "FACTS",
    "Fact",
    "FactKind",
    "derive_uncontrollable",
    "format_fact",
    "profile_facts",
]

FactKind = Literal["number", "bool", "enum", "set"]


@dataclass(frozen=True, slots=True)
class Fact:
    """What a fact holds: its kind, allowed values and bounds (for tipping-point search)."""

    kind: FactKind
    description: str
    #: Allowed values of an ``enum`` fact, or allowed members of a ``set`` fact.
    choices: tuple[str, ...] = ()
    #: Smallest valid value of a ``number`` fact.
    minimum: float = 0.0
    #: Whether ``minimum`` itself is excluded (``gt`` rather than ``ge`` in the profile).
    exclusive_minimum: bool = False
    #: Largest valid value of a ``number`` fact (a share's 1).
    maximum: float = math.inf
    integer: bool = False
    #: Whether the fact is computed from several fields rather than read from one.
    derived: bool = False


def _choices(model: type[BaseModel], field: str) -> tuple[str, ...]:
    return tuple(get_args(model.model_fields[field].annotation))


FACTS: dict[str, Fact] = {
    "traffic.server_to_client.rate_hz": Fact(
        "number", "Server-to-client messages per second per connection (0 when absent)."
    ),
    "traffic.server_to_client.payload_bytes": Fact(
        "number", "Server-to-client message size in bytes (0 when absent).", integer=True
    ),
    "traffic.server_to_client.client_acks": Fact(
        "bool", "The client must acknowledge each server message (false when absent)."
    ),
    "traffic.server_to_client.per_request": Fact(
        "bool",
        "Each server stream answers one client request and ends with it (false when absent).",
    ),
    "traffic.client_to_server.rate_hz": Fact(
        "number", "Client-to-server messages per second per connection (0 when absent)."
    ),
    "traffic.client_to_server.payload_bytes": Fact(
        "number", "Client-to-server message size in bytes (0 when absent).", integer=True
    ),
    "traffic.client_to_server.needs_ack": Fact(
        "bool", "Each client message must be acknowledged (false when absent)."
    ),
    "traffic.client_to_server.channel": Fact(
        "enum",
        "Whether client messages travel in-band on the connection or as separate requests.",
        _choices(Upstream, "channel"),
    ),
    "traffic.client_to_server.sending_share": Fact(
        "number",
        "Share of the connections that send client messages (1, every connection, when not "
        "stated or with no client messages).",
        exclusive_minimum=True,
        maximum=1.0,
    ),
    "traffic.client_to_server.channel_stated": Fact(
        "bool",
        "Whether the profile states traffic.client_to_server.channel (false when it leaves it to "
        "its default, as every version 1 file does, or has no client messages; derived).",
        derived=True,
    ),
    "traffic.encoding": Fact("enum", "Text or binary payloads.", _choices(Traffic, "encoding")),
    "delivery.guarantee": Fact(
        "enum", "Delivery guarantee the application needs.", _choices(Delivery, "guarantee")
    ),
    "delivery.latency_p99_ms": Fact(
        "number", "Latency budget at the 99th percentile, ms.", exclusive_minimum=True
    ),
    "delivery.resume": Fact("bool", "Clients must recover messages missed while disconnected."),
    "media": Fact("enum", "Real-time audio or video.", _choices(Profile, "media")),
    "topology": Fact("enum", "Client-server or peer-to-peer.", _choices(Profile, "topology")),
    "clients": Fact("set", "Kinds of client.", get_args(ClientKind)),
    "auth": Fact("enum", "How clients authenticate the connection.", get_args(AuthStyle)),
    "scale.concurrent_connections": Fact(
        "number", "Concurrent connections at peak.", minimum=1, integer=True
    ),
    "scale.fan_out": Fact("number", "Receivers of each server event.", minimum=1, integer=True),
    "scale.streams_per_client": Fact(
        "number", "Streams one user opens to the same origin.", minimum=1, integer=True
    ),
    "infrastructure.timeout_control": Fact(
        "enum",
        "Which hops' timeouts the operator controls.",
        _choices(Infrastructure, "timeout_control"),
    ),
    "infrastructure.http_version": Fact(
        "enum",
        "HTTP version browsers use to reach the origin.",
        _choices(Infrastructure, "http_version"),
    ),
    "infrastructure.udp_allowed": Fact("bool", "Clients can reach the servers over UDP."),
    "infrastructure.serverless": Fact(
        "bool",
        "The backend cannot hold long-lived connections (hosting is not long_lived_servers).",
    ),
    "infrastructure.hosting": Fact(
        "enum",
        "Who holds the real-time connections (absent: derived from serverless).",
        get_args(Hosting),
    ),
    "infrastructure.managed_protocols": Fact(
        "set",
        "Protocols the managed socket service holds (websocket when not stated).",
        get_args(ManagedProtocol),
    ),
    "infrastructure.restrictive_networks": Fact(
        "bool", "Clients sit behind corporate proxies or inspecting middleboxes."
    ),
    "infrastructure.hop_kinds": Fact(
        "set", "Kinds of the hops on the path (derived).", HOP_KINDS, derived=True
    ),
    "infrastructure.uncontrollable_hop_kinds": Fact(
        "set",
        "Kinds of the hops whose timeouts the operator cannot change (derived).",
        HOP_KINDS,
        derived=True,
    ),
    "infrastructure.buffering_hop_kinds": Fact(
        "set",
        "Kinds of the hops that buffer streamed responses, beyond anyone's control (derived).",
        HOP_KINDS,
        derived=True,
    ),
}


def derive_uncontrollable(
    infrastructure: Infrastructure, timeout_control: str, *, without: str | None = None
) -> frozenset[str]:
    """Kinds of the hops the operator cannot reconfigure under ``timeout_control``, leaving
    out the hops of kind ``without`` if given (a path with those hops taken off).

    Worked out on ``infrastructure`` itself, not on a ``model_copy`` with the other setting or
    path: tipping-point search asks this for each other setting and for each hop kind taken
    off (recommend() 1,736,471 -> 1,724,999 instructions, bench/engine_instructions.sh)."""
    return frozenset(
        [
            h.kind
            for h in infrastructure.path
            if h.kind != without and not infrastructure.hop_controllable(h, timeout_control)
        ]
    )


def derive_buffering(
    infrastructure: Infrastructure, *, without: str | None = None
) -> frozenset[str]:
    """Kinds of the hops that buffer streamed responses (``buffers_streams``), leaving out the
    hops of kind ``without`` if given (a path with those hops taken off)."""
    return frozenset(
        [h.kind for h in infrastructure.path if h.buffers_streams and h.kind != without]
    )


def profile_facts(profile: Profile) -> dict[str, FactValue]:
    """The facts of ``profile``: one entry per name in :data:`FACTS`, then the value of each
    measure (:data:`selector.rules.measures.MEASURES`) by its name, computed once here so that
    conditions and graded effects read it like any other fact."""
    down = profile.traffic.server_to_client
    up = profile.traffic.client_to_server
    infra = profile.infrastructure
    # A property, read once, and each model reached once: pydantic's __getattr__ hook makes
    # every attribute read cost (with recommend()'s protocol slots from a dict:
    # 1,699,083 and 1,703,788 in two runs -> 1,695,175 instructions per recommend()).
    hosting = infra.effective_hosting
    delivery, scale = profile.delivery, profile.scale
    facts: dict[str, FactValue] = {
        "traffic.server_to_client.rate_hz": down.rate_hz if down else 0.0,
        "traffic.server_to_client.payload_bytes": down.payload_bytes if down else 0,
        "traffic.server_to_client.client_acks": down.client_acks if down else False,
        "traffic.server_to_client.per_request": down.per_request if down else False,
        "traffic.client_to_server.rate_hz": up.rate_hz if up else 0.0,
        "traffic.client_to_server.payload_bytes": up.payload_bytes if up else 0,
        "traffic.client_to_server.needs_ack": up.needs_ack if up else False,
        "traffic.client_to_server.channel": up.channel if up else "separate_requests",
        "traffic.client_to_server.sending_share": up.sending_share if up else 1.0,
        "traffic.client_to_server.channel_stated": up is not None
        and "channel" in up.model_fields_set,
        "traffic.encoding": profile.traffic.encoding,
        "delivery.guarantee": delivery.guarantee,
        "delivery.latency_p99_ms": delivery.latency_p99_ms,
        "delivery.resume": delivery.resume,
        "media": profile.media,
        "topology": profile.topology,
        "clients": frozenset(profile.clients),
        "auth": profile.auth,
        "scale.concurrent_connections": scale.concurrent_connections,
        "scale.fan_out": scale.fan_out,
        "scale.streams_per_client": scale.streams_per_client,
        "infrastructure.timeout_control": infra.timeout_control,
        "infrastructure.http_version": infra.http_version,
        "infrastructure.udp_allowed": infra.udp_allowed,
        "infrastructure.serverless": hosting != "long_lived_servers",
        "infrastructure.hosting": hosting,
        "infrastructure.managed_protocols": frozenset(infra.effective_managed_protocols),
        "infrastructure.restrictive_networks": infra.restrictive_networks,
        "infrastructure.hop_kinds": frozenset(h.kind for h in infra.path),
        "infrastructure.uncontrollable_hop_kinds": derive_uncontrollable(
            infra, infra.timeout_control
        ),
        "infrastructure.buffering_hop_kinds": derive_buffering(infra),
    }
    for name, measure in MEASURES.items():
        facts[name] = measure.value(facts)
    return facts


#: A tuple, not ``frozenset | tuple | list``: that union is built again on every call, and
#: format_fact runs ~20 times per recommend() (quoted values, tipping points): 4,078 -> 2,608
#: instructions a call on a string (callgrind).
_LISTS = (frozenset, tuple, list)


def format_fact(value: object) -> str:
    """How rationales quote a fact: ``30`` not ``30.0``, ``true``, sets as ``a, b``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, _LISTS):
        return ", ".join(sorted(format_fact(v) for v in value)) or "none"
    return str(value)
