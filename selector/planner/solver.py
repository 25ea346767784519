"""The lifetime solver: heartbeat, hop timeouts, reconnect policy and replay buffer.

Pure and fast: no I/O, no clock, no randomness. The laws it keeps, checked by property tests:

* the heartbeat is strictly below the idle timeout every hop will have once the plan is
  applied (today's value on hops that cannot change, the planned value on the others);
* every hop the operator controls gets an idle timeout of at least ``HOP_MARGIN`` (1.5) times
  the heartbeat; hops the operator cannot change get the same margin from the other
  side, because a heartbeat equal to a timeout races it (the Mattermost 60 s vs ALB 60 s bug);
* when a constraint cannot be met, the plan says so in ``problems`` instead of inventing a value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from selector.engine.recommendation import trusted
from selector.errors import UsageError
from selector.planner.facts import HOP_FACTS, HopLimits, hop_limits
from selector.planner.model import (
    Assumption,
    HopPlan,
    LifetimePlan,
    PlannedReconnect,
    PlanProblem,
    ReconnectPolicy,
    ReplayBuffer,
    SsePlan,
    WebRtcPlan,
    WebSocketPlan,
)
from selector.profile import Hop, Profile
from selector.protocols import PROTOCOLS
from selector.units import seconds_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from selector.rules.model import Advice
    from selector.rules.values import Facts

__all__ = [
    "CLIENT_TIMEOUT_FACTOR",
    "COMPUTED_NOTE_IDS",
    "HOP_MARGIN",
    "MIN_SENSIBLE_HEARTBEAT_S",
    "MIN_SENSIBLE_LIFETIME_S",
    "fitting_heartbeat",
    "heartbeat_intervals",
    "heartbeats_and_plan",
    "plan_lifetime",
    "required_hop_timeout",
]

#: One note of the plan: its stable id and its text.
Note = tuple[str, str]
#: Ids of the notes the solver writes itself because they quote numbers it computes; every
#: other note is a row of ``selector/planner/notes.yaml``.
COMPUTED_NOTE_IDS: tuple[str, ...] = (
    "hop-lifetime-rotation",
    "reconnect-storm-assumed-rate",
    "reconnect-window-assumed-rate",
    "sse-planned-reconnect",
)

#: A hop's idle timeout must be at least this multiple of the heartbeat, so one late heartbeat
#: does not lose the connection.
HOP_MARGIN = 1.5
#: A client gives a connection up after this many heartbeats without a byte (SignalR's rule).
CLIENT_TIMEOUT_FACTOR = 2.0
#: WebSocket ping interval when nothing on the path forces a shorter one (Socket.IO, SockJS and
#: Centrifugo all use 25 s).
DEFAULT_WS_PING_S = 25.0
#: WebSocket ping interval for fleets without browsers on a path whose timeouts the operator
#: sets: Eclipse Paho's MQTT clients default to a 60 s keep-alive
#: (https://eclipse.dev/paho/files/paho.mqtt.python/html/client.html), a radio wake-up less
#: than half as often as at 25 s, and the hops are raised to fit it.
DEVICE_WS_PING_S = 60.0
#: SSE comment interval when nothing forces a shorter one (the WHATWG spec suggests ~15 s).
DEFAULT_SSE_HEARTBEAT_S = 15.0
#: Firefox closes an SSE stream after about 30 s without data.
FIREFOX_SSE_IDLE_S = 30.0
#: Where the Firefox SSE idle limit is reported.
FIREFOX_SSE_IDLE_SOURCE = "https://github.com/dunglas/mercure/issues/646"
#: Below this a heartbeat costs more than the connection is worth (battery, radio wake-ups):
#: a path that needs a shorter one is a contradiction to report, not a value to print.
MIN_SENSIBLE_HEARTBEAT_S = 5.0
#: A connection the path ends sooner than this churns too fast to be worth holding open.
MIN_SENSIBLE_LIFETIME_S = 60.0
#: Controllable lifetime limits below this are raised to it: hourly rotation is cheap.
TARGET_LIFETIME_S = 3600.0
#: Rotate connections at a random point in this share of the lifetime limit.
ROTATE_AT = (0.8, 0.9)
#: Close handshake bound (websockets uses 10 s; a dead peer never answers, so keep it short).
CLOSE_TIMEOUT_S = 5.0
RECONNECT_BASE_S = 1.0
RECONNECT_CAP_S = 30.0
#: Use at most this share of a hop's documented new-connection rate.
LIMIT_HEADROOM = 0.8
#: A reconnect storm that needs a longer first window than this leaves clients offline too long.
MAX_RECONNECT_WINDOW_S = 300.0
#: New connections per second the servers are assumed to accept when the profile states no
#: measured rate (scale.accept_rate_per_s): about one core's worth of full TLS handshakes, each
#: an RSA-2048 signature (`openssl speed rsa2048` signs about 1,000 times a second on one core
#: of a current x86 server), before any authentication. Low on purpose: it is a guess.
ASSUMED_ACCEPT_RATE_PER_S = 1000.0
#: Socket.IO's connection-state recovery and Ably both keep about 2 minutes of history.
MIN_RESUME_WINDOW_S = 120.0
#: RFC 7675 consent freshness.
CONSENT_CHECK_INTERVAL_S = 5.0
CONSENT_TIMEOUT_S = 30.0


def required_hop_timeout(heartbeat_s: float) -> float:
    """The smallest whole-second idle timeout that gives ``heartbeat_s`` the 1.5x margin."""
    return float(math.ceil(HOP_MARGIN * heartbeat_s))


def fitting_heartbeat(idle_timeout_s: float) -> float:
    """The largest readable heartbeat that leaves ``idle_timeout_s`` the 1.5x margin."""
    return _round_down(idle_timeout_s / HOP_MARGIN)


def _round_down(value: float) -> float:
    """A readable value not above ``value``: whole seconds from 10 s, tenths from 1 s."""
    if value >= 10:
        return float(math.floor(value))
    if value >= 1:
        return math.floor(value * 10) / 10
    return value


def _round_up(value: float) -> float:
    """``value`` rounded up to tenths of a second (the 1e-9 absorbs float noise)."""
    return round(math.ceil(value * 10 - 1e-9) / 10, 1)


@dataclass(frozen=True, slots=True)
class _Hop:
    """A hop with its effective limits for the protocol being planned."""

    index: int
    hop: Hop
    limits: HopLimits | None  # None: the hop cannot carry the protocol
    controllable: bool

    @property
    def kind(self) -> str:
        return self.hop.kind

    @property
    def idle_s(self) -> float | None:
        if self.hop.idle_timeout_s is not None:
            return self.hop.idle_timeout_s
        return self.limits.idle_timeout_s if self.limits else None

    @property
    def lifetime_s(self) -> float | None:
        if self.hop.max_lifetime_s is not None:
            return self.hop.max_lifetime_s
        return self.limits.max_lifetime_s if self.limits else None

    @property
    def relies_on_assumption(self) -> bool:
        """An assumed default is in use (the profile did not override it)."""
        if self.limits is None or not self.limits.assumed:
            return False
        idle_assumed = self.hop.idle_timeout_s is None and self.limits.idle_timeout_s is not None
        life_assumed = self.hop.max_lifetime_s is None and self.limits.max_lifetime_s is not None
        return idle_assumed or life_assumed


def plan_lifetime(
    profile: Profile, protocol: str, notes: Sequence[Advice], *, facts: Facts | None = None
) -> LifetimePlan:
    """Plan heartbeats, hop timeouts, reconnects and replay for ``protocol`` over the path.

    ``protocol`` is ``"websocket"``, ``"sse"`` or ``"webrtc"`` (the plan then covers the
    signalling WebSocket, TURN and ICE consent). Raises :class:`UsageError` for any other
    protocol. The caller must check ``plan.problems``: a non-empty list means the constraints
    contradict each other and the plan cannot be applied as it stands. ``notes`` are the
    planner-note rows to apply (a compiled matrix's ``notes``; :func:`selector.plan_lifetime`
    passes the built-in ones): those for ``protocol`` whose condition holds join the plan's
    notes. ``facts`` are the profile's facts when the caller has them already
    (``recommend()`` does): the notes' conditions read them.
    """
    if protocol not in PROTOCOLS:
        raise UsageError.single(
            f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}",
            path="protocol",
        )
    if facts is None:
        from selector.rules.facts import profile_facts

        facts = profile_facts(profile)
    hops = _hops(profile, protocol)
    chosen = _choose_heartbeat(profile, protocol, hops)
    return _plan(profile, protocol, facts, hops, chosen, notes)


def heartbeats_and_plan(
    profile: Profile, protocol: str | None, facts: Facts, notes: Sequence[Advice]
) -> tuple[dict[str, float], LifetimePlan | None]:
    """:func:`heartbeat_intervals` and, unless ``protocol`` is ``None``, :func:`plan_lifetime`
    of ``protocol`` (one of :data:`selector.protocols.PROTOCOLS`) with the note rows
    ``notes``, the hops and heartbeat worked out once for both: ``recommend()`` asks for
    both, 1,635,693 -> 1,619,315 instructions per call (bench/engine_instructions.sh)."""
    ws_hops = _hops(profile, "websocket")
    ws_chosen = _choose_heartbeat(profile, "websocket", ws_hops)
    sse_hops = _hops(profile, "sse")
    sse_chosen = _choose_heartbeat(profile, "sse", sse_hops)
    heartbeats = {"websocket": ws_chosen[0], "sse": sse_chosen[0], "webrtc": ws_chosen[0]}
    if protocol is None:
        return heartbeats, None
    if protocol not in PROTOCOLS:
        return heartbeats, plan_lifetime(profile, protocol, notes, facts=facts)  # UsageError
    if protocol == "sse":
        return heartbeats, _plan(profile, protocol, facts, sse_hops, sse_chosen, notes)
    # WebRTC's signalling meets the WebSocket limits (hop_limits) and only SSE chooses its
    # heartbeat apart (_choose_heartbeat): the WebSocket's hops and heartbeat are WebRTC's.
    return heartbeats, _plan(profile, protocol, facts, ws_hops, ws_chosen, notes)


def _hops(profile: Profile, protocol: str) -> list[_Hop]:
    """The path's hops with their effective limits for ``protocol``."""
    infra = profile.infrastructure
    return [
        _Hop(i, hop, hop_limits(hop.kind, protocol), infra.hop_controllable(hop))
        for i, hop in enumerate(infra.path)
    ]


