"""``media-over-rtp``: the runtime's media over RTP against the same frames over a WebSocket.

The claim behind the matrix's ``media-needs-rtp`` rule: real-time media wants a transport
that lets a lost packet go rather than hold back the frames behind it. The experiment sends
the runtime's synthetic media (:mod:`selector.runtime.rtc.media`: real Opus frames every
20 ms, and VP8 at 30 frames/s where the profile has video) to an aiortc peer over RTP, and
at the same time the same frames, at the same cadence, over a WebSocket (each frame one
binary message with a 12-byte header), first on a clean path and then under packet loss,
with the same round trip for both. For each transport and kind it reports one-way latency
p50/p99 (handed to the transport to arrived whole at the receiver: every RTP packet of the
frame, retransmissions included; codecs are out of it on both sides), frames that arrived
past the profile's latency budget (*late*: missed their playout deadline) and frames that
never arrived (*lost*).

Loss is real where the run may make network namespaces (root, ``ip``, ``iptables``, a TUN
device): the peers run on the loopback of one namespace, and the WebSocket crosses a
point-to-point link into a second one, carried by this process with half the round trip of
delay each way, so the kernels' TCP sees the round trip (there is no ``tc netem``);
``iptables -m statistic`` drops UDP between the peers and packets on the link. Otherwise it is
a model, and the result says so: datagrams are dropped in user space below SRTP, and the
fault proxy holds a lost TCP chunk for a retransmission timeout. The peers' round trip is
added in user space either way, below SRTP (RTP does not wait for acknowledgements, so where
the delay is added does not change what it does).

What is *not* measured: aiortc's own jitter buffer, which holds a frame until four more have
arrived and stalls on a gap until 16 packets have passed, is not what a browser's adaptive
jitter buffer does (it conceals a lost frame and plays on); the frame figures here are at
RTP arrival, before any jitter buffer, the fair comparison with WebSocket messages arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import random
import re
import struct
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from selector.verify.evidence import percentile
from selector.verify.netns import DelayedLink, delayed_link, kernel_loss_unavailable
from selector.verify.network import Network
from selector.verify.proxy import FaultPolicy, FaultProxy

if TYPE_CHECKING:
    from selector.verify.verdict import Factor

__all__ = [
    "DEFAULT_LOSS_PCT",
    "FrameStats",
    "MediaResult",
    "measure_media",
    "media_factor",
    "media_kinds",
]

#: Seconds of frames measured per phase, and the wait for late frames after it (TCP's
#: retransmission timeout doubles: 0.2 s, 0.4 s, 0.8 s).
ACTIVE_S = 2.0
DRAIN_S = 1.5
CONNECT_TIMEOUT_S = 10.0
_HEADER = struct.Struct("!BIxxxx")  # kind, frame number (12 bytes with padding)
_KINDS = ("audio", "video")
_SSRC = re.compile(r"^a=ssrc:(\d+) ", re.MULTILINE)
_FID = re.compile(r"^a=ssrc-group:FID (\d+) (\d+)", re.MULTILINE)


def media_kinds(media: str) -> tuple[str, ...]:
    """The kinds of a profile's ``media`` value ("audio_video" -> both; pure)."""
    return tuple(kind for kind in _KINDS if kind in media)


@dataclass(frozen=True)
class FrameStats:
    """Frames of one kind over one transport in one phase."""

    sent: int
    lost: int
    late: int
    p50_ms: float | None
    p99_ms: float | None

    @property
    def unusable(self) -> int:
        """Frames a player could not play in time: lost or late."""
        return self.lost + self.late


@dataclass(frozen=True)
class MediaResult:
    """Both transports, each kind, clean and lossy."""

    kinds: tuple[str, ...]
    rtt_ms: float
    loss_pct: float
    deadline_ms: float
    #: How the loss was made, for the report.
    loss_how: str
    in_kernel: bool
    #: (transport, kind, phase) -> stats; transport "rtp" or "websocket", phase "clean"
    #: or "lossy".
    stats: dict[tuple[str, str, str], FrameStats] = field(default_factory=dict)

    def total(self, transport: str, phase: str) -> FrameStats:
        """Every kind of ``transport`` in ``phase``, summed (percentiles of the first kind)."""
        parts = [self.stats[(transport, kind, phase)] for kind in self.kinds]
        return FrameStats(
            sent=sum(p.sent for p in parts),
            lost=sum(p.lost for p in parts),
            late=sum(p.late for p in parts),
            p50_ms=parts[0].p50_ms,
            p99_ms=parts[0].p99_ms,
        )


