"""WebRTC as a verification candidate: real aiortc peers against the runtime's ``/rtc``.

Each sampled client is a peer connection to the runtime, set up over the runtime's own
WebSocket, with ICE on loopback (the selected pair is checked). A client sends probes at the
profile's upstream rate and size on the data channel its guarantee calls for; the runtime's
peer answers each with a reply of the downstream size, so one-way latencies in both directions
and the round trip come off one clock. The runtime's log says what it received.

Two runs side by side, as for the other protocols: the *planned* one on the channel the
profile calls for, and a *control* on the API default (reliable, ordered), which is what an
application gets without configuring anything. Both run on a clean loopback path, like the
WebSocket and SSE runs; a best-effort profile also gets both under packet loss (dropped in
user space below DTLS), where the claim "no head-of-line blocking" can be seen: the planned
channel loses messages but keeps its latency, the default one keeps every message late.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from selector.profile import Profile
from selector.runtime.rtc import RtcUnavailableError
from selector.runtime.rtc.channels import (
    DEFAULT_CHANNEL,
    HEADER_BYTES,
    PORTABLE_MESSAGE_BYTES,
    SCTP_DEFAULT_MESSAGE_BYTES,
    ChannelSpec,
    channel_for,
)
from selector.runtime.rtc.ice import (
    ConsentTimers,
    consent_timers,
    default_consent_timers,
    drop_datagrams,
    go_dark,
)
from selector.runtime.rtc.peer import ChannelClosedError, RtcPeer, SignallingError, open_peer
from selector.runtime.rtc.turn import TurnRelay, TurnUnavailableError, coturn
from selector.verify.evidence import (
    DirectionEvidence,
    RunEvidence,
    distribution,
    downstream_evidence,
    percentile,
    upstream_evidence,
)
from selector.verify.verdict import CandidateReport, Check, check_run, shows_failure

__all__ = ["LOSS_RATE", "RtcLoad", "RtcRun", "rtc_load", "run_rtc", "webrtc_candidate"]

Progress = Callable[[str], None]

#: Peers in a run: each is a full ICE + DTLS + SCTP stack in this process.
MAX_PEERS = 5
#: Seconds of traffic in a run (wall clock).
ACTIVE_S = 2.0
#: Fewest probes per peer in a run, and the cap on the sample's total probe rate.
MIN_PROBES = 6
MAX_TOTAL_RATE_HZ = 1500.0
#: Bytes per second (both directions) the whole sample may carry: aiortc encrypts and
#: frames every packet in Python, so above this the run measures this machine's CPU, not
#: the channel. Fewer peers are sampled to stay under it (one at least).
MAX_SAMPLE_BYTES_PER_S = 1_000_000
#: Waits for late replies: a reliable channel may need SCTP's retransmission timeout (1 s
#: minimum in aiortc) to recover a lost packet.
DRAIN_RELIABLE_S = 3.0
DRAIN_UNRELIABLE_S = 0.5
CONNECT_TIMEOUT_S = 10.0
LEAVE_TIMEOUT_S = 3.0
#: Packet loss of the extra runs for best-effort profiles, each way.
LOSS_RATE = 0.05
#: The planned channel's p99 under loss may be this much above its loss-free p99 ...
LOSS_P99_FACTOR = 2.0
#: ... or this many milliseconds above it, whichever is larger: loopback p99s of a few
#: milliseconds double on scheduling noise alone on a busy machine, while waiting for a
#: retransmission costs far more (TCP's minimum timeout is 200 ms, aiortc's SCTP's 1 s).
LOSS_P99_FLOOR_MS = 50.0
#: ICE consent timers are compressed so a dead path is declared within about this long ...
CONSENT_DETECTION_WALL_S = 3.0
#: ... but a consent check is given at least this long to be answered: on a busy 2-core
#: machine a STUN answer can take tens of milliseconds, and six late ones in a row would
#: kill a healthy connection.
MIN_CONSENT_RTO_S = 0.15
#: The channel the message size limits are measured on.
LIMITS_CHANNEL = ChannelSpec(label="limits", ordered=True, max_retransmits=None)


@dataclass(frozen=True)
class RtcLoad:
    """The sampled peers, and what each sends: probe rate, probe size, reply size (the
    downstream payload)."""

    peers: int
    rate_hz: float
    up_bytes: int
    down_bytes: int
    notes: tuple[str, ...]


def rtc_load(profile: Profile, clients: int) -> RtcLoad:
    """The probe load for ``profile`` with at most ``clients`` sampled peers (pure)."""
    up = profile.traffic.client_to_server
    down = profile.traffic.server_to_client
    up_bytes = max(HEADER_BYTES, up.payload_bytes if up else HEADER_BYTES)
    down_bytes = max(HEADER_BYTES, down.payload_bytes if down else HEADER_BYTES)
    profile_rate = max((d.rate_hz for d in (up, down) if d is not None), default=0.0)
    wanted = max(1, min(clients, MAX_PEERS, profile.scale.concurrent_connections))
    rate = max(profile_rate, MIN_PROBES / ACTIVE_S)
    per_peer = rate * (up_bytes + down_bytes)
    peers = max(1, min(wanted, int(MAX_SAMPLE_BYTES_PER_S // per_peer)))
    rate = min(rate, MAX_TOTAL_RATE_HZ / peers)
    notes = [
        f"WebRTC: {peers} peer connection(s) to the runtime over /rtc, ICE on loopback only; "
        "downstream messages are the runtime's replies to the upstream ones, "
        f"at {rate:g} Hz per peer"
    ]
    if peers < wanted:
        notes.append(
            f"WebRTC: {peers} peer(s) instead of {wanted}, to keep the sample under "
            f"{MAX_SAMPLE_BYTES_PER_S:,} B/s (aiortc handles every packet in Python)"
        )
    if rate > profile_rate:
        notes.append(f"WebRTC: rate raised from {profile_rate:g} Hz to {rate:g} Hz")
    return RtcLoad(
        peers=peers, rate_hz=rate, up_bytes=up_bytes, down_bytes=down_bytes, notes=tuple(notes)
    )


@dataclass
class RtcRun:
    """One WebRTC run: its evidence and what the peers showed about the stack."""

    evidence: RunEvidence
    channel: ChannelSpec
    loss_rate: float
    loopback_pairs: int
    #: Selected pairs whose local end is a TURN relay candidate.
    relayed_pairs: int
    setup_ms: list[float]
    max_message_size: int | None
    #: Probe size -> delivered intact (and its reply too) on a reliable channel.
    limits: dict[int, bool] = field(default_factory=dict)
    #: After the dark path: seconds from the path coming back to the first reply on the new
    #: session each client negotiated over ``/rtc``.
    recovery_s: list[float] = field(default_factory=list)

    @property
    def round_trip_p99_ms(self) -> float | None:
        """p99 of probe send to reply arrival."""
        return self.evidence.ack_rtt_ms.p99


def _sum(parts: list[DirectionEvidence]) -> DirectionEvidence:
    return DirectionEvidence(
        sent=sum(p.sent for p in parts),
        delivered=sum(p.delivered for p in parts),
        lost=sum(p.lost for p in parts),
        duplicated=sum(p.duplicated for p in parts),
        out_of_order=sum(p.out_of_order for p in parts),
    )


async def _rtc_log(session: aiohttp.ClientSession, url: str) -> tuple[int, list[list[str]]]:
    async with session.get(f"{url}/rtc/log") as response:
        body = await response.json()
    return int(body["open_peers"]), list(body["received"])


async def _open_peers(
    url: str, channel: ChannelSpec, peers: int, relay: TurnRelay | None
) -> list[RtcPeer]:
    """Every peer, or none: those that connected are closed when one fails."""
    results = await asyncio.gather(
        *(
            open_peer(
                url,
                f"rtc-{i}",
                [channel, LIMITS_CHANNEL] if i == 0 else [channel],
                timeout=CONNECT_TIMEOUT_S,
                relay=relay,
            )
            for i in range(peers)
        ),
        return_exceptions=True,
    )
    opened = [r for r in results if isinstance(r, RtcPeer)]
    failed = [r for r in results if not isinstance(r, RtcPeer)]
    if failed:
        await asyncio.gather(*(p.close() for p in opened))
        raise failed[0]
    return opened


async def _measure_limits(peer: RtcPeer) -> dict[int, bool]:
    """Send the portable (16 KiB) and SCTP default (64 KiB) sizes on a reliable channel and
    see whether each arrives, and comes back, at its size."""
    sizes = (PORTABLE_MESSAGE_BYTES, SCTP_DEFAULT_MESSAGE_BYTES)
    loop = asyncio.get_running_loop()
    for seq, size in enumerate(sizes):
        with contextlib.suppress(ValueError):  # over the advertised limit: not delivered
            peer.send(LIMITS_CHANNEL.label, seq, size, reply_bytes=size)
    deadline = loop.time() + CONNECT_TIMEOUT_S / 2
    while loop.time() < deadline and len(peer.replies.get(LIMITS_CHANNEL.label, [])) < 2:
        await asyncio.sleep(0.01)
    delivered = dict.fromkeys(sizes, False)
    for reply in peer.replies.get(LIMITS_CHANNEL.label, []):
        delivered[sizes[reply.seq]] = reply.size == sizes[reply.seq]
    return delivered


async def _send_probes(
    peer: RtcPeer, channel: ChannelSpec, load: RtcLoad, sent: list[int], rng: random.Random
) -> None:
    loop = asyncio.get_running_loop()
    interval = 1.0 / load.rate_hz
    start = loop.time() + rng.uniform(0, interval)
    for seq in range(int(ACTIVE_S * load.rate_hz)):
        await asyncio.sleep(max(0.0, start + seq * interval - loop.time()))
        try:
            peer.send(channel.label, seq, load.up_bytes, reply_bytes=load.down_bytes)
        except ChannelClosedError:
            # The connection died under the run: what was not sent counts as lost.
            sent.extend(range(seq, int(ACTIVE_S * load.rate_hz)))
            return
        sent.append(seq)


async def _drain(peers: list[RtcPeer], label: str, sent: dict[str, list[int]], wait: float) -> None:
    """Wait, at most ``wait`` seconds, for a reply to every probe."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while loop.time() < deadline and not all(
        len(p.replies.get(label, [])) >= len(sent[p.client_id]) for p in peers
    ):
        await asyncio.sleep(0.02)