def _plan(
    profile: Profile,
    protocol: str,
    facts: Facts,
    hops: list[_Hop],
    chosen: tuple[float, str],
    note_rows: Sequence[Advice],
) -> LifetimePlan:
    """:func:`plan_lifetime` with the hops and the chosen heartbeat worked out."""
    problems: list[PlanProblem] = []
    notes = _notes(protocol, facts, note_rows)

    heartbeat, bound_by = chosen
    if heartbeat < MIN_SENSIBLE_HEARTBEAT_S:
        problems.append(_heartbeat_problem(hops, heartbeat))

    hop_plans = [_plan_hop(h, heartbeat, protocol, problems, notes) for h in hops]
    assumptions = _assumptions(hops)
    websocket = _websocket_plan(profile, heartbeat)
    reconnect = _reconnect_policy(profile, hops, problems, notes)
    sse = _sse_plan(heartbeat, reconnect) if protocol == "sse" else None
    planned = _planned_reconnect(profile, hops, hop_plans, reconnect, problems)
    if planned is not None and protocol == "sse":
        notes.append(
            (
                "sse-planned-reconnect",
                "for SSE the server can end each stream at the planned reconnect time: "
                "EventSource reconnects after 'retry' and sends Last-Event-ID, so nothing is lost",
            )
        )
    _check_message_sizes(profile, hops, problems)
    detection = sse.client_detection_bound_s if sse else websocket.client_detection_bound_s
    replay = _replay_buffer(profile, detection, reconnect) if profile.delivery.resume else None
    webrtc = _webrtc_plan(profile, websocket) if protocol == "webrtc" else None
    # Built without validation: every part is a model this module built or a tuple of them,
    # and ``float()`` does the one conversion validation made (an int heartbeat became 30.0
    # in the JSON): recommend() 1,680,865 -> 1,664,336 instructions per call
    # (bench/engine_instructions.sh).
    return trusted(
        LifetimePlan,
        protocol=protocol,
        heartbeat_interval_s=float(heartbeat),
        heartbeat_bound_by=bound_by,
        websocket=websocket if protocol == "websocket" else None,
        sse=sse,
        webrtc=webrtc,
        hops=tuple(hop_plans),
        reconnect=reconnect,
        planned_reconnect=planned,
        replay=replay,
        assumptions=assumptions,
        problems=tuple(problems),
        notes=tuple(text for _, text in notes),
        note_ids=tuple(note_id for note_id, _ in notes),
    )


