"""Applicability: what must exist in a profile for a rule to say anything about it.

Every rule of the default matrix declares ``applies_to``: subjects from the closed vocabulary
below. A subject is itself a condition on the facts, so the engine scores a rule only when
all of its subjects are present *and* its ``when`` holds, and tipping-point search sees the
subject's facts like any other. A rule about upstream POST costs cannot fire on a profile with
no upstream traffic; a rule about browsers cannot fire when every client is a server.

Overlay rules may omit ``applies_to``: they then apply to every profile (``connections``),
which is what a v1 overlay rule meant.
"""

from __future__ import annotations

from selector.rules.conditions import AllOf, Compare, Condition, Not
from selector.rules.facts import FACTS

__all__ = ["EVIDENCE", "SUBJECTS", "Subject", "subject_condition"]


class Subject:
    """One applicability subject: a description and the condition that says it is present."""

    __slots__ = ("condition", "description", "shown")

    def __init__(self, description: str, condition: Condition, shown: str = "") -> None:
        self.description = description
        self.condition = condition
        #: How listings show the condition when its generic form is unreadable.
        self.shown = shown


_HOP_KINDS = frozenset(FACTS["infrastructure.hop_kinds"].choices)

#: Audio that clients send as messages to a recogniser, with little coming back: chunks of at
#: most a second, at least 16,000 B/s up (8 kHz 16-bit PCM, the lowest raw speech rate), less
#: than that down (text), and no peer (a peer is a person: audio between peers has a listener).
_AUDIO_TO_A_RECOGNISER = AllOf(
    (
        Compare("media", "eq", "audio"),
        Compare("topology", "ne", "peer_to_peer"),
        Compare("traffic.client_to_server.rate_hz", "ge", 1),
        Compare("measure.client_upload_bytes_per_s", "ge", 16000),
        Compare("measure.client_download_bytes_per_s", "lt", 16000),
    )
)
_RECOGNISER_SHOWN = (
    "media is audio, not peer to peer, client messages at least 1/s carrying at least "
    "16,000 B/s, under 16,000 B/s to each client"
)

#: The closed vocabulary of ``applies_to``.
SUBJECTS: dict[str, Subject] = {
    "connections": Subject("Any profile: every profile opens real-time connections.", AllOf(())),
    "server_to_client": Subject(
        "Server-to-client messages (rate above 0).",
        Compare("traffic.server_to_client.rate_hz", "gt", 0),
    ),
    "client_to_server": Subject(
        "Client-to-server messages (rate above 0).",
        Compare("traffic.client_to_server.rate_hz", "gt", 0),
    ),
    "acked_commands": Subject(
        "Client messages the server must acknowledge.",
        Compare("traffic.client_to_server.needs_ack", "eq", True),
    ),
    "in_band_control": Subject(
        "Client messages sent in-band on the real-time connection.",
        Compare("traffic.client_to_server.channel", "eq", "in_band"),
    ),
    "client_acked_events": Subject(
        "Server messages the client must acknowledge.",
        Compare("traffic.server_to_client.client_acks", "eq", True),
    ),
    "request_streams": Subject(
        "Server streams that each answer one client request.",
        Compare("traffic.server_to_client.per_request", "eq", True),
    ),
    "browser_clients": Subject("Browser clients.", Compare("clients", "contains", "browser")),
    "mobile_clients": Subject(
        "Native mobile app clients.", Compare("clients", "contains", "mobile")
    ),
    "app_clients": Subject(
        "Browser or mobile clients (end-user devices behind NAT).",
        Compare("clients", "contains_any", frozenset({"browser", "mobile"})),
    ),
    "device_clients": Subject(
        "Embedded or IoT device clients.", Compare("clients", "contains", "device")
    ),
    "server_clients_only": Subject(
        "Every client is a server.", Compare("clients", "only", frozenset({"server"}))
    ),
    "media": Subject("Real-time audio or video.", Compare("media", "ne", "none")),
    "media_to_a_listener": Subject(
        "Real-time audio or video that a person hears or watches: not audio sent to a recogniser.",
        AllOf((Compare("media", "ne", "none"), Not(_AUDIO_TO_A_RECOGNISER))),
        f"media is not none, and not ({_RECOGNISER_SHOWN})",
    ),
    "audio_to_a_recogniser": Subject(
        "Audio clients send as messages to a recogniser, with little coming back.",
        _AUDIO_TO_A_RECOGNISER,
        _RECOGNISER_SHOWN,
    ),
    "data_only": Subject("No real-time media: messages only.", Compare("media", "eq", "none")),
    "peer_to_peer": Subject(
        "Clients exchange messages with each other.", Compare("topology", "eq", "peer_to_peer")
    ),
    "hops": Subject(
        "At least one proxy, load balancer or CDN on the path.",
        Compare("infrastructure.hop_kinds", "contains_any", _HOP_KINDS),
        "infrastructure.path is not empty",
    ),
    "buffering_hop": Subject(
        "A hop on the path that buffers streamed responses beyond anyone's control.",
        Compare("infrastructure.buffering_hop_kinds", "contains_any", _HOP_KINDS),
        "a hop of infrastructure.path has buffers_streams: true",
    ),
    "serverless_backend": Subject(
        "A backend that cannot hold long-lived connections (functions, with or without a "
        "managed socket service).",
        Compare("infrastructure.hosting", "ne", "long_lived_servers"),
    ),
    "restrictive_network": Subject(
        "Clients behind corporate proxies or inspecting middleboxes.",
        Compare("infrastructure.restrictive_networks", "eq", True),
    ),
    "udp_blocked": Subject(
        "No UDP between clients and servers.",
        Not(Compare("infrastructure.udp_allowed", "eq", True)),
    ),
    "best_effort_delivery": Subject(
        "Messages that may be dropped.", Compare("delivery.guarantee", "eq", "best_effort")
    ),
}

#: The closed list of experiments a rule's ``evidence:`` may name (run by ``selector verify``).
EVIDENCE: tuple[str, ...] = (
    "ack-rtt",
    "ack-event-order",
    "wire-bytes",
    "connections-per-origin",
    "upgrade-stripped",
    "stream-buffered",
    "lifetime-rotation",
    "cpu-per-delivery",
    "heartbeat-survival",
    "loss-latency",
    "media-over-rtp",
)


def subject_condition(subjects: tuple[str, ...]) -> Condition:
    """The condition under which every subject in ``subjects`` is present."""
    parts: list[Condition] = []
    for name in subjects:
        condition = SUBJECTS[name].condition
        parts.extend(condition.parts if isinstance(condition, AllOf) else (condition,))
    return AllOf(tuple(parts))