async def run_rtc(
    profile: Profile,
    channel: ChannelSpec,
    *,
    mode: str,
    peers: int,
    load: RtcLoad,
    loss_rate: float = 0.0,
    random_state: int = 0,
    relay: TurnRelay | None = None,
    timers: ConsentTimers | None = None,
    outage: bool = False,
) -> RtcRun:
    """One run of ``peers`` peers on ``channel`` against a fresh runtime on 127.0.0.1, with
    ``loss_rate`` of the datagrams each way dropped once the channels are open; with
    ``relay``, the clients reach the runtime through that TURN server only. ICE consent
    runs on ``timers`` (default: aioice's); with ``outage`` the run ends with the path going
    dark, and each client's time to notice is measured against ``timers``' worst case."""
    with contextlib.ExitStack() as stack:
        if timers is not None:
            stack.enter_context(consent_timers(timers))
        return await _run_rtc(
            profile,
            channel,
            mode=mode,
            peers=peers,
            load=load,
            loss_rate=loss_rate,
            random_state=random_state,
            relay=relay,
            outage=timers if outage else None,
        )


async def _outage(clients: list[RtcPeer], timers: ConsentTimers) -> dict[str, float]:
    """Take every client's path dark; how long each took to declare its connection dead,
    by client id (those that never noticed are absent)."""
    loop = asyncio.get_running_loop()
    dark_at = loop.time()
    noticed: dict[str, float] = {}
    for peer in clients:

        def on_state(peer: RtcPeer = peer) -> None:
            if peer.pc.connectionState in ("failed", "closed"):
                noticed.setdefault(peer.client_id, loop.time() - dark_at)

        peer.pc.on("connectionstatechange", on_state)
        go_dark(peer.pc)
    deadline = dark_at + timers.worst_detection_s * 1.5 + 0.5
    while len(noticed) < len(clients) and loop.time() < deadline:
        await asyncio.sleep(0.02)
    return noticed