# --- heartbeat --------------------------------------------------------------------------------


def heartbeat_interval(profile: Profile, protocol: str) -> float:
    """The heartbeat :func:`plan_lifetime` would choose for ``protocol``, without the rest of
    the plan (the bandwidth estimate counts its bytes for every protocol)."""
    return _choose_heartbeat(profile, protocol, _hops(profile, protocol))[0]


def heartbeat_intervals(profile: Profile) -> dict[str, float]:
    """:func:`heartbeat_interval` for each of ``websocket``, ``sse`` and ``webrtc``.

    WebRTC's heartbeat is its signalling WebSocket's: :func:`hop_limits` gives it the
    WebSocket limits and :func:`_choose_heartbeat` tells only SSE apart, so it is worked out
    once for both (a test checks it against each protocol on its own). recommend() asks for
    all three: 1,772,995 -> 1,755,874 instructions per call (bench/engine_instructions.sh).
    """
    websocket = heartbeat_interval(profile, "websocket")
    return {"websocket": websocket, "sse": heartbeat_interval(profile, "sse"), "webrtc": websocket}


def _choose_heartbeat(profile: Profile, protocol: str, hops: list[_Hop]) -> tuple[float, str]:
    """The largest readable heartbeat that every constraint allows, and what bound it."""
    if protocol == "sse":
        candidates = [(DEFAULT_SSE_HEARTBEAT_S, "the SSE spec's suggested ~15 s comment interval")]
        if "browser" in profile.clients:
            candidates.append(
                (
                    FIREFOX_SSE_IDLE_S / HOP_MARGIN,
                    f"Firefox closes SSE streams idle for ~30 s ({FIREFOX_SSE_IDLE_SOURCE}; "
                    "1.5x margin)",
                )
            )
    elif "browser" not in profile.clients and all(h.controllable for h in hops):
        candidates = [
            (
                DEVICE_WS_PING_S,
                "a 60 s ping interval for clients without browsers on a path whose timeouts "
                "the operator sets (Eclipse Paho's MQTT clients default to 60 s); the hops are "
                "raised to fit it",
            )
        ]
    else:
        candidates = [(DEFAULT_WS_PING_S, "the common 25 s ping interval (Socket.IO, SockJS)")]
    raw, reason = min(candidates, key=lambda c: c[0])
    # A fixed hop's reason is written only for the hop that binds: heartbeat_interval() runs
    # this for every protocol of every recommend() (with bandwidth.py importing at module
    # level, the bandwidth estimate went from 206,331 to 192,130 instructions per profile).
    binding: _Hop | None = None
    for h in hops:
        idle = h.idle_s
        if h.limits is None or idle is None or h.controllable:
            continue
        if idle / HOP_MARGIN < raw:
            raw, binding = idle / HOP_MARGIN, h
    if binding is not None:
        idle = binding.idle_s
        reason = (
            f"{binding.kind} (path[{binding.index}]) drops idle connections after "
            f"{seconds_text(idle or 0)} and is {_declared_fixed(binding)}: the heartbeat stays "
            f"1.5x under it ({HOP_FACTS[binding.kind].setting} would change it)"
        )
    return _round_down(raw), reason


