"""``/rtc``: WebRTC signalling over the runtime's own WebSocket, and the runtime's peer.

A client opens a WebSocket to ``/rtc?client_id=...`` (admitted like ``/ws``: origin, bearer
token, client id, and one of the per-IP connection slots /ws and /sse share), sends
``{"type": "offer", "sdp": ...}`` (complete: aiortc gathers every candidate before the offer
is made; within the offer timeout and the message size limit, else close 1008 / 1009) and
gets ``{"type": "answer", "sdp": ...}``. The WebSocket then stays open for the life of the
peer connection: closing it closes the peer. Over every data channel the client opens, the
runtime's peer answers each probe (see :mod:`selector.runtime.rtc.channels`) with a reply of
the size asked, stamped with its arrival time on the server's clock; a probe asking for more
than the client said it receives (``a=max-message-size``) gets no reply. For each kind of media
(audio, video) the offer has an m-line for, the runtime sends one synthetic track of real
Opus or VP8 frames (:mod:`selector.runtime.rtc.media`).

``GET /rtc/log`` reports what the runtime's peers received (client, channel, sequence, in
arrival order; the newest ``log_max_entries``, with a count of those forgotten) and how many
peer connections are still open, for verification runs; it is under the same token rule as
``/state``. Without the ``webrtc`` extra both routes answer 501
with the install hint.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from selector.runtime.clock import Clock
from selector.runtime.rtc import INSTALL_HINT, aiortc_available, close_peer
from selector.runtime.rtc.channels import Probe, decode_probe, encode_probe, reply_limit

if TYPE_CHECKING:
    from aiortc import RTCDataChannel, RTCPeerConnection

__all__ = ["RTC_STATE_KEY", "Admission", "Authorize", "RtcPolicy", "RtcState", "add_rtc_routes"]

#: The server's admission of a request (shutdown, origin, token, client id, per-IP limit):
#: entered for the life of the connection, it yields a refusal to send, or None when admitted
#: (and then holds the connection's per-IP slot until the block exits).
Admission = Callable[[web.Request], AbstractAsyncContextManager[web.Response | None]]
#: The server's token check for a read-only route: a refusal to send, or None.
Authorize = Callable[[web.Request], web.Response | None]


@dataclass(frozen=True)
class RtcPolicy:
    """What the server decides for its WebRTC routes."""

    admission: Admission
    authorize: Authorize
    #: Stamps probe arrivals (the clock the server was built with).
    clock: Clock
    #: Largest signalling message (the server's ``max_message_bytes``, inclusive).
    max_message_bytes: int
    #: How long the client has to send its offer once the WebSocket is open.
    offer_timeout_s: float
    #: How many arrivals ``/rtc/log`` keeps (the newest); older ones are counted only.
    log_max_entries: int


@dataclass
class RtcState:
    """The runtime's open peer connections and what they received."""

    policy: RtcPolicy
    peers: set[RTCPeerConnection] = field(default_factory=set)
    #: (client id, channel label, sequence number), in arrival order, the newest
    #: ``policy.log_max_entries``: a peer that floods probes cannot grow the server's memory.
    received: deque[tuple[str, str, int]] = field(init=False)
    #: Arrivals dropped from the front of ``received``.
    forgotten: int = 0

    def __post_init__(self) -> None:
        self.received = deque(maxlen=self.policy.log_max_entries)

    def record(self, entry: tuple[str, str, int]) -> None:
        """Log one arrival, forgetting the oldest past the bound."""
        if len(self.received) == self.received.maxlen:
            self.forgotten += 1
        self.received.append(entry)


RTC_STATE_KEY: web.AppKey[RtcState] = web.AppKey("rtc_state", RtcState)


def _unavailable() -> web.Response:
    return web.json_response({"error": "NOT_AVAILABLE", "detail": INSTALL_HINT}, status=501)


def _serve_channel(state: RtcState, client_id: str, channel: RTCDataChannel, limit: int) -> None:
    clock = state.policy.clock

    @channel.on("message")
    def on_message(message: bytes | str) -> None:
        arrived = clock.monotonic()
        if not isinstance(message, bytes):
            return
        try:
            probe = decode_probe(message)
        except ValueError:
            return
        state.record((client_id, channel.label, probe.seq))
        # A probe may ask for up to 4 GiB: a reply over ``limit`` is never built.
        if 0 < probe.reply_bytes <= limit and channel.readyState == "open":
            reply = Probe(seq=probe.seq, at=arrived, reply_bytes=0)
            channel.send(encode_probe(reply, probe.reply_bytes))