#: The channel a client opens on the session it negotiates after a dark path: a label of its
#: own, so its probes stay out of the run's delivery figures.
RECOVERY_LABEL = "recovered"
#: Probes sent on the new session until one is answered (a best-effort channel may lose one).
RECOVERY_PROBES = 5
RECOVERY_ANSWER_S = 0.2


async def _recover(
    url: str,
    channel: ChannelSpec,
    failed: list[RtcPeer],
    relay: TurnRelay | None,
    load: RtcLoad,
) -> tuple[list[float], list[RtcPeer]]:
    """Once the path is back, each client whose connection failed negotiates a new session
    over ``/rtc`` (aiortc has no ICE restart): seconds from the path coming back to the first
    reply on the new session's channel, and the new peers (the caller closes them)."""
    loop = asyncio.get_running_loop()
    spec = ChannelSpec(RECOVERY_LABEL, channel.ordered, channel.max_retransmits)

    async def one(peer: RtcPeer) -> tuple[float | None, RtcPeer | None]:
        back = loop.time()
        await peer.close()  # the failed session: its connection and signalling WebSocket
        try:
            new = await open_peer(
                url, peer.client_id, [spec], timeout=CONNECT_TIMEOUT_S, relay=relay
            )
        except SignallingError:
            return None, None
        for seq in range(RECOVERY_PROBES):
            with contextlib.suppress(ChannelClosedError):
                new.send(RECOVERY_LABEL, seq, load.up_bytes, reply_bytes=load.down_bytes)
            answer_by = loop.time() + RECOVERY_ANSWER_S
            while loop.time() < answer_by and not new.replies.get(RECOVERY_LABEL):
                await asyncio.sleep(0.005)
            if new.replies.get(RECOVERY_LABEL):
                return new.replies[RECOVERY_LABEL][0].received_at - back, new
        return None, new

    results = await asyncio.gather(*(one(p) for p in failed))
    times = [t for t, _ in results if t is not None]
    peers = [p for _, p in results if p is not None]
    return times, peers