def _heartbeat_problem(hops: list[_Hop], heartbeat: float) -> PlanProblem:
    fixed = [h for h in hops if h.limits and h.idle_s is not None and not h.controllable]
    tightest = min(fixed, key=lambda h: h.idle_s or math.inf)
    return PlanProblem(
        code="heartbeat-too-short",
        hop_index=tightest.index,
        message=(
            f"{tightest.kind} (path[{tightest.index}]) drops connections idle for "
            f"{seconds_text(tightest.idle_s or 0)}, so the heartbeat would have to be "
            f"{heartbeat:.3g} s, under the sensible minimum of "
            f"{seconds_text(MIN_SENSIBLE_HEARTBEAT_S)}"
        ),
        fix=(
            f"raise that hop's idle timeout to at least "
            f"{seconds_text(required_hop_timeout(MIN_SENSIBLE_HEARTBEAT_S))} (or set "
            "controllable: true on it if you can change it), or route around it"
        ),
    )


# --- hops -------------------------------------------------------------------------------------


def _declared_fixed(h: _Hop) -> str:
    """Why the planner leaves ``h`` alone: the profile says so, and how to say otherwise."""
    if h.hop.controllable is not None:
        return f"declared fixed in the profile (controllable: false on path[{h.index}])"
    return (
        "declared fixed in the profile (infrastructure.timeout_control; set controllable: true "
        f"on path[{h.index}] if you can change it)"
    )


