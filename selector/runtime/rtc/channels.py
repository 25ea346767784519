"""Data channels from the profile, and the probe messages a run sends over them (pure).

A best-effort profile gets what WebRTC offers for it: an unordered channel with
``maxRetransmits=0`` (a lost message is not resent, so it never holds back later ones); a
reliable profile gets a reliable channel, ordered unless the profile says order does not
matter. Each probe message carries a
fixed header (sequence number, a timestamp, the size of the reply wanted) padded to the
profile's payload size; the runtime's peer answers each one with a reply of the size asked,
stamped with the time it arrived there.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

__all__ = [
    "HEADER_BYTES",
    "PORTABLE_MESSAGE_BYTES",
    "SCTP_DEFAULT_MESSAGE_BYTES",
    "ChannelSpec",
    "Probe",
    "channel_for",
    "decode_probe",
    "encode_probe",
    "max_message_size",
    "reply_limit",
]

_HEADER = struct.Struct("!IdI")
HEADER_BYTES = _HEADER.size
#: The message size every browser pair carries intact (MDN, "Using WebRTC data channels",
#: message size limits); larger ones depend on both ends' SCTP stacks.
PORTABLE_MESSAGE_BYTES = 16 * 1024
#: The size peers assume when the SDP carries no ``a=max-message-size`` (RFC 8841 section 6).
SCTP_DEFAULT_MESSAGE_BYTES = 64 * 1024
_MAX_MESSAGE_SIZE = re.compile(r"^a=max-message-size:(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ChannelSpec:
    """How a data channel is opened (the RTCDataChannelInit fields that matter here)."""

    label: str
    ordered: bool
    max_retransmits: int | None

    @property
    def reliable(self) -> bool:
        """Every message is retransmitted until it arrives."""
        return self.max_retransmits is None


def channel_for(guarantee: str) -> ChannelSpec:
    """The channel a profile's delivery guarantee calls for."""
    if guarantee == "best_effort":
        return ChannelSpec(label="best-effort", ordered=False, max_retransmits=0)
    if guarantee == "reliable_unordered":
        return ChannelSpec(label="reliable-unordered", ordered=False, max_retransmits=None)
    return ChannelSpec(label="reliable", ordered=True, max_retransmits=None)


#: What a naive application opens: the API default, reliable and ordered.
DEFAULT_CHANNEL = ChannelSpec(label="default", ordered=True, max_retransmits=None)


@dataclass(frozen=True)
class Probe:
    """One probe message: its sequence number, a timestamp and the reply size it asks for."""

    seq: int
    at: float
    reply_bytes: int


def encode_probe(probe: Probe, size: int) -> bytes:
    """``probe`` padded with zero bytes to ``size`` (at least the header)."""
    header = _HEADER.pack(probe.seq, probe.at, probe.reply_bytes)
    return header + bytes(max(0, size - HEADER_BYTES))


def decode_probe(data: bytes) -> Probe:
    """The probe at the start of ``data``; ValueError when it is too short to hold one."""
    if len(data) < HEADER_BYTES:
        raise ValueError(f"a probe needs {HEADER_BYTES} bytes, got {len(data)}")
    seq, at, reply = _HEADER.unpack_from(data)
    return Probe(seq=seq, at=at, reply_bytes=reply)


def max_message_size(sdp: str) -> int | None:
    """The ``a=max-message-size`` of a session description (None when absent)."""
    found = _MAX_MESSAGE_SIZE.search(sdp)
    return int(found.group(1)) if found else None


def reply_limit(remote_sdp: str, local_sdp: str) -> int:
    """The largest reply a peer may send: what the remote end said it receives (RFC 8841
    section 6: absent means 64 KiB, 0 means no limit of its own), and never more than the
    local end accepts itself. A probe may ask for up to 4 GiB; this bounds what is built."""
    own = max_message_size(local_sdp) or SCTP_DEFAULT_MESSAGE_BYTES
    theirs = max_message_size(remote_sdp)
    if theirs is None:
        theirs = SCTP_DEFAULT_MESSAGE_BYTES
    return min(own, theirs) if theirs > 0 else own
