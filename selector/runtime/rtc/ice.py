"""ICE on loopback only: the one place that bends aiortc/aioice to stay on 127.0.0.1.

Two defaults would take a run off the machine: aiortc adds a public STUN server when it is
given no ICE server list, and aioice gathers host candidates on every interface *except*
127.0.0.1, which it skips on purpose. So peers get an explicit empty server list, and, while
:func:`loopback_ice` is active, aioice's host address lookup answers 127.0.0.1 only. That lookup
is a private function of aioice; the versions it was written against are pinned in the
``webrtc`` extra and checked here, and :func:`selected_pair` lets every run assert where its
packets actually went.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

from selector.runtime.rtc import RtcUnavailableError, require_aiortc

if TYPE_CHECKING:
    from aiortc import RTCConfiguration, RTCIceTransport, RTCPeerConnection

    from selector.runtime.rtc.turn import TurnRelay

__all__ = [
    "PINNED",
    "ConsentTimers",
    "Impairment",
    "SelectedPair",
    "check_versions",
    "consent_timers",
    "default_consent_timers",
    "drop_datagrams",
    "go_dark",
    "impair_path",
    "loopback_configuration",
    "loopback_ice",
    "selected_pair",
]

#: The versions whose internals this adapter relies on (kept equal to the extra's pins).
PINNED = {"aiortc": "1.16.0", "aioice": "0.13.0"}
LOOPBACK_ADDRESSES = ["127.0.0.1"]

_active = 0
_original: object = None


def check_versions() -> None:
    """Raise :class:`RtcUnavailableError` unless the pinned aiortc and aioice are installed."""
    require_aiortc()
    for name, version in PINNED.items():
        installed = metadata.version(name)
        if installed != version:
            raise RtcUnavailableError(
                f"{name} {installed} is installed but the loopback ICE adapter is written for "
                f"{version}: pip install 'realtime-protocol-selector[webrtc]'"
            )


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return list(LOOPBACK_ADDRESSES) if use_ipv4 else []


@contextlib.contextmanager
def loopback_ice() -> Iterator[None]:
    """While active, every ICE agent in this process gathers host candidates on 127.0.0.1
    only. Nestable; the original lookup is restored when the outermost block exits."""
    global _active, _original
    check_versions()
    import aioice.ice

    if _active == 0:
        _original = aioice.ice.get_host_addresses
        aioice.ice.get_host_addresses = _loopback_host_addresses
    _active += 1
    try:
        yield
    finally:
        _active -= 1
        if _active == 0:
            # Kept as object between patches: it holds the function the first patch replaced.
            aioice.ice.get_host_addresses = _original  # type: ignore[assignment]


def loopback_configuration(relay: TurnRelay | None = None) -> RTCConfiguration:
    """A peer configuration with no ICE servers at all (no STUN, no TURN); or, with
    ``relay``, that TURN server only and relayed candidates only (the path without UDP)."""
    from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

    if relay is None:
        return RTCConfiguration(iceServers=[])
    server = RTCIceServer(relay.url, username=relay.username, credential=relay.password)
    return RTCConfiguration(iceServers=[server], iceTransportPolicy=RTCIceTransportPolicy.RELAY)


@dataclass(frozen=True)
class SelectedPair:
    """The candidate pair ICE nominated: where the peer's packets go."""

    local: tuple[str, int]
    remote: tuple[str, int]
    #: The local candidate's type: "host", or "relay" through a TURN server.
    local_type: str

    @property
    def loopback(self) -> bool:
        """Both ends are loopback addresses."""
        return all(ipaddress.ip_address(host).is_loopback for host, _ in (self.local, self.remote))