def _plan_hop(
    h: _Hop, heartbeat: float, protocol: str, problems: list[PlanProblem], notes: list[Note]
) -> HopPlan:
    facts = HOP_FACTS[h.kind]
    if h.hop.idle_timeout_s is not None or h.hop.max_lifetime_s is not None:
        origin = "profile"
    elif h.relies_on_assumption:
        origin = "assumed"
    else:
        origin = "default"
    note = h.limits.note if h.limits else ""
    if h.limits is None:
        problems.append(
            PlanProblem(
                code="protocol-unsupported-by-hop",
                hop_index=h.index,
                message=f"{h.kind} (path[{h.index}]) does not carry {protocol}",
                fix=f"route {protocol} around {h.kind}, or choose another protocol",
            )
        )
        return _hop_plan(
            h, origin, None, None, "unsupported", f"{h.kind} does not support {protocol}"
        )
    if not h.controllable:
        lifetime = h.lifetime_s
        if lifetime is not None and lifetime < MIN_SENSIBLE_LIFETIME_S:
            # A short cap churns connections, but clients that reconnect on purpose before it
            # (the planned reconnect) lose nothing: that is a plan to follow, not a failure.
            notes.append(
                (
                    "hop-lifetime-rotation",
                    f"{h.kind} (path[{h.index}]) ends every connection after "
                    f"{seconds_text(lifetime)} whatever flows; clients rotate through it with the "
                    f"planned reconnect below. To rotate less often raise its {facts.setting} "
                    f"to {seconds_text(TARGET_LIFETIME_S)}: it is {_declared_fixed(h)}",
                )
            )
        return _hop_plan(h, origin, None, None, "fixed", note)
    set_idle = None
    raise_it = False
    if h.idle_s is not None:
        set_idle = max(h.idle_s, required_hop_timeout(heartbeat))
        raise_it = set_idle > h.idle_s
    set_lifetime = None
    if h.lifetime_s is not None and h.lifetime_s < TARGET_LIFETIME_S:
        set_lifetime = TARGET_LIFETIME_S
        raise_it = True
    return _hop_plan(h, origin, set_idle, set_lifetime, "raise" if raise_it else "keep", note)