def _stats(times: list[tuple[float, float | None]], deadline_ms: float) -> FrameStats:
    """(sent, arrived or None) per frame."""
    latencies = [(arrived - sent) * 1000 for sent, arrived in times if arrived is not None]
    return FrameStats(
        sent=len(times),
        lost=sum(1 for _, arrived in times if arrived is None),
        late=sum(1 for ms in latencies if ms > deadline_ms),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
    )


# --- RTP: the runtime's synthetic tracks to an aiortc peer ------------------------------


@dataclass
class _RtpLog:
    """Every RTP packet the runtime's senders handed to DTLS, and every one the client's
    receivers got (retransmissions mapped back to the packet they repeat)."""

    #: (ssrc, seq) -> (RTP timestamp, loop time handed to the transport)
    sent: dict[tuple[int, int], tuple[int, float]] = field(default_factory=dict)
    #: ssrc -> RTP timestamp of its first packet (frame 0)
    origin: dict[int, int] = field(default_factory=dict)
    #: (ssrc, seq) -> loop time of first arrival
    arrived: dict[tuple[int, int], float] = field(default_factory=dict)
    #: retransmission ssrc -> media ssrc
    rtx: dict[int, int] = field(default_factory=dict)


@contextlib.contextmanager
def _recording_sends(log: _RtpLog) -> Iterator[None]:
    """Record every RTP packet any DTLS transport of this process sends (the runtime's peer
    is the only RTP sender in the run). Wraps aiortc's private ``_send_rtp`` (pinned)."""
    from aiortc.rtcdtlstransport import RTCDtlsTransport
    from aiortc.rtp import is_rtcp

    original = RTCDtlsTransport._send_rtp
    loop = asyncio.get_running_loop()

    async def send_rtp(self: RTCDtlsTransport, data: bytes) -> None:
        if not is_rtcp(data) and len(data) >= 12:
            seq, ts, ssrc = struct.unpack_from("!HII", data, 2)
            if ssrc not in log.rtx:
                log.origin.setdefault(ssrc, ts)
                log.sent.setdefault((ssrc, seq), (ts, loop.time()))
        await original(self, data)

    # aiortc has no hook on outgoing RTP: the method is wrapped for the run, and mypy refuses
    # assigning to a method.
    RTCDtlsTransport._send_rtp = send_rtp  # type: ignore[method-assign]
    try:
        yield
    finally:
        RTCDtlsTransport._send_rtp = original  # type: ignore[method-assign]


def _record_arrivals(pc: object, log: _RtpLog) -> dict[int, str]:
    """Wrap each receiver of ``pc`` to log arrivals; the media ssrc -> kind of the answer."""
    from aiortc import RTCPeerConnection
    from aiortc.rtp import RtpPacket

    assert isinstance(pc, RTCPeerConnection)
    sdp = pc.remoteDescription.sdp
    kinds: dict[int, str] = {}
    for section in sdp.split("\nm=")[1:]:
        kind = section.split(" ", 1)[0]
        for ssrc in _SSRC.findall(section):
            kinds.setdefault(int(ssrc), kind)
    for media, rtx in _FID.findall(sdp):
        log.rtx[int(rtx)] = int(media)
        kinds.pop(int(rtx), None)
    loop = asyncio.get_running_loop()
    for receiver in pc.getReceivers():
        handle = receiver._handle_rtp_packet

        async def on_packet(
            packet: RtpPacket,
            arrival_time_ms: int,
            handle: Callable[[RtpPacket, int], Awaitable[None]] = handle,
        ) -> None:
            key = (packet.ssrc, packet.sequence_number)
            if packet.ssrc in log.rtx and len(packet.payload) >= 2:
                key = (log.rtx[packet.ssrc], int.from_bytes(packet.payload[:2], "big"))
            log.arrived.setdefault(key, loop.time())
            await handle(packet, arrival_time_ms)

        # Nor on incoming RTP: the receiver's handler is wrapped the same way.
        receiver._handle_rtp_packet = on_packet  # type: ignore[method-assign]
    return kinds


def _rtp_frames(
    log: _RtpLog, kinds: dict[int, str], window: tuple[float, float]
) -> dict[str, list[tuple[float, float | None]]]:
    """(sent, arrived whole or None) per frame first sent in ``window``, by kind."""
    from selector.runtime.rtc.media import MEDIA

    frames: dict[tuple[int, int], list[tuple[float, float | None]]] = {}
    for (ssrc, seq), (ts, sent_at) in log.sent.items():
        if ssrc not in kinds:
            continue
        n = ((ts - log.origin[ssrc]) % 2**32) // MEDIA[kinds[ssrc]].ticks_per_frame
        frames.setdefault((ssrc, n), []).append((sent_at, log.arrived.get((ssrc, seq))))
    out: dict[str, list[tuple[float, float | None]]] = {kind: [] for kind in kinds.values()}
    for (ssrc, _n), packets in sorted(frames.items()):
        sent = min(s for s, _ in packets)
        if not window[0] <= sent < window[1]:
            continue
        arrivals = [a for _, a in packets]
        whole = None if any(a is None for a in arrivals) else max(a for a in arrivals if a)
        out[kinds[ssrc]].append((sent, whole))
    return out