async def _run_rtc(
    profile: Profile,
    channel: ChannelSpec,
    *,
    mode: str,
    peers: int,
    load: RtcLoad,
    loss_rate: float,
    random_state: int,
    relay: TurnRelay | None,
    outage: ConsentTimers | None,
) -> RtcRun:
    """:func:`run_rtc` with the consent timers in place."""
    from selector.runtime.server.app import running_server
    from selector.runtime.server.settings import ServerSettings

    loop = asyncio.get_running_loop()
    started = loop.time()
    rng = random.Random(f"{random_state}:{mode}:{channel.label}:{loss_rate}")
    sent: dict[str, list[int]] = {}
    async with running_server(ServerSettings(host="127.0.0.1", port=0)) as (_hub, port):
        url = f"http://127.0.0.1:{port}"
        clients = await _open_peers(url, channel, peers, relay)
        try:
            limits = await _measure_limits(clients[0])
            for i, peer in enumerate(clients):
                if loss_rate:
                    drop_datagrams(
                        peer.pc, loss_rate, random.Random(f"{random_state}:{i}:{loss_rate}")
                    )
                sent[peer.client_id] = []
            await asyncio.gather(
                *(_send_probes(p, channel, load, sent[p.client_id], rng) for p in clients)
            )
            drain = DRAIN_RELIABLE_S if channel.reliable else DRAIN_UNRELIABLE_S
            await _drain(clients, channel.label, sent, drain)
            pairs = [p.pair for p in clients]
            replies = {p.client_id: list(p.replies.get(channel.label, [])) for p in clients}
            setup_ms = [p.setup_s * 1000 for p in clients]
            max_size = clients[0].max_message_size
            detections: list[float] = []
            recoveries: list[float] = []
            if outage is not None:
                noticed = await _outage(clients, outage)
                detections = list(noticed.values())
                # The path comes back once every client noticed (or gave up waiting): each
                # that noticed negotiates a new session.
                failed = [p for p in clients if p.client_id in noticed]
                clients = [p for p in clients if p.client_id not in noticed]
                recoveries, recovered = await _recover(url, channel, failed, relay, load)
                clients += recovered
        finally:
            closing = clients
            clients = []
            await asyncio.gather(*(p.close() for p in closing))
        # What the runtime received, and whether it let go of every peer once they left.
        async with aiohttp.ClientSession() as session:
            leaked, received = await _rtc_log(session, url)
            leave_deadline = loop.time() + LEAVE_TIMEOUT_S
            while leaked and loop.time() < leave_deadline:
                await asyncio.sleep(0.02)
                leaked, received = await _rtc_log(session, url)
    applied = [(client, int(seq)) for client, label, seq in received if label == channel.label]
    downstream = None
    if profile.traffic.server_to_client is not None:
        downstream = _sum(
            [
                downstream_evidence(
                    [seq for client, seq in applied if client == client_id],
                    {client_id: [r.seq for r in replies[client_id]]},
                )
                for client_id in sent
            ]
        )
    upstream = None
    if profile.traffic.client_to_server is not None:
        upstream = upstream_evidence(sent, applied)
    every = [r for rs in replies.values() for r in rs]
    evidence = RunEvidence(
        mode=mode,
        server_to_client=downstream,
        client_to_server=upstream,
        ack_rtt_ms=distribution([(r.received_at - r.sent_at) * 1000 for r in every]),
        delivery_latency_ms=distribution([(r.received_at - r.server_at) * 1000 for r in every]),
        detection_s=distribution(detections),
        detection_bound_s=outage.worst_detection_s if outage is not None else None,
        undetected=peers - len(detections) if outage is not None else 0,
        reconnects=len(recoveries),
        resumes=0,
        resyncs=0,
        wire_bytes_per_message=None,
        leaked_connections=leaked,
        proxy_faults={},
        duration_s=loop.time() - started,
    )
    return RtcRun(
        evidence=evidence,
        channel=channel,
        loss_rate=loss_rate,
        loopback_pairs=sum(1 for p in pairs if p is not None and p.loopback),
        relayed_pairs=sum(1 for p in pairs if p is not None and p.local_type == "relay"),
        setup_ms=setup_ms,
        max_message_size=max_size,
        limits=limits,
        recovery_s=recoveries,
    )


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g} ms"