def _hop_plan(
    h: _Hop,
    origin: str,
    set_idle: float | None,
    set_lifetime: float | None,
    action: str,
    note: str,
) -> HopPlan:
    """The :class:`HopPlan` of ``h``, built without validation as the plan itself (see
    plan_lifetime): fields in declared order (the JSON follows it), each number made what
    validation made it. recommend() 1,641,659 -> 1,635,693 instructions per call
    (bench/engine_instructions.sh)."""
    facts = HOP_FACTS[h.kind]
    return trusted(
        HopPlan,
        index=int(h.index),
        kind=h.kind,
        controllable=bool(h.controllable),
        idle_timeout_s=_float_or_none(h.idle_s),
        max_lifetime_s=_float_or_none(h.lifetime_s),
        origin=origin,
        set_idle_timeout_s=_float_or_none(set_idle),
        set_max_lifetime_s=_float_or_none(set_lifetime),
        action=action,
        setting=facts.setting,
        source=facts.source,
        note=note,
    )


def _float_or_none(value: float | None) -> float | None:
    return None if value is None else float(value)


def _assumptions(hops: list[_Hop]) -> tuple[Assumption, ...]:
    found: list[Assumption] = []
    for h in hops:
        if not h.relies_on_assumption or h.limits is None:
            continue
        if h.hop.idle_timeout_s is None and h.limits.idle_timeout_s is not None:
            found.append(
                Assumption(
                    hop_index=h.index,
                    kind=h.kind,
                    field="idle_timeout_s",
                    value=h.limits.idle_timeout_s,
                    reason=h.limits.note,
                )
            )
        if h.hop.max_lifetime_s is None and h.limits.max_lifetime_s is not None:
            found.append(
                Assumption(
                    hop_index=h.index,
                    kind=h.kind,
                    field="max_lifetime_s",
                    value=h.limits.max_lifetime_s,
                    reason=h.limits.note,
                )
            )
    return tuple(found)


# --- protocol settings ------------------------------------------------------------------------


def _websocket_plan(profile: Profile, ping_interval: float) -> WebSocketPlan:
    latency_s = profile.delivery.latency_p99_ms / 1000
    # Half the interval, as aiohttp does, but never less than two p99 round trips, and never
    # past the next ping.
    pong_timeout = min(ping_interval, max(ping_interval / 2, _round_up(2 * latency_s)))
    pong_timeout = _round_up(pong_timeout) if pong_timeout >= 1 else pong_timeout
    pong_timeout = min(pong_timeout, ping_interval)
    client_timeout = CLIENT_TIMEOUT_FACTOR * ping_interval
    # Without validation, as the plan itself (see plan_lifetime): float() makes each number
    # what validation made it. With the reconnect policy: recommend() 1,664,336 -> 1,646,792
    # instructions per call (bench/engine_instructions.sh).
    return trusted(
        WebSocketPlan,
        ping_interval_s=float(ping_interval),
        pong_timeout_s=float(pong_timeout),
        close_timeout_s=float(CLOSE_TIMEOUT_S),
        server_detection_bound_s=float(ping_interval + pong_timeout + CLOSE_TIMEOUT_S),
        client_timeout_s=float(client_timeout),
        client_detection_bound_s=float(client_timeout + CLOSE_TIMEOUT_S),
    )


def _sse_plan(heartbeat: float, reconnect: ReconnectPolicy) -> SsePlan:
    client_timeout = CLIENT_TIMEOUT_FACTOR * heartbeat
    # The reconnect policy's full-jitter window, [0, base], drawn per stream by the server:
    # EventSource adds no jitter of its own, so the server is the one place that can spread
    # its clients (WHATWG HTML, server-sent events, "reconnection time").
    window_ms = round(reconnect.base_s * 1000)
    # Without validation, as the plan itself (see plan_lifetime), fields in declared order;
    # with the WebRTC needs: recommend() 1,646,792 -> 1,641,659 instructions per call
    # (bench/engine_instructions.sh).
    return trusted(
        SsePlan,
        heartbeat_interval_s=float(heartbeat),
        client_timeout_s=float(client_timeout),
        client_detection_bound_s=float(client_timeout),
        upstream_keepalive_s=float(heartbeat),
        retry_ms=int(window_ms),
        retry_min_ms=0,
        peak_reconnect_rate_per_s=float(reconnect.mass_disconnect_connections / (window_ms / 1000)),
    )


