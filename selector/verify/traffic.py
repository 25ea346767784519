"""The traffic plan: what a verification run sends, when, and through which faults (pure).

A profile may describe millions of connections and timeouts of minutes; a run has a sample of
clients and a few seconds. Two things are changed to fit, and both are stated in the output:

* the *timeline* of timeouts, heartbeats, reconnect delays and lifetimes is multiplied by
  ``time_scale`` (by default chosen so the shortest idle window on the path lasts about a
  second), while message rates, payload sizes and latency budgets stay as the profile says;
* a direction whose rate is too low to show anything in a short phase is raised to a minimum
  number of messages per phase.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from selector.planner.model import LifetimePlan
from selector.profile import Profile
from selector.verify.network import PROXY_LIMITS, Network

__all__ = [
    "DirectionLoad",
    "PathFaults",
    "RunSettings",
    "TrafficPlan",
    "VerifyOptions",
    "build_traffic_plan",
]

Mode = Literal["planned", "naive"]

#: Seconds of traffic in each active phase of a run (wall clock, not scaled).
ACTIVE_PHASE_S = 1.0
#: Fewest messages per client and direction in one active phase.
MIN_MESSAGES_PER_PHASE = 3
#: The sample's total message rate is kept under this so a 2-core machine measures the
#: protocol, not its own saturation.
MAX_TOTAL_RATE_HZ = 3000.0
#: When the path has no idle window, the timeline is compressed as if it had a 60 s one.
DEFAULT_WINDOW_S = 60.0
#: The shortest idle window on the path lasts about this long in a run.
TARGET_WINDOW_WALL_S = 1.0
#: ...unless that would make the heartbeat shorter than this: below ~0.1 s a heartbeat is
#: comparable to scheduling delays and message latencies, and the run measures noise.
MIN_HEARTBEAT_WALL_S = 0.1
#: An idle window longer than this after scaling is not played out (the run would be too long).
MAX_IDLE_WINDOW_WALL_S = 3.0


@dataclass(frozen=True)
class VerifyOptions:
    """Knobs of ``selector verify``."""

    clients: int = 20
    time_scale: float | None = None
    random_state: int = 0
    #: The network emulated between clients and server (default: none, plain loopback).
    network: Network = field(default_factory=Network)

    def __post_init__(self) -> None:
        if self.clients < 1:
            raise ValueError("clients must be >= 1")
        if self.time_scale is not None and not 0 < self.time_scale <= 1:
            raise ValueError("time_scale must be in (0, 1]")


@dataclass(frozen=True)
class DirectionLoad:
    """Messages in one direction for each sampled client."""

    rate_hz: float
    payload_bytes: int
    profile_rate_hz: float
    #: Sampled clients that send in this direction: for client messages, the profile's
    #: ``sending_share`` of the sample (at least one); ``None``: every client (the server's
    #: messages reach them all).
    senders: int | None = None

    def sends(self, client: int) -> bool:
        """Whether sampled client number ``client`` (from 0) sends in this direction."""
        return self.senders is None or client < self.senders

    @property
    def raised(self) -> bool:
        """The rate was raised above the profile's so a short phase carries enough messages."""
        return self.rate_hz > self.profile_rate_hz

    @property
    def lowered(self) -> bool:
        """The rate was lowered below the profile's to keep the sample's total rate bounded."""
        return self.rate_hz < self.profile_rate_hz


@dataclass(frozen=True)
class PathFaults:
    """What the fault proxy does in a run: the tightest limits of the path, scaled."""

    idle_timeout_s: float | None
    max_lifetime_s: float | None
    #: Which hop set each limit, for the report.
    idle_hop: str | None
    lifetime_hop: str | None