# --- WebSocket: the same frames, one binary message each --------------------------------


async def _ws_sender(request: web.Request) -> web.WebSocketResponse:
    """Send the synthetic frames of the kinds asked, at their cadence, until the client
    leaves; each message is a header (kind, frame number) and the frame."""
    from selector.runtime.rtc.media import MEDIA, encoded_frames

    ws = web.WebSocketResponse()
    await ws.prepare(request)
    loop = asyncio.get_running_loop()
    kinds = request.query.get("kinds", "audio").split(",")

    async def send(kind: str) -> None:
        spec, frames = MEDIA[kind], encoded_frames(kind)
        start = loop.time()
        n = 0
        while not ws.closed:
            await asyncio.sleep(max(0.0, start + n * spec.frame_s - loop.time()))
            header = _HEADER.pack(_KINDS.index(kind), n)
            request.app[_SENT_KEY][(kind, n)] = loop.time()
            with contextlib.suppress(ConnectionError):
                await ws.send_bytes(header + frames[n % len(frames)])
            n += 1

    tasks = [asyncio.create_task(send(kind)) for kind in kinds]
    try:
        async for _ in ws:
            pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return ws


_SENT_KEY: web.AppKey[dict[tuple[str, int], float]] = web.AppKey("media_sent", dict)


@contextlib.asynccontextmanager
async def _frame_server(
    host: str = "127.0.0.1",
) -> AsyncIterator[tuple[int, dict[tuple[str, int], float]]]:
    app = web.Application()
    app[_SENT_KEY] = {}
    app.router.add_get("/frames", _ws_sender)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    try:
        yield int(runner.addresses[0][1]), app[_SENT_KEY]
    finally:
        await runner.cleanup()


# --- one phase ---------------------------------------------------------------------------


@contextlib.contextmanager
def _far_frame_server(link: DelayedLink) -> Iterator[tuple[int, dict[tuple[str, int], float]]]:
    """The frame server in ``link``'s far namespace, on an event loop of its own in a thread
    that entered it; stopped on exit. Both loops read the same monotonic clock."""
    started: queue.Queue[tuple[int, dict[tuple[str, int], float]] | BaseException] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        async with _frame_server(host="0.0.0.0") as ready:
            started.put(ready)
            while not stop.is_set():
                await asyncio.sleep(0.02)

    def run() -> None:
        try:
            link.far.call(lambda: asyncio.run(serve()))
        except BaseException as exc:  # handed to the caller's thread
            started.put(exc)

    thread = threading.Thread(target=run, name="media-far", daemon=True)
    thread.start()
    try:
        ready = started.get(timeout=CONNECT_TIMEOUT_S)
        if isinstance(ready, BaseException):
            raise ready
        yield ready
    finally:
        stop.set()
        thread.join(CONNECT_TIMEOUT_S)


