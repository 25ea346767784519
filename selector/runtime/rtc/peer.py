"""A client peer: signals over the runtime's ``/rtc`` WebSocket and opens data channels.

The peer sends probes (see :mod:`selector.runtime.rtc.channels`) and records each reply with
its arrival time, so a run reads one-way latencies in both directions off one clock: both
peers run in the same process and stamp with the same :class:`~selector.runtime.clock.Clock`
(the event loop's by default; the server's is the one given to ``build_app``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp

from selector.runtime.clock import SYSTEM_CLOCK, Clock
from selector.runtime.rtc import close_peer
from selector.runtime.rtc.channels import (
    ChannelSpec,
    Probe,
    decode_probe,
    encode_probe,
    max_message_size,
)
from selector.runtime.rtc.ice import (
    SelectedPair,
    loopback_configuration,
    loopback_ice,
    selected_pair,
)

if TYPE_CHECKING:
    from aiortc import RTCDataChannel, RTCPeerConnection

    from selector.runtime.rtc.turn import TurnRelay

__all__ = [
    "ChannelClosedError",
    "Reply",
    "RtcPeer",
    "SignallingError",
    "max_message_size",
    "open_peer",
]


class SignallingError(RuntimeError):
    """The runtime did not answer the offer, or the peers did not connect in time."""


class ChannelClosedError(ConnectionError):
    """The data channel is no longer open (the peer connection closed or failed)."""


@dataclass(frozen=True)
class Reply:
    """A reply from the runtime's peer to one probe."""

    seq: int
    sent_at: float
    server_at: float
    received_at: float
    size: int


@dataclass
class RtcPeer:
    """An open peer connection to the runtime and its data channels, by label."""

    client_id: str
    pc: RTCPeerConnection
    channels: dict[str, RTCDataChannel]
    setup_s: float
    #: Stamps sends and replies; the runtime's peer must stamp on the same clock.
    clock: Clock = SYSTEM_CLOCK
    replies: dict[str, list[Reply]] = field(default_factory=dict)
    _sent_at: dict[tuple[str, int], float] = field(default_factory=dict)
    _session: aiohttp.ClientSession | None = None
    _ws: aiohttp.ClientWebSocketResponse | None = None

    @property
    def pair(self) -> SelectedPair | None:
        """The candidate pair ICE selected."""
        return selected_pair(self.pc)

    @property
    def max_message_size(self) -> int | None:
        """The largest message the runtime's peer accepts, as its answer advertised."""
        description = self.pc.remoteDescription
        return max_message_size(description.sdp) if description is not None else None

    def send(self, label: str, seq: int, size: int, reply_bytes: int) -> None:
        """Send probe ``seq`` of ``size`` bytes on channel ``label``, asking for a reply of
        ``reply_bytes`` (0: none). ValueError when ``size`` is over the peer's limit,
        :class:`ChannelClosedError` once the channel has closed."""
        channel = self.channels[label]
        if channel.readyState != "open":
            raise ChannelClosedError(f"data channel {label!r} is {channel.readyState}")
        now = self.clock.monotonic()
        channel.send(encode_probe(Probe(seq, now, reply_bytes), size))
        self._sent_at[(label, seq)] = now

    def _on_reply(self, label: str, message: bytes | str) -> None:
        if not isinstance(message, bytes):
            return
        try:
            probe = decode_probe(message)
        except ValueError:
            return
        now = self.clock.monotonic()
        sent = self._sent_at.get((label, probe.seq), probe.at)
        self.replies.setdefault(label, []).append(
            Reply(probe.seq, sent, probe.at, now, len(message))
        )

    async def close(self) -> None:
        """Close the peer connection and the signalling WebSocket."""
        await close_peer(self.pc)
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()


async def open_peer(
    base_url: str,
    client_id: str,
    specs: list[ChannelSpec],
    *,
    timeout: float = 10.0,
    relay: TurnRelay | None = None,
    media: tuple[str, ...] = (),
    clock: Clock = SYSTEM_CLOCK,
) -> RtcPeer:
    """Connect to the runtime at ``base_url`` (``http://host:port``) and open ``specs``'s
    channels; returns once every channel is open and ICE has connected. With ``relay`` this
    peer uses relayed candidates through that TURN server only. ``media`` ("audio",
    "video") adds a receive-only m-line of each kind: the runtime answers with a synthetic
    track of it. ``clock`` stamps probes and replies (pass the server's, so both ends read
    one). Raises :class:`SignallingError`."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    started = clock.monotonic()
    session = aiohttp.ClientSession()
    pc: RTCPeerConnection | None = None
    try:
        with loopback_ice():
            ws = await session.ws_connect(f"{base_url}/rtc", params={"client_id": client_id})
            pc = RTCPeerConnection(loopback_configuration(relay))
            channels = {
                s.label: pc.createDataChannel(
                    s.label, ordered=s.ordered, maxRetransmits=s.max_retransmits
                )
                for s in specs
            }
            for kind in media:
                pc.addTransceiver(kind, direction="recvonly")
            opened = [asyncio.Event() for _ in specs]
            for channel, event in zip(channels.values(), opened, strict=True):
                channel.on("open", event.set)
            connected = asyncio.Event()

            @pc.on("connectionstatechange")
            def on_state() -> None:
                if pc is not None and pc.connectionState == "connected":
                    connected.set()

            await pc.setLocalDescription(await pc.createOffer())
            await ws.send_json({"type": "offer", "sdp": pc.localDescription.sdp})
            async with asyncio.timeout(timeout):
                answer = await ws.receive_json()
                if not isinstance(answer, dict) or answer.get("type") != "answer":
                    raise SignallingError(f"expected an answer, got {answer!r}")
                await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
                await asyncio.gather(connected.wait(), *(e.wait() for e in opened))
    except (TimeoutError, aiohttp.ClientError, ValueError, TypeError) as exc:
        if pc is not None:
            await close_peer(pc)
        await session.close()
        raise SignallingError(f"WebRTC setup with {base_url} failed: {exc!r}") from exc
    except BaseException:
        if pc is not None:
            await close_peer(pc)
        await session.close()
        raise
    setup_s = clock.monotonic() - started
    peer = RtcPeer(client_id, pc, channels, setup_s, clock, _session=session, _ws=ws)
    for label, channel in channels.items():
        channel.on("message", lambda message, label=label: peer._on_reply(label, message))
    return peer