def _rtc_checks(
    profile: Profile, planned: RtcRun, peers: int, lossy: tuple[RtcRun, RtcRun] | None
) -> list[Check]:
    checks = []
    if not profile.infrastructure.udp_allowed:
        checks.append(
            Check(
                requirement="turn-relay",
                passed=planned.relayed_pairs == peers,
                hard=True,
                measured=f"{planned.relayed_pairs} of {peers} selected pairs through the "
                "TURN relay (TCP to coturn)",
                expected="every peer relayed: udp_allowed is false",
            )
        )
    noticed = peers - planned.evidence.undetected
    checks.append(
        Check(
            requirement="new-session-after-dark-path",
            passed=len(planned.recovery_s) == noticed,
            hard=False,
            measured=f"{len(planned.recovery_s)} of {noticed} clients that noticed the dark "
            "path answered on a new session",
            expected="every client back on a new session negotiated over /rtc (aiortc has no "
            "ICE restart)",
        )
    )
    checks += [
        Check(
            requirement="ice-loopback",
            passed=planned.loopback_pairs == peers,
            hard=True,
            measured=f"{planned.loopback_pairs} of {peers} selected candidate pairs on loopback",
            expected="every pair on loopback (no STUN, no other interface)",
        )
    ]
    payloads = [
        d.payload_bytes
        for d in (profile.traffic.client_to_server, profile.traffic.server_to_client)
        if d is not None
    ]
    largest = max(payloads, default=0)
    delivered = ", ".join(
        f"{size // 1024} KiB {'delivered' if ok else 'not delivered'}"
        for size, ok in planned.limits.items()
    )
    checks.append(
        Check(
            requirement="message-size-portable",
            passed=largest <= PORTABLE_MESSAGE_BYTES,
            hard=False,
            measured=f"largest payload {largest} B; peer advertised max-message-size "
            f"{planned.max_message_size} B; {delivered}",
            expected=f"<= {PORTABLE_MESSAGE_BYTES} B, the size every browser pair carries intact",
        )
    )
    if lossy is not None:
        clean = planned.round_trip_p99_ms
        under_loss = lossy[0].round_trip_p99_ms
        allowed = None
        if clean is not None:
            allowed = max(clean * LOSS_P99_FACTOR, clean + LOSS_P99_FLOOR_MS)
        checks.append(
            Check(
                requirement="no-head-of-line-blocking",
                passed=under_loss is not None and allowed is not None and under_loss <= allowed,
                hard=False,
                measured=f"round trip p99 {_ms(under_loss)} under {LOSS_RATE:.0%} loss, "
                f"{_ms(clean)} without (default reliable channel: "
                f"{_ms(lossy[1].round_trip_p99_ms)})",
                expected=f"<= {_ms(allowed)} ({LOSS_P99_FACTOR:g}x the loss-free p99, or "
                f"{LOSS_P99_FLOOR_MS:g} ms above it): a lost message does not hold back the "
                "next ones",
            )
        )
    return checks