def selected_pair(pc: RTCPeerConnection) -> SelectedPair | None:
    """The nominated pair of ``pc``'s data transport (None before ICE completes).

    Reads aioice's connection state (the pinned versions): the public API has no selected
    pair yet."""
    sctp = pc.sctp
    if sctp is None:
        return None
    connection = sctp.transport.transport._connection
    pair = connection._nominated.get(1)
    if pair is None:
        return None
    return SelectedPair(
        local=pair.local_addr, remote=pair.remote_addr, local_type=pair.local_candidate.type
    )


def drop_datagrams(pc: RTCPeerConnection, rate: float, rng: random.Random) -> None:
    """From now on drop each datagram ``pc`` sends or receives with probability ``rate``.

    Packet loss in user space, below DTLS and SCTP, for a path the run cannot degrade from
    outside (no ``tc`` on the machine, or no root): SCTP sees a lossy network and its
    retransmissions, or their absence on a partially reliable channel, are the real ones.
    Wraps the ICE transport's send and receive (the pinned versions' internals)."""
    if not 0 <= rate < 1:
        raise ValueError("rate must be in [0, 1)")
    sctp = pc.sctp
    if sctp is None:
        raise ValueError("the peer connection has no data transport yet")
    ice = sctp.transport.transport
    send: Callable[[bytes], Awaitable[None]] = ice._send
    recv: Callable[[], Awaitable[bytes]] = ice._recv

    async def lossy_send(data: bytes) -> None:
        if rng.random() >= rate:
            await send(data)

    async def lossy_recv() -> bytes:
        while True:
            data = await recv()
            if rng.random() >= rate:
                return data

    ice._send = lossy_send
    ice._recv = lossy_recv


class Impairment:
    """A round trip and loss added in user space to one peer connection (see
    :func:`impair_path`); :attr:`loss_rate` may change while it runs."""

    def __init__(self, one_way_delay_s: float, rng: random.Random) -> None:
        self.one_way_delay_s = one_way_delay_s
        self.loss_rate = 0.0
        self.rng = rng

    def lost(self) -> bool:
        """Draw whether the next datagram is lost."""
        return bool(self.loss_rate) and self.rng.random() < self.loss_rate


def impair_path(pc: RTCPeerConnection, one_way_delay_s: float, rng: random.Random) -> Impairment:
    """From now on delay every datagram ``pc`` sends, and every one it receives, by
    ``one_way_delay_s``, and drop each with the returned impairment's ``loss_rate`` (0 until
    set), on every ICE transport of the connection (data channels and media alike).

    A round trip and loss in user space, below DTLS, SRTP and SCTP, for a path the run cannot
    degrade from outside (no ``tc netem`` on the machine): delaying both ways by half the
    round trip gives the connection that round trip whatever the other peer does. Order is
    kept (a constant delay). Wraps the ICE transports' send and receive (the pinned
    versions' internals)."""
    impairment = Impairment(one_way_delay_s, rng)
    transports = {id(t): t for t in _ice_transports(pc)}
    if not transports:
        raise ValueError("the peer connection has no transport yet")
    loop = asyncio.get_running_loop()
    for ice in transports.values():
        send: Callable[[bytes], Awaitable[None]] = ice._send
        recv: Callable[[], Awaitable[bytes]] = ice._recv
        arrived: asyncio.Queue[bytes | BaseException] = asyncio.Queue()

        def later(data: bytes, send: Callable[[bytes], Awaitable[None]] = send) -> None:
            task = asyncio.ensure_future(send(data))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

        async def impaired_send(
            data: bytes, send: Callable[[bytes], Awaitable[None]] = send
        ) -> None:
            if not impairment.lost():
                loop.call_later(impairment.one_way_delay_s, later, data)

        async def reader(
            recv: Callable[[], Awaitable[bytes]] = recv,
            arrived: asyncio.Queue[bytes | BaseException] = arrived,
        ) -> None:
            while True:
                try:
                    data = await recv()
                except Exception as exc:  # the transport closed: handed to the receiver
                    arrived.put_nowait(exc)
                    return
                if not impairment.lost():
                    loop.call_later(impairment.one_way_delay_s, arrived.put_nowait, data)

        async def impaired_recv(
            arrived: asyncio.Queue[bytes | BaseException] = arrived,
        ) -> bytes:
            data = await arrived.get()
            if isinstance(data, BaseException):
                raise data
            return data

        task = asyncio.ensure_future(reader())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        ice._send = impaired_send
        ice._recv = impaired_recv
    return impairment