async def _phase(
    kinds: tuple[str, ...],
    *,
    rtt_ms: float,
    loss_pct: float,
    deadline_ms: float,
    random_state: int,
    kernel: DelayedLink | None,
) -> dict[tuple[str, str], FrameStats]:
    """One phase: both transports at once, loss (if any) switched on once both are up.

    With ``kernel``, this runs in its near namespace: the peers on its loopback, the
    WebSocket across the link from the far namespace (the kernels see the round trip), and
    iptables drops packets of both. Without, the round trip and the loss are added in user
    space: below SRTP for RTP, in the fault proxy for the WebSocket."""
    from selector.runtime.rtc.ice import impair_path
    from selector.runtime.rtc.peer import open_peer
    from selector.runtime.server.app import running_server
    from selector.runtime.server.settings import ServerSettings

    loop = asyncio.get_running_loop()
    log = _RtpLog()
    arrived_ws: dict[tuple[str, int], float] = {}
    network = Network(rtt_ms=rtt_ms, loss_pct=loss_pct, source="media experiment")
    with _recording_sends(log), contextlib.ExitStack() as loss:
        async with contextlib.AsyncExitStack() as stack:
            _hub, port = await stack.enter_async_context(
                running_server(ServerSettings(host="127.0.0.1", port=0))
            )
            if kernel is not None:
                ws_port, sent_ws = stack.enter_context(_far_frame_server(kernel))
                ws_url = f"http://{kernel.far_address}:{ws_port}"
            else:
                ws_port, sent_ws = await stack.enter_async_context(_frame_server())
                policy = FaultPolicy(network=network, random_state=random_state)
                proxy = await stack.enter_async_context(FaultProxy(("127.0.0.1", ws_port), policy))
                ws_url = f"http://127.0.0.1:{proxy.port}"
            peer = await open_peer(
                f"http://127.0.0.1:{port}", "media", [], timeout=CONNECT_TIMEOUT_S, media=kinds
            )
            stack.push_async_callback(peer.close)
            ssrc_kinds = _record_arrivals(peer.pc, log)
            rng = random.Random(f"{random_state}:media:{loss_pct}")
            impairment = impair_path(peer.pc, rtt_ms / 2000, rng)
            session = await stack.enter_async_context(aiohttp.ClientSession())
            ws = await stack.enter_async_context(
                session.ws_connect(f"{ws_url}/frames?kinds={','.join(kinds)}")
            )

            async def read() -> None:
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.BINARY:
                        kind, n = _HEADER.unpack_from(message.data)
                        arrived_ws[(_KINDS[kind], n)] = loop.time()

            reader = asyncio.create_task(read())
            await asyncio.sleep(rtt_ms / 1000 + 0.2)  # both streams flowing
            if loss_pct and kernel is not None:
                udp = ("-p", "udp")
                loss.enter_context(kernel.near.drop(loss_pct, match=udp))
                loss.enter_context(kernel.near.drop(loss_pct, interface=kernel.near_interface))
            elif loss_pct:
                impairment.loss_rate = loss_pct / 100
            window = (loop.time(), loop.time() + ACTIVE_S)
            await asyncio.sleep(ACTIVE_S + DRAIN_S)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    rtp = _rtp_frames(log, ssrc_kinds, window)
    result: dict[tuple[str, str], FrameStats] = {}
    for kind in kinds:
        result[("rtp", kind)] = _stats(rtp.get(kind, []), deadline_ms)
        ws_times = [
            (sent, arrived_ws.get(key))
            for key, sent in dict(sent_ws).items()
            if key[0] == kind and window[0] <= sent < window[1]
        ]
        result[("websocket", kind)] = _stats(ws_times, deadline_ms)
    return result


async def _both_phases(
    kinds: tuple[str, ...],
    *,
    rtt_ms: float,
    loss_pct: float,
    deadline_ms: float,
    random_state: int,
    kernel: DelayedLink | None,
) -> dict[tuple[str, str, str], FrameStats]:
    stats: dict[tuple[str, str, str], FrameStats] = {}
    for phase, loss in (("clean", 0.0), ("lossy", loss_pct)):
        measured = await _phase(
            kinds,
            rtt_ms=rtt_ms,
            loss_pct=loss,
            deadline_ms=deadline_ms,
            random_state=random_state,
            kernel=kernel,
        )
        for (transport, kind), value in measured.items():
            stats[(transport, kind, phase)] = value
    return stats


async def measure_media(
    kinds: tuple[str, ...],
    *,
    rtt_ms: float,
    loss_pct: float,
    deadline_ms: float,
    random_state: int = 0,
    kernel: bool | None = None,
) -> MediaResult:
    """Run the experiment: RTP and WebSocket, clean then with ``loss_pct`` % loss, with
    ``rtt_ms`` for both. ``kernel``: True to require real loss in a namespace, False for the
    model, None for real loss when this machine allows it."""
    why = kernel_loss_unavailable() if kernel is not False else "the model was asked for"
    if kernel and why is not None:
        raise OSError(f"kernel loss unavailable: {why}")
    phases = functools.partial(
        _both_phases,
        kinds,
        rtt_ms=rtt_ms,
        loss_pct=loss_pct,
        deadline_ms=deadline_ms,
        random_state=random_state,
    )
    stats: dict[tuple[str, str, str], FrameStats] | None = None
    in_kernel = False
    if why is None:
        try:
            with delayed_link(rtt_ms / 2000) as link:
                # The experiment runs in a thread inside the near namespace (the frame server
                # in one inside the far one).
                stats = await asyncio.to_thread(
                    link.near.call, lambda: asyncio.run(phases(kernel=link))
                )
        except (OSError, subprocess.SubprocessError) as exc:
            if kernel:
                raise
            why = f"the network namespaces and their link could not be made: {exc}"
        else:
            in_kernel = True
            how = (
                f"real packet loss in the kernel: iptables drops {loss_pct:g} % of the UDP "
                "packets between the peers and of the packets on the WebSocket's link, between "
                f"network namespaces {link.near.name} and {link.far.name}; the link delays each "
                "packet by half the round trip, so TCP sees it (the peers' round trip is added "
                "in user space, below SRTP)"
            )
    if stats is None:
        stats = await phases(kernel=None)
        how = (
            f"loss modelled, not in the kernel ({why}): {loss_pct:g} % of datagrams dropped in "
            "user space below SRTP; the fault proxy holds a lost TCP chunk for a "
            "retransmission timeout"
        )
    return MediaResult(
        kinds=kinds,
        rtt_ms=rtt_ms,
        loss_pct=loss_pct,
        deadline_ms=deadline_ms,
        loss_how=how,
        in_kernel=in_kernel,
        stats=stats,
    )