#: What recovery after a dark path is here, and what it would be in a browser.
NOT_ICE_RESTART = (
    "WebRTC: recovery is a new session, not an ICE restart: aiortc has no restartIce(), so "
    "each client makes a new peer connection over /rtc (new ICE, DTLS handshake, SCTP "
    "association and data channels; what was in flight on the old channels is lost). A "
    "browser would call RTCPeerConnection.restartIce() "
    "(https://developer.mozilla.org/en-US/docs/Web/API/RTCPeerConnection/restartIce, RFC 8445 "
    "section 9): new candidates are gathered and checked while the DTLS session, the SCTP "
    "association and the open channels are kept"
)


def _recovery_note(run: RtcRun, peers: int, relayed: bool) -> str:
    back = run.recovery_s
    where = " through the TURN relay" if relayed else ""
    if not back:
        return f"WebRTC after the dark path{where}: no client got a new session to answer"
    p50 = percentile(back, 50) or 0.0  # back is not empty
    return (
        f"WebRTC after the dark path{where}: {len(back)} of {peers} clients back on a new "
        f"session negotiated over /rtc, first reply p50 {_ms(p50 * 1000)} "
        f"(max {_ms(max(back) * 1000)}) after the path came back"
    )


def _loss_note(run: RtcRun) -> str:
    lost = sum(
        d.lost
        for d in (run.evidence.client_to_server, run.evidence.server_to_client)
        if d is not None
    )
    total = sum(
        d.sent
        for d in (run.evidence.client_to_server, run.evidence.server_to_client)
        if d is not None
    )
    return (
        f"WebRTC under {run.loss_rate:.0%} packet loss each way, {run.channel.label} channel: "
        f"{lost} of {total} messages lost, round trip p99 {_ms(run.round_trip_p99_ms)}"
    )


async def _runs(
    profile: Profile,
    planned_channel: ChannelSpec,
    load: RtcLoad,
    random_state: int,
    progress: Progress,
    timers: ConsentTimers,
    relay: TurnRelay | None = None,
) -> tuple[RtcRun, RtcRun, tuple[RtcRun, RtcRun] | None]:
    """Planned and control runs, then both under loss for an unreliable channel. One run at
    a time: the peers share this process's CPU with each other."""
    run = functools.partial(
        run_rtc,
        profile,
        peers=load.peers,
        load=load,
        random_state=random_state,
        relay=relay,
        timers=timers,
    )
    # The planned run ends with the path going dark: ICE consent freshness must notice, and
    # each client comes back on a new session.
    progress(
        "webrtc: planned channel, then the path goes dark"
        + (" (through the TURN relay)" if relay is not None else "")
        + " and each client negotiates a new session"
    )
    planned = await run(planned_channel, mode="planned", outage=True)
    progress("webrtc: control on the default channel")
    control = await run(DEFAULT_CHANNEL, mode="naive")
    if planned_channel.reliable:
        return planned, control, None
    progress(f"webrtc: both channels again under {LOSS_RATE:.0%} packet loss")
    lossy = (
        await run(planned_channel, mode="planned", loss_rate=LOSS_RATE),
        await run(DEFAULT_CHANNEL, mode="naive", loss_rate=LOSS_RATE),
    )
    return planned, control, lossy


