"""Bandwidth estimate per protocol: message rate x (payload + framing) x connections, plus
the planned heartbeat's bytes.

``rate_hz`` in a profile is per connection, so a broadcast's fan-out is already inside it
(a connection receives every event addressed to it); multiplying by ``fan_out`` again would
count each delivery twice. Framing is counted down to the TLS/DTLS record, not TCP/UDP/IP.
Constants are stated with their source so the estimate can be checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from selector.engine.recommendation import Bandwidth, trusted
from selector.protocols import PROTOCOLS
from selector.rules.values import Facts, number, text

__all__ = ["HEARTBEAT_FRAMES", "estimate_bandwidth", "heartbeat_bytes", "message_bytes"]

#: TLS 1.3 record: 5-byte header + 1 content-type byte + 16-byte AEAD tag (RFC 8446 §5.2),
#: per record of at most 16 KiB.
TLS_RECORD_OVERHEAD = 22
TLS_MAX_RECORD = 16384
#: DTLS 1.2 AES-GCM record (13 header + 8 explicit nonce + 16 tag) + SCTP common header (12)
#: + DATA chunk header (16) per packet (RFC 6347, RFC 5288, RFC 9260).
DATACHANNEL_PACKET_OVERHEAD = 13 + 8 + 16 + 12 + 16
#: User data per SCTP packet with WebRTC's usual 1200-byte path MTU assumption.
DATACHANNEL_PACKET_PAYLOAD = 1200 - DATACHANNEL_PACKET_OVERHEAD
#: ``data: `` + ``\n`` + the blank line ending the event (WHATWG SSE).
SSE_EVENT_OVERHEAD = 6 + 1 + 1
#: ``id: 12345678\n`` when events carry ids for Last-Event-ID resumption.
SSE_ID_OVERHEAD = 13
#: Typical request/response header bytes of one POST (cookies and auth make them larger);
#: HTTP/2 and HTTP/3 compress repeated headers (HPACK/QPACK) and add 9-byte frame headers.
POST_OVERHEAD = {"1.1": (350, 120), "2": (60, 30), "3": (60, 30)}
#: Heartbeat on the wire, (downstream, upstream) bytes per beat before TLS: a WebSocket Ping
#: from the server (2-byte header, empty body) and the client's masked Pong (2 + 4 bytes,
#: RFC 6455 sections 5.5.2-5.5.3); an SSE comment line ``:\n\n`` (WHATWG SSE), no reply.
HEARTBEAT_FRAMES = {"websocket": (2, 6), "sse": (3, 0), "webrtc": (2, 6)}


#: The largest overhead reported, in percent (a ratio past this says nothing more).
MAX_OVERHEAD_PERCENT = 1e12


def _tls(n: float) -> float:
    return n + TLS_RECORD_OVERHEAD * max(1, math.ceil(n / TLS_MAX_RECORD))


def _ws_header(payload: float, masked: bool) -> int:
    size = 2 if payload <= 125 else 4 if payload <= 65535 else 10  # RFC 6455 §5.2
    return size + (4 if masked else 0)


def message_bytes(protocol: str, downstream: bool, payload: float, facts: Facts) -> float:
    """Bytes on the wire for one message of ``payload`` bytes in one direction."""
    if payload <= 0:
        return 0.0
    if protocol == "websocket":
        return _tls(payload + _ws_header(payload, masked=not downstream))
    if protocol == "webrtc":
        packets = max(1, math.ceil(payload / DATACHANNEL_PACKET_PAYLOAD))
        return float(payload + packets * DATACHANNEL_PACKET_OVERHEAD)
    request, _ = POST_OVERHEAD[text(facts, "infrastructure.http_version")]
    if downstream:
        body = 4 * math.ceil(payload / 3) if facts["traffic.encoding"] == "binary" else payload
        ids = SSE_ID_OVERHEAD if facts["delivery.resume"] else 0
        return _tls(body + SSE_EVENT_OVERHEAD + ids)
    return _tls(payload + request)


def heartbeat_bytes(protocol: str, interval_s: float) -> tuple[float, float]:
    """(downstream, upstream) heartbeat bytes per connection per second at ``interval_s``.

    Counted as if every beat were sent: most servers ping on a timer whatever else flows, so
    this is the upper bound a busy connection may undercut.
    """
    down, up = _HEARTBEAT_WIRE[protocol]
    return down / interval_s, (up / interval_s) if up else 0.0


#: Each protocol's heartbeat bytes on the wire per beat, (downstream, upstream; 0: none),
#: worked out once rather than per protocol of every estimate.
_HEARTBEAT_WIRE = {
    protocol: (_tls(down), _tls(up) if up else 0.0)
    for protocol, (down, up) in HEARTBEAT_FRAMES.items()
}


def estimate_bandwidth(facts: Facts, heartbeats: Mapping[str, float]) -> list[Bandwidth]:
    """One :class:`Bandwidth` per protocol for the profile with ``facts``; ``heartbeats``
    holds each protocol's planned heartbeat interval in seconds."""
    connections = number(facts, "scale.concurrent_connections")
    down_rate = number(facts, "traffic.server_to_client.rate_hz")
    down_payload = number(facts, "traffic.server_to_client.payload_bytes")
    up_rate = number(facts, "traffic.client_to_server.rate_hz")
    up_payload = number(facts, "traffic.client_to_server.payload_bytes")
    # Client messages come from the sending connections only (sending_share, 1 unless stated).
    senders = connections * number(facts, "traffic.client_to_server.sending_share")
    raw = connections * down_rate * down_payload + senders * up_rate * up_payload
    notes_all: list[str] = []
    if facts["media"] != "none":
        notes_all.append(f"excludes the {facts['media']} media streams themselves")
    fan_out = number(facts, "scale.fan_out")
    if fan_out > 1 and down_rate > 0:
        distinct = down_rate * connections / fan_out
        notes_all.append(f"{distinct:g} distinct events/s, each delivered to {fan_out} receivers")
    out = []
    for protocol in PROTOCOLS:
        down = connections * down_rate * message_bytes(protocol, True, down_payload, facts)
        up = senders * up_rate * message_bytes(protocol, False, up_payload, facts)
        interval = heartbeats[protocol]
        # heartbeat_bytes(), inlined: 1,619,315 -> 1,606,758 instructions per recommend()
        # (bench/engine_instructions.sh).
        wire_down, wire_up = _HEARTBEAT_WIRE[protocol]
        beat_down, beat_up = wire_down / interval, (wire_up / interval) if wire_up else 0.0
        down += connections * beat_down
        up += connections * beat_up
        notes = list(notes_all)
        if protocol == "sse":
            if up_rate > 0:
                _, response = POST_OVERHEAD[text(facts, "infrastructure.http_version")]
                down += senders * up_rate * _tls(response)
                notes.append("upstream as one HTTP POST per message, responses counted downstream")
            if facts["traffic.encoding"] == "binary" and down_rate > 0:
                notes.append("binary events base64-encoded (+33 %)")
        if protocol == "webrtc":
            notes.append(
                "excludes SCTP SACKs and ICE/TURN keepalives; heartbeat counted on the "
                "signalling WebSocket"
            )
        total = down + up
        # Capped: heartbeats over a vanishing payload rate (5e-324 msg/s) would overflow to
        # infinity, which JSON cannot carry.
        overhead = min((total - raw) / raw * 100, MAX_OVERHEAD_PERCENT) if raw else 0.0
        beat = beat_down + beat_up
        # A whole number is left as it is, which is what round() would give back: round() to
        # some digits goes through a decimal string, ~10x an is_integer() test, and about half
        # of these are whole (recommend() 1,601,324 -> 1,582,811 instructions per call with the
        # scores' rounding, bench/engine_instructions.sh).
        out.append(
            trusted(
                Bandwidth,
                protocol=protocol,
                downstream_bytes_per_s=down if down.is_integer() else round(down, 1),
                upstream_bytes_per_s=up if up.is_integer() else round(up, 1),
                overhead_percent=overhead if overhead.is_integer() else round(overhead, 1),
                heartbeat_interval_s=interval,
                heartbeat_bytes_per_connection_per_s=beat if beat.is_integer() else round(beat, 2),
                notes=notes,
            )
        )
    return out