def _ice_transports(pc: RTCPeerConnection) -> list[RTCIceTransport]:
    found = [t.receiver.transport.transport for t in pc.getTransceivers() if t.receiver.transport]
    if pc.sctp is not None:
        found.append(pc.sctp.transport.transport)
    return found


@dataclass(frozen=True)
class ConsentTimers:
    """ICE consent freshness (RFC 7675) as aioice runs it: a check every ``interval_s``
    (randomised 0.8-1.2x), each answered within ``rto_s`` or failed; ``failures`` failed
    checks in a row and the path is abandoned."""

    interval_s: float
    rto_s: float
    failures: int

    @property
    def worst_detection_s(self) -> float:
        """The longest a dead path can go unnoticed with these timers."""
        return self.failures * (1.2 * self.interval_s + self.rto_s)

    def scaled(self, factor: float, *, min_rto_s: float = 0.0) -> ConsentTimers:
        """Every timer multiplied by ``factor`` (the count of failures stays), the answer
        timeout no shorter than ``min_rto_s``."""
        rto = max(self.rto_s * factor, min_rto_s)
        return ConsentTimers(self.interval_s * factor, rto, self.failures)


def default_consent_timers() -> ConsentTimers:
    """aioice's own timers (5 s checks, 0.5 s answer timeout, 6 failures: up to 39 s)."""
    check_versions()
    import aioice.ice
    import aioice.stun

    return ConsentTimers(
        aioice.ice.CONSENT_INTERVAL, aioice.stun.RETRY_RTO, aioice.ice.CONSENT_FAILURES
    )


@contextlib.contextmanager
def consent_timers(timers: ConsentTimers) -> Iterator[None]:
    """Run every ICE agent of this process with ``timers`` for the block (aioice reads them
    as module globals of the pinned versions); the previous values come back after."""
    check_versions()
    import aioice.ice
    import aioice.stun

    saved = (aioice.ice.CONSENT_INTERVAL, aioice.stun.RETRY_RTO, aioice.ice.CONSENT_FAILURES)
    # aioice declares the interval an int; a float works (it only feeds asyncio.sleep).
    aioice.ice.CONSENT_INTERVAL = timers.interval_s  # type: ignore[assignment]
    aioice.stun.RETRY_RTO = timers.rto_s
    aioice.ice.CONSENT_FAILURES = timers.failures
    try:
        yield
    finally:
        aioice.ice.CONSENT_INTERVAL, aioice.stun.RETRY_RTO, aioice.ice.CONSENT_FAILURES = saved


def _discard_datagram(data: object, addr: object) -> None:
    return None


def _discard_send(data: object, addr: object = None) -> None:
    return None


def go_dark(pc: RTCPeerConnection) -> None:
    """Silently drop everything ``pc``'s ICE sockets send or receive from now on, STUN
    consent checks included: the path went dark (no ICMP, no close), as when a NAT binding
    expires. A relayed candidate's datagrams are dropped the same way, where ICE hands them
    to the TURN client: the TCP stream to the relay stays up (its allocation refreshes go on),
    but nothing crosses the relay any more."""
    sctp = pc.sctp
    if sctp is None:
        raise ValueError("the peer connection has no data transport yet")
    # Instance attributes shadow the methods the event loop and aioice call (mypy refuses
    # assigning to a method; there is no hook for it in aioice).
    for protocol in sctp.transport.transport._connection._protocols:
        protocol.datagram_received = _discard_datagram  # type: ignore[method-assign]
        protocol.transport.sendto = _discard_send  # type: ignore[method-assign]