# --- the factor --------------------------------------------------------------------------

#: What the experiment gives the rule's claim when the run emulates no loss of its own.
DEFAULT_LOSS_PCT = 5.0


def _kind_text(result: MediaResult, kind: str, phase: str) -> str:
    parts = []
    for transport, name in (("rtp", "RTP"), ("websocket", "WebSocket")):
        s = result.stats[(transport, kind, phase)]
        p50 = "n/a" if s.p50_ms is None else f"{s.p50_ms:.0f}"
        p99 = "n/a" if s.p99_ms is None else f"{s.p99_ms:.0f}"
        parts.append(f"{name} {s.lost} lost, {s.late} late of {s.sent}, p50/p99 {p50}/{p99} ms")
    return f"{kind}: " + "; ".join(parts)


def media_factor(rule: str, protocol: str, result: MediaResult, *, favours_rtp: bool) -> Factor:
    """``media-over-rtp`` for ``protocol``, judged against the rule's side: a rule favouring
    RTP (``media-needs-rtp``) predicts fewer frames missing their deadline over RTP than over
    a WebSocket under the same loss; a rule favouring the WebSocket
    (``server-to-server-audio``) predicts no more over the WebSocket than over RTP."""
    from selector.verify.verdict import Claim, Factor

    rtp, ws = result.total("rtp", "lossy"), result.total("websocket", "lossy")
    rtp0, ws0 = result.total("rtp", "clean"), result.total("websocket", "clean")
    conditions = (
        f"{result.loss_pct:g} % loss, {result.rtt_ms:g} ms round trip, deadline "
        f"{result.deadline_ms:g} ms (the profile's latency budget)"
    )
    if favours_rtp:
        text = (
            f"under {conditions}: fewer frames miss the deadline over RTP than over a "
            "WebSocket; a lost packet costs its own frame, while TCP holds the frames behind "
            "a lost segment until it is retransmitted"
        )
        held = rtp.unusable < ws.unusable
    else:
        text = (
            f"under {conditions}: no more frames miss the deadline over a WebSocket than over "
            "RTP; TCP's retransmissions fit in the budget, and RTP loses the frames it drops"
        )
        held = ws.unusable <= rtp.unusable
    measured = Claim(
        text="; ".join(_kind_text(result, kind, "lossy") for kind in result.kinds)
        + f" (without loss: RTP {rtp0.unusable}, WebSocket {ws0.unusable} of "
        f"{rtp0.sent} missed; {result.loss_how})",
        values={
            "rtp_lost": float(rtp.lost),
            "rtp_late": float(rtp.late),
            "websocket_lost": float(ws.lost),
            "websocket_late": float(ws.late),
            "frames": float(rtp.sent),
            "rtp_unusable_clean": float(rtp0.unusable),
            "websocket_unusable_clean": float(ws0.unusable),
            "loss_in_kernel": 1.0 if result.in_kernel else 0.0,
        },
    )
    why = f"{rtp.unusable} frames missed over RTP against {ws.unusable} over the WebSocket"
    if result.in_kernel:
        why += (
            "; TCP here is Linux's own, over a link that delays every packet by half the "
            "round trip: RACK-TLP (RFC 8985) recovers most losses within about a round trip, "
            "so whether a WebSocket misses the deadline depends on the round trip and budget"
        )
    else:
        why += (
            "; the model holds each lost TCP chunk for a full retransmission timeout (200 ms "
            "at least), which Linux's RACK-TLP (RFC 8985) mostly avoids: pessimistic for the "
            "WebSocket"
        )
    return Factor(
        rule=rule,
        evidence="media-over-rtp",
        protocol=protocol,
        prediction=Claim(text=text, values={"deadline_ms": result.deadline_ms}),
        measured=measured,
        outcome="supported" if held else "contradicted",
        why=why,
    )