def _webrtc_plan(profile: Profile, signalling: WebSocketPlan) -> WebRtcPlan:
    infra = profile.infrastructure
    relay_only = not infra.udp_allowed
    if relay_only:
        transports: tuple[str, ...] = ("turns (TLS) on tcp/443",)
    elif infra.restrictive_networks:
        transports = ("turns (TLS) on tcp/443", "turn on udp/3478")
    else:
        transports = ("turn on udp/3478", "turns (TLS) on tcp/443")
    # Without validation, as the plan itself (see plan_lifetime).
    return trusted(
        WebRtcPlan,
        signalling=signalling,
        all_sessions_relayed=bool(relay_only),
        turn_transports=transports,
        consent_check_interval_s=float(CONSENT_CHECK_INTERVAL_S),
        consent_timeout_s=float(CONSENT_TIMEOUT_S),
    )


# --- reconnects -------------------------------------------------------------------------------


def _connection_limit(hops: list[_Hop]) -> tuple[float, _Hop] | None:
    limited = [
        (rate, h) for h in hops if (rate := HOP_FACTS[h.kind].max_new_connections_per_s) is not None
    ]
    return min(limited, key=lambda pair: pair[0]) if limited else None


def _reconnect_policy(
    profile: Profile, hops: list[_Hop], problems: list[PlanProblem], notes: list[Note]
) -> ReconnectPolicy:
    connections = profile.scale.concurrent_connections
    limit = _connection_limit(hops)
    measured = profile.scale.accept_rate_per_s
    server_rate = measured if measured is not None else ASSUMED_ACCEPT_RATE_PER_S
    rate_from: Literal["path", "profile", "assumed"] = (
        "profile" if measured is not None else "assumed"
    )
    rate = server_rate
    if limit is not None and limit[0] <= server_rate:
        rate, rate_from = limit[0], "path"
    # Full jitter spreads the first attempts evenly over [0, base]: the window must be wide
    # enough that the spread rate stays under the rate the path and servers take, with headroom.
    base = max(RECONNECT_BASE_S, _round_up(connections / (rate * LIMIT_HEADROOM)))
    limited_by = None
    if base > RECONNECT_BASE_S:
        limited_by = (
            f"{limit[1].kind} (path[{limit[1].index}])"
            if rate_from == "path" and limit is not None
            else "scale.accept_rate_per_s"
            if rate_from == "profile"
            else f"the assumed server accept rate ({rate:g}/s)"
        )
    if base > MAX_RECONNECT_WINDOW_S:
        storm = (
            f"{connections} connections reconnecting at no more than {rate:g} new connections/s "
            f"need a {seconds_text(base)} first reconnect window, longer than the "
            f"{seconds_text(MAX_RECONNECT_WINDOW_S)} clients can be left waiting"
        )
        if rate_from == "assumed":
            # An assumed rate is not grounds to fail the plan: say what to measure instead.
            notes.append(
                (
                    "reconnect-storm-assumed-rate",
                    f"{storm} (the rate is an assumption: measure the servers' accept rate and "
                    "set scale.accept_rate_per_s)",
                )
            )
        else:
            problems.append(
                PlanProblem(
                    code="reconnect-storm-exceeds-limit",
                    hop_index=limit[1].index if rate_from == "path" and limit else None,
                    message=storm,
                    fix=(
                        "shard connections across several endpoints, ask for a higher "
                        "new-connection quota, or lower scale.concurrent_connections per "
                        "endpoint"
                    ),
                )
            )
    if rate_from == "assumed" and base > RECONNECT_BASE_S:
        notes.append(
            (
                "reconnect-window-assumed-rate",
                f"the first reconnect window ({seconds_text(base)}) is sized for an assumed "
                f"{rate:g} new connections/s the servers accept (about one core of TLS "
                "handshakes): measure yours and set scale.accept_rate_per_s",
            )
        )
    # Without validation, as the plan itself (see plan_lifetime): float() and int() make each
    # number what validation made it.
    return trusted(
        ReconnectPolicy,
        jitter="full",
        base_s=float(base),
        cap_s=float(max(RECONNECT_CAP_S, base)),
        mass_disconnect_connections=int(connections),
        peak_reconnect_rate_per_s=float(connections / base),
        new_connection_limit_per_s=float(limit[0]) if limit else None,
        limited_by=limited_by,
        accept_rate_per_s=float(rate),
        accept_rate_from=rate_from,
    )