@dataclass(frozen=True)
class RunSettings:
    """Runtime settings of one run (already scaled to wall-clock seconds)."""

    mode: Mode
    #: WS ping interval or SSE comment interval; None = no application heartbeat (naive).
    heartbeat_s: float | None
    pong_timeout_s: float | None
    #: The client gives up after this much silence; None = never (naive).
    client_timeout_s: float | None
    #: The plan's end-to-end bound for the client noticing a dead connection.
    detection_bound_s: float | None
    #: Pooled upstream HTTP connections are closed after this long idle (None: library default).
    upstream_keepalive_s: float | None
    backoff_base_s: float
    backoff_cap_s: float
    faults: PathFaults


@dataclass(frozen=True)
class TrafficPlan:
    """Everything a verification run needs to know, derived from the profile and the plan."""

    protocol: str
    clients: int
    full_scale_connections: int
    time_scale: float
    upstream: DirectionLoad | None
    downstream: DirectionLoad | None
    encoding: str
    guarantee: str
    active_phase_s: float
    idle_gap_s: float
    #: Whether the quiet gap outlasts the path's shortest idle window (it cannot when that
    #: window is too long next to the heartbeat to play out in a short run).
    exercises_idle_window: bool
    planned: RunSettings
    naive: RunSettings
    random_state: int
    notes: tuple[str, ...] = field(default=())
    network: Network = field(default_factory=Network)

    @property
    def extrapolation_factor(self) -> float:
        """Full-scale connections per sampled client, for extrapolated figures."""
        return self.full_scale_connections / self.clients

    def settings(self, mode: Mode) -> RunSettings:
        """The run settings of ``mode``."""
        return self.planned if mode == "planned" else self.naive

    def send_offsets(self, rate_hz: float, client: int, phase: int) -> list[float]:
        """Seconds into an active phase at which ``client`` sends, deterministic per random state.

        Evenly spaced at ``rate_hz`` with a random phase per client, so clients do not all
        send on the same tick.
        """
        rng = random.Random(f"{self.random_state}:{client}:{phase}:{rate_hz}")
        interval = 1.0 / rate_hz
        start = rng.uniform(0, interval)
        count = int((self.active_phase_s - start) / interval) + 1
        return [start + i * interval for i in range(max(count, 0))]


def _rate_note(name: str, load: DirectionLoad, clients: int) -> str:
    """The change made to one direction's rate, with its true direction and its reason."""
    change = (
        f"traffic.{name}.rate_hz {'raised' if load.raised else 'lowered'} from "
        f"{load.profile_rate_hz:g} to {load.rate_hz:.4g} Hz per client"
    )
    if load.raised:
        return (
            f"{change}: at the profile's rate a {ACTIVE_PHASE_S:g} s phase would carry fewer "
            f"than {MIN_MESSAGES_PER_PHASE} messages per client"
        )
    return (
        f"{change}: {clients} clients at the profile's rate would exceed the "
        f"{MAX_TOTAL_RATE_HZ:g} messages/s a sample can carry before it measures the "
        "machine's own saturation (latencies at the profile's rate may be higher)"
    )


def _min_heartbeat_wall_s(network: Network) -> float:
    """The shortest heartbeat a run may use: above scheduling noise, and several round
    trips (plus a retransmission when there is loss) so a pong is not late by construction."""
    rtt_s = (network.rtt_ms + network.jitter_ms) / 1000
    retransmit = 2 * network.rto_s if network.loss_pct else 0.0
    return max(MIN_HEARTBEAT_WALL_S, 4 * rtt_s + retransmit)


def _load(
    rate_hz: float, payload_bytes: int, clients: int, senders: int | None = None
) -> DirectionLoad:
    floor = MIN_MESSAGES_PER_PHASE / ACTIVE_PHASE_S
    rate = max(rate_hz, floor)
    rate = min(rate, MAX_TOTAL_RATE_HZ / (clients if senders is None else senders))
    return DirectionLoad(
        rate_hz=rate, payload_bytes=payload_bytes, profile_rate_hz=rate_hz, senders=senders
    )