def _add_media(pc: RTCPeerConnection) -> None:
    """A synthetic track of each kind (audio, video) the offer has an m-line for (see
    :mod:`selector.runtime.rtc.media`): a client that offers to receive media gets it. One
    per kind, whatever the number of m-lines: every track costs the server packetising and
    encryption in Python at its frame rate, and an offer can carry hundreds of m-lines."""
    kinds = sorted({t.kind for t in pc.getTransceivers() if t.kind in ("audio", "video")})
    if not kinds:
        return
    from selector.runtime.rtc.media import MEDIA, SyntheticTrack

    for kind in kinds:
        pc.addTrack(SyntheticTrack(MEDIA[kind]))


async def rtc_handler(request: web.Request) -> web.StreamResponse:
    """Answer one offer and keep the peer connection for as long as the WebSocket lives."""
    if not aiortc_available():
        return _unavailable()
    state = request.app[RTC_STATE_KEY]
    async with state.policy.admission(request) as refused:
        if refused is not None:
            return refused
        return await _serve_rtc(request, state)


async def _serve_rtc(request: web.Request, state: RtcState) -> web.WebSocketResponse:
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from selector.runtime.rtc.ice import loopback_configuration, loopback_ice

    client_id = request.query["client_id"]
    policy = state.policy
    # aiohttp refuses a message of max_msg_size (close 1009); the limit is inclusive.
    ws = web.WebSocketResponse(max_msg_size=policy.max_message_bytes + 1)
    await ws.prepare(request)
    with loopback_ice():
        try:
            # The offer is bounded in time like request headers: a slow client holds a
            # per-IP slot and a task only this long. Real I/O: the loop's clock.
            offer = await asyncio.wait_for(ws.receive_json(), policy.offer_timeout_s)
        except (TimeoutError, ValueError, TypeError):
            if not ws.closed:  # a message over the limit was closed with 1009 already
                await ws.close(code=1008, message=b"expected an offer")
            return ws
        if not isinstance(offer, dict) or offer.get("type") != "offer" or "sdp" not in offer:
            await ws.close(code=1008, message=b"expected an offer")
            return ws
        pc = RTCPeerConnection(loopback_configuration())
        state.peers.add(pc)

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            limit = reply_limit(pc.remoteDescription.sdp, pc.localDescription.sdp)
            _serve_channel(state, client_id, channel, limit)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
            _add_media(pc)
            await pc.setLocalDescription(await pc.createAnswer())
            local = pc.localDescription
            await ws.send_json({"type": "answer", "sdp": local.sdp})
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            # Forget the peer when its close completes, even if this handler is cancelled
            # (the client went away) while waiting for it.
            closing = asyncio.ensure_future(close_peer(pc))
            closing.add_done_callback(lambda _task: state.peers.discard(pc))
            await asyncio.shield(closing)
    return ws


async def rtc_log_handler(request: web.Request) -> web.Response:
    """What the runtime's peers received and how many are still open (token as /state)."""
    state = request.app[RTC_STATE_KEY]
    refused = state.policy.authorize(request)
    if refused is not None:
        return refused
    if not aiortc_available():
        return _unavailable()
    return web.json_response(
        {
            "open_peers": len(state.peers),
            "received": [list(r) for r in state.received],
            "forgotten": state.forgotten,
        }
    )


def add_rtc_routes(app: web.Application, policy: RtcPolicy) -> None:
    """Register ``/rtc`` (behind the same admission as ``/ws``) and ``/rtc/log`` (behind the
    token check of ``/state``) on ``app``; peers still open are closed at shutdown."""
    app[RTC_STATE_KEY] = RtcState(policy)
    app.router.add_get("/rtc", rtc_handler)
    app.router.add_get("/rtc/log", rtc_log_handler)

    async def close_peers(app: web.Application) -> None:
        peers = list(app[RTC_STATE_KEY].peers)
        await asyncio.gather(*(pc.close() for pc in peers), return_exceptions=True)

    app.on_shutdown.append(close_peers)