async def webrtc_candidate(
    profile: Profile, *, clients: int, random_state: int, progress: Progress
) -> CandidateReport:
    """Verify WebRTC for ``profile``: planned and control runs, and for a best-effort profile
    both again under packet loss. Not verified (with the reason) when aiortc is missing or
    the run could not happen here."""
    from selector.runtime.rtc.ice import check_versions

    try:
        check_versions()
    except RtcUnavailableError as exc:
        return CandidateReport(protocol="webrtc", verified=False, reason=str(exc))
    load = rtc_load(profile, clients)
    peers = load.peers
    planned_channel = channel_for(profile.delivery.guarantee)
    unscaled = default_consent_timers()
    scale = CONSENT_DETECTION_WALL_S / unscaled.worst_detection_s
    timers = unscaled.scaled(scale, min_rto_s=MIN_CONSENT_RTO_S)
    extra: list[str] = [
        f"WebRTC: ICE consent timers scaled by {scale:.3g}: a check every "
        f"{timers.interval_s:.3g} s, the path abandoned after {timers.failures} failed checks "
        f"(worst {timers.worst_detection_s:.3g} s; unscaled, aioice's "
        f"{unscaled.worst_detection_s:.3g} s against the 30 s of RFC 7675 the plan assumes)"
    ]
    try:
        if profile.infrastructure.udp_allowed:
            planned, control, lossy = await _runs(
                profile, planned_channel, load, random_state, progress, timers
            )
        else:
            progress("webrtc: udp_allowed is false: starting coturn on 127.0.0.1 (TURN over TCP)")
            direct = await run_rtc(
                profile,
                planned_channel,
                mode="planned",
                peers=peers,
                load=load,
                random_state=random_state,
                timers=timers,
            )
            async with coturn() as relay:
                planned, control, lossy = await _runs(
                    profile, planned_channel, load, random_state, progress, timers, relay
                )
            extra.append(
                f"WebRTC through a TURN relay (coturn on 127.0.0.1, TCP) because udp_allowed is "
                f"false: setup p50 {_ms(percentile(planned.setup_ms, 50))} "
                f"(direct {_ms(percentile(direct.setup_ms, 50))}), round trip p99 "
                f"{_ms(planned.round_trip_p99_ms)} (direct {_ms(direct.round_trip_p99_ms)})"
            )
    except TurnUnavailableError as exc:
        reason = f"udp_allowed is false, so WebRTC needs a TURN relay: {exc}"
        return CandidateReport(protocol="webrtc", verified=False, reason=reason)
    except (SignallingError, OSError, TimeoutError) as exc:
        reason = f"the WebRTC run could not happen here: {exc}"
        return CandidateReport(protocol="webrtc", verified=False, reason=reason)
    checks = (
        *check_run(profile, planned.evidence, idle_hop=None),
        *_rtc_checks(profile, planned, peers, lossy),
    )
    setup = percentile(planned.setup_ms, 50)
    notes = [
        *load.notes,
        f"WebRTC: planned channel {planned_channel.label} (ordered={planned_channel.ordered}, "
        f"maxRetransmits={planned_channel.max_retransmits}); control: the API default "
        "(reliable, ordered)",
        f"WebRTC setup (signalling, ICE, DTLS, SCTP) p50 {_ms(setup)}",
        *extra,
        _recovery_note(planned, peers, not profile.infrastructure.udp_allowed),
        NOT_ICE_RESTART,
        "WebRTC: media over RTP is measured by the media-over-rtp experiment of the media "
        "rules (a factor), where the profile has media",
    ]
    control_failed = shows_failure(control.evidence)
    if lossy is not None:
        notes += [_loss_note(run) for run in lossy]
        late = lossy[1].round_trip_p99_ms
        control_failed = control_failed or (
            late is not None and late > profile.delivery.latency_p99_ms
        )
    return CandidateReport(
        protocol="webrtc",
        verified=True,
        planned=planned.evidence,
        naive=control.evidence,
        checks=checks,
        time_scale=scale,
        notes=tuple(notes),
        control_showed_failure=control_failed,
    )