def _faults(plan: LifetimePlan, scale: float, *, applied: bool) -> PathFaults:
    """The tightest idle and lifetime limits on the path, before or after applying the plan."""
    idle: tuple[float, str] | None = None
    lifetime: tuple[float, str] | None = None
    for hop in plan.hops:
        label = f"path[{hop.index}] {hop.kind}"
        hop_idle = hop.idle_timeout_s
        if applied and hop.set_idle_timeout_s is not None:
            hop_idle = hop.set_idle_timeout_s
        if hop_idle is not None and (idle is None or hop_idle < idle[0]):
            idle = (hop_idle, label)
        hop_lifetime = hop.max_lifetime_s
        if applied and hop.set_max_lifetime_s is not None:
            hop_lifetime = hop.set_max_lifetime_s
        if hop_lifetime is not None and (lifetime is None or hop_lifetime < lifetime[0]):
            lifetime = (hop_lifetime, label)
    return PathFaults(
        idle_timeout_s=idle[0] * scale if idle else None,
        max_lifetime_s=lifetime[0] * scale if lifetime else None,
        idle_hop=idle[1] if idle else None,
        lifetime_hop=lifetime[1] if lifetime else None,
    )


def _planned_settings(plan: LifetimePlan, scale: float) -> RunSettings:
    faults = _faults(plan, scale, applied=True)
    base, cap = plan.reconnect.base_s * scale, plan.reconnect.cap_s * scale
    if plan.websocket is not None:
        ws = plan.websocket
        return RunSettings(
            mode="planned",
            heartbeat_s=ws.ping_interval_s * scale,
            pong_timeout_s=ws.pong_timeout_s * scale,
            client_timeout_s=ws.client_timeout_s * scale,
            detection_bound_s=ws.client_detection_bound_s * scale,
            upstream_keepalive_s=None,
            backoff_base_s=base,
            backoff_cap_s=cap,
            faults=faults,
        )
    if plan.sse is None:
        raise ValueError(f"the runtime cannot run {plan.protocol}")
    return RunSettings(
        mode="planned",
        heartbeat_s=plan.sse.heartbeat_interval_s * scale,
        pong_timeout_s=None,
        client_timeout_s=plan.sse.client_timeout_s * scale,
        detection_bound_s=plan.sse.client_detection_bound_s * scale,
        upstream_keepalive_s=plan.sse.upstream_keepalive_s * scale,
        backoff_base_s=base,
        backoff_cap_s=cap,
        faults=faults,
    )


def _naive_settings(plan: LifetimePlan, scale: float) -> RunSettings:
    """The control: no application heartbeat, no client timeout, hops left as they are."""
    return RunSettings(
        mode="naive",
        heartbeat_s=None,
        pong_timeout_s=None,
        client_timeout_s=None,
        detection_bound_s=None,
        upstream_keepalive_s=None,
        backoff_base_s=plan.reconnect.base_s * scale,
        backoff_cap_s=plan.reconnect.cap_s * scale,
        faults=_faults(plan, scale, applied=False),
    )