def _planned_reconnect(
    profile: Profile,
    hops: list[_Hop],
    hop_plans: list[HopPlan],
    reconnect: ReconnectPolicy,
    problems: list[PlanProblem],
) -> PlannedReconnect | None:
    lifetimes = [
        (plan.set_max_lifetime_s or plan.max_lifetime_s, plan)
        for plan in hop_plans
        if plan.max_lifetime_s is not None and plan.action != "unsupported"
    ]
    if not lifetimes:
        return None
    lifetime, shortest = min(lifetimes, key=lambda pair: pair[0] or math.inf)
    assert lifetime is not None
    low, high = ROTATE_AT[0] * lifetime, ROTATE_AT[1] * lifetime
    connections = profile.scale.concurrent_connections
    steady = connections / ((low + high) / 2)
    limit = reconnect.new_connection_limit_per_s
    if limit is not None and steady > limit * LIMIT_HEADROOM:
        problems.append(
            PlanProblem(
                code="rotation-exceeds-connection-limit",
                hop_index=shortest.index,
                message=(
                    f"rotating {connections} connections before {shortest.kind}'s "
                    f"{seconds_text(lifetime)} lifetime limit opens {steady:.0f} connections/s, "
                    f"over the path's {limit:g}/s limit"
                ),
                fix="raise the lifetime limit or spread connections over more endpoints",
            )
        )
    return PlannedReconnect(
        hop_index=shortest.index,
        kind=shortest.kind,
        max_lifetime_s=lifetime,
        reconnect_after_min_s=_round_down(low),
        reconnect_after_max_s=_round_down(high),
        steady_reconnect_rate_per_s=steady,
    )


def _check_message_sizes(profile: Profile, hops: list[_Hop], problems: list[PlanProblem]) -> None:
    traffic = profile.traffic
    sizes = [d.payload_bytes for d in (traffic.server_to_client, traffic.client_to_server) if d]
    if not sizes:
        return
    largest = max(sizes)
    for h in hops:
        limit = HOP_FACTS[h.kind].max_message_bytes
        if limit is not None and largest > limit:
            problems.append(
                PlanProblem(
                    code="message-too-large-for-hop",
                    hop_index=h.index,
                    message=(
                        f"messages of {largest} bytes exceed {h.kind}'s {limit}-byte limit "
                        f"(path[{h.index}])"
                    ),
                    fix="split messages, send large payloads by reference, or avoid that hop",
                )
            )


def _replay_buffer(
    profile: Profile, detection_bound_s: float, reconnect: ReconnectPolicy
) -> ReplayBuffer:
    outage = max(MIN_RESUME_WINDOW_S, detection_bound_s + 2 * reconnect.cap_s)
    downstream = profile.traffic.server_to_client
    rate = downstream.rate_hz if downstream else 0.0
    payload = downstream.payload_bytes if downstream else 0
    per_connection = math.ceil(rate * outage)
    scale = profile.scale
    shared = math.ceil(scale.concurrent_connections * rate / scale.fan_out * outage)
    return ReplayBuffer(
        tolerated_outage_s=outage,
        events_per_connection=per_connection,
        bytes_per_connection=per_connection * payload,
        shared_log_events=shared,
        shared_log_bytes=shared * payload,
    )


# --- advice -----------------------------------------------------------------------------------


def _notes(protocol: str, facts: Facts, rows: Sequence[Advice]) -> list[Note]:
    """The note rows for ``protocol`` whose condition holds, as (id, text), in table order."""
    return [
        (row.id, row.text(facts)) for row in rows if protocol in row.protocols and row.test(facts)
    ]