def build_traffic_plan(
    profile: Profile, plan: LifetimePlan, options: VerifyOptions | None = None
) -> TrafficPlan:
    """The run for ``profile`` over ``plan``'s protocol (websocket or sse)."""
    options = options or VerifyOptions()
    if plan.protocol not in ("websocket", "sse"):
        raise ValueError(f"the runtime cannot run {plan.protocol}")
    clients = min(options.clients, profile.scale.concurrent_connections)
    notes: list[str] = []
    shortest_idle = _faults(plan, 1.0, applied=False).idle_timeout_s
    if options.time_scale is not None:
        scale = options.time_scale
    else:
        scale = TARGET_WINDOW_WALL_S / (shortest_idle or DEFAULT_WINDOW_S)
        scale = min(
            1.0, max(scale, _min_heartbeat_wall_s(options.network) / plan.heartbeat_interval_s)
        )
    notes.append(
        f"timeline scaled by {scale:.4g} (1 s of run = {1 / scale:.3g} s real): heartbeats, "
        "timeouts, reconnect delays, hop limits, quiet gaps and the outage run that much "
        "faster; active phases run in real time at the profile's message rates, so payload "
        "sizes, rates, round trips and the latency budget are not scaled"
    )
    if not options.network.emulated and options.network.source != "none":
        notes.append(f"network: {options.network.source}")
    if options.network.emulated:
        limits = PROXY_LIMITS
        if options.network.loss_in_kernel:
            limits = (
                "packets are dropped by iptables on a veth pair into a network namespace, on "
                "the clients' leg: TCP retransmission and head-of-line blocking happen in the "
                "kernel; the proxy's leg to the server is loopback"
            )
        notes.append(f"network: {options.network.describe()}; {limits}")
        notes.append(
            "round trips are wall-clock and not scaled with the timeline; the time scale "
            "keeps the heartbeat at least a few round trips long so a slow path is not taken "
            "for a dead one"
        )
    traffic = profile.traffic
    upstream = downstream = None
    if traffic.client_to_server is not None and traffic.client_to_server.rate_hz > 0:
        c2s = traffic.client_to_server
        senders = c2s.senders_in(clients) if c2s.sending_share < 1 else None
        upstream = _load(c2s.rate_hz, c2s.payload_bytes, clients, senders)
        if upstream.senders is not None:
            notes.append(
                f"traffic.client_to_server.sending_share {c2s.sending_share:g}: "
                f"{upstream.senders} of the {clients} sampled clients send client messages, "
                "the others only receive"
            )
    if traffic.server_to_client is not None and traffic.server_to_client.rate_hz > 0:
        s2c = traffic.server_to_client
        # One published event reaches every sampled client, so the publish rate is the
        # per-connection rate; the total budget is shared by the fan-out.
        downstream = _load(s2c.rate_hz, s2c.payload_bytes, clients)
    for name, load in (("client_to_server", upstream), ("server_to_client", downstream)):
        if load is not None and load.rate_hz != load.profile_rate_hz:
            notes.append(_rate_note(name, load, load.senders or clients))
    if clients < profile.scale.concurrent_connections:
        notes.append(
            f"{clients} sampled clients stand for {profile.scale.concurrent_connections} "
            "connections: full-scale figures come from the bandwidth model of `recommend`"
        )
    if traffic.encoding == "binary":
        notes.append(
            "binary payloads travel base64-encoded inside JSON on both protocols in the "
            "reference runtime; bytes on the wire include that cost"
        )
    # The quiet gap outlasts the path's shortest idle window as it is today, so the naive run
    # meets the drop and the planned run must survive it by its heartbeat.
    exercises_idle = bool(shortest_idle and shortest_idle * scale <= MAX_IDLE_WINDOW_WALL_S)
    if shortest_idle and exercises_idle:
        idle_gap = 1.5 * shortest_idle * scale
    else:
        idle_gap = TARGET_WINDOW_WALL_S
        if shortest_idle:
            notes.append(
                f"the path's shortest idle window ({shortest_idle:g} s) lasts "
                f"{shortest_idle * scale:.1f} s at this scale, too long for a short run: the "
                "quiet phase does not outlast it, so idle drops are not exercised"
            )
    notes.append(
        "the server's replay buffer holds the whole run: with raised rates and a compressed "
        "timeline the plan's buffer size would not mean what it means in production, so it "
        "is not exercised here (`selector plan` sizes it)"
    )
    return TrafficPlan(
        protocol=plan.protocol,
        clients=clients,
        full_scale_connections=profile.scale.concurrent_connections,
        time_scale=scale,
        upstream=upstream,
        downstream=downstream,
        encoding=traffic.encoding,
        guarantee=profile.delivery.guarantee,
        active_phase_s=ACTIVE_PHASE_S,
        idle_gap_s=idle_gap,
        exercises_idle_window=exercises_idle,
        planned=_planned_settings(plan, scale),
        naive=_naive_settings(plan, scale),
        random_state=options.random_state,
        notes=tuple(notes),
        network=options.network,
    )
