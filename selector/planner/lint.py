"""Lint a team's current liveness settings against the profile's proxy path.

Pure: takes the profile and the settings the team uses today, returns findings. Only what the
team states is judged (an unset setting is never a finding). Every check has a stable
kebab-case id, listed in :data:`LINT_CHECKS`, and every finding carries the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from selector.planner.facts import HOP_FACTS, hop_limits
from selector.planner.names import HEARTBEAT_MECHANISMS
from selector.planner.solver import (
    CLIENT_TIMEOUT_FACTOR,
    DEFAULT_SSE_HEARTBEAT_S,
    FIREFOX_SSE_IDLE_S,
    FIREFOX_SSE_IDLE_SOURCE,
    HOP_MARGIN,
    MIN_SENSIBLE_LIFETIME_S,
    fitting_heartbeat,
    required_hop_timeout,
)
from selector.planner.sources.model import MeasuredHop, Where
from selector.profile import Profile
from selector.units import seconds_text as _s

__all__ = [
    "HEARTBEAT_MECHANISMS",
    "LINT_CHECKS",
    "AppSettings",
    "CurrentSettings",
    "LintFinding",
    "lint_routes",
    "lint_settings",
]

#: Check id -> what it catches.
LINT_CHECKS: dict[str, str] = {
    "heartbeat-reaches-idle-timeout": "the heartbeat is at or above a hop's idle timeout, so "
    "the hop drops the connection before (or racing) the next heartbeat",
    "hop-timeout-under-margin": "a hop's idle timeout is under 1.5x the heartbeat: a late "
    "heartbeat (GC pause, slow network) loses the race",
    "client-timeout-under-2x-heartbeat": "the client gives up after less than two heartbeats "
    "and reconnects healthy connections",
    "sse-without-heartbeat": "an SSE stream without comment (or data) heartbeats goes idle "
    "and hops drop it",
    "websocket-without-heartbeat": "a WebSocket without pings goes idle and a hop with an idle "
    "timeout drops it",
    "sse-heartbeat-over-browser-limit": "Firefox closes SSE streams idle for about 30 s "
    f"({FIREFOX_SSE_IDLE_SOURCE})",
    "sse-buffering-on": "proxy buffering holds SSE events back and delivers them in bursts",
    "http2-ping-behind-alb": "HTTP/2 PING frames do not reset the AWS ALB idle timer",
    "tcp-keepalive-through-proxy": "TCP keepalives stop at the first hop that terminates TCP",
    "protocol-unsupported-by-hop": "a hop on the path cannot carry the protocol",
    "upgrade-headers-missing": "the route does not forward the WebSocket upgrade (Upgrade and "
    "Connection headers, or Envoy's upgrade_configs), so the handshake fails",
    "upstream-not-http11": "the proxy speaks HTTP/1.0 to the upstream, which has no upgrade",
    "lifetime-cap-too-short": "a route ends every connection after a fixed time shorter than "
    "a minute, so clients reconnect all the time",
}


@dataclass(frozen=True)
class CurrentSettings:
    """What the team runs today. ``None`` (or an empty mapping) means "not stated"."""

    #: Heartbeat interval in seconds; 0 means the team sends no heartbeat.
    heartbeat_s: float | None = None
    #: Seconds of silence after which the client gives the connection up.
    client_timeout_s: float | None = None
    #: Idle timeouts configured today, by hop index in ``infrastructure.path``.
    proxy_timeouts: dict[int, float] = field(default_factory=dict)
    #: How the heartbeat is sent: one of :data:`HEARTBEAT_MECHANISMS`.
    heartbeat_via: str | None = None
    #: Whether proxy buffering is on for the SSE location.
    sse_buffering: bool | None = None


class AppSettings(BaseModel):
    """The application's liveness settings as a small YAML file (``lint --settings``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    heartbeat_s: float | None = Field(
        default=None, ge=0, description="Heartbeat interval in seconds; 0 = no heartbeat."
    )
    client_timeout_s: float | None = Field(
        default=None, gt=0, description="Seconds of silence after which clients give up."
    )
    heartbeat_via: (
        Literal["ws-ping", "sse-comment", "app-message", "http2-ping", "tcp-keepalive"] | None
    ) = Field(default=None, description="How the heartbeat is sent.")
    sse_buffering: bool | None = Field(
        default=None, description="Whether proxy buffering is on for the SSE location."
    )


class LintFinding(BaseModel):
    """One mismatch between the team's settings and the path, with its fix."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str = Field(description="Id of the check, a key of LINT_CHECKS.")
    message: str = Field(description="What is wrong, with the numbers.")
    fix: str = Field(description="What to change.")
    hop_index: int | None = Field(
        default=None, description="The hop concerned, as a position in infrastructure.path."
    )
    setting: str = Field(
        default="",
        description="The setting concerned: a command-line flag (--heartbeat, ...) or the "
        "configuration directive read from a file.",
    )
    file: str = Field(default="", description="The configuration file to change, if read.")
    line: int = Field(default=0, description="The line of that file (1-based), 0 if none.")


@dataclass(frozen=True)
class _Context:
    profile: Profile
    protocol: str
    settings: CurrentSettings

    def idle_timeouts(self) -> Iterator[tuple[int, str, float, bool]]:
        """(index, kind, idle timeout today, controllable) for each hop with an idle timeout."""
        infra = self.profile.infrastructure
        for index, hop in enumerate(infra.path):
            limits = hop_limits(hop.kind, self.protocol)
            idle = self.settings.proxy_timeouts.get(index, hop.idle_timeout_s)
            if idle is None and limits is not None:
                idle = limits.idle_timeout_s
            if idle is not None:
                yield index, hop.kind, idle, infra.hop_controllable(hop)

    @property
    def heartbeat(self) -> float | None:
        """The stated heartbeat, if there is one (0 means none)."""
        hb = self.settings.heartbeat_s
        return hb if hb else None

    @property
    def heartbeat_reaches_hops(self) -> bool:
        """The stated mechanism, if any, is data that every hop sees."""
        return self.settings.heartbeat_via not in {"http2-ping", "tcp-keepalive"}


def _race(hb: float, idle: float, what: str) -> tuple[str, str] | None:
    """(check, message) when ``what``'s ``idle`` timeout does not outlast heartbeat ``hb``."""
    if hb < idle and idle >= HOP_MARGIN * hb:
        return None
    if hb >= idle:
        return "heartbeat-reaches-idle-timeout", (
            f"heartbeat {_s(hb)} is not below the {_s(idle)} idle timeout of {what}: the "
            "hop drops idle connections before or while the heartbeat is sent"
        )
    return "hop-timeout-under-margin", (
        f"the {_s(idle)} idle timeout of {what} is under 1.5x the {_s(hb)} heartbeat "
        f"({_s(HOP_MARGIN * hb)}): one late heartbeat and the hop drops it"
    )


def _check_idle_timeouts(ctx: _Context) -> Iterator[LintFinding]:
    hb = ctx.heartbeat
    if hb is None or not ctx.heartbeat_reaches_hops:
        return
    for index, kind, idle, controllable in ctx.idle_timeouts():
        race = _race(hb, idle, kind)
        if race is None:
            continue
        if controllable:
            fix = f"raise {kind}'s {HOP_FACTS[kind].setting} to {_s(required_hop_timeout(hb))}"
        else:
            fix = (
                f"lower the heartbeat to {_s(fitting_heartbeat(idle))} ({kind} is declared fixed "
                f"in the profile; to raise its {HOP_FACTS[kind].setting} instead, mark the hop "
                "controllable: true)"
            )
        yield LintFinding(check=race[0], hop_index=index, message=race[1], fix=fix)


def _check_missing_ws_heartbeat(ctx: _Context) -> Iterator[LintFinding]:
    if ctx.protocol != "websocket" or ctx.settings.heartbeat_s != 0:
        return
    idles = sorted(((idle, index, kind) for index, kind, idle, _ in ctx.idle_timeouts()))
    if not idles:
        return
    idle, index, kind = idles[0]
    yield LintFinding(
        check="websocket-without-heartbeat",
        hop_index=index,
        message=(
            f"no heartbeat: {kind} drops a WebSocket idle for {_s(idle)}, and nothing "
            "keeps it busy between messages"
        ),
        fix=f"send a WebSocket Ping (or an app heartbeat) every {_s(fitting_heartbeat(idle))}",
    )


def _check_client_timeout(ctx: _Context) -> Iterator[LintFinding]:
    return _client_timeout_findings(ctx.settings)


def _client_timeout_findings(settings: CurrentSettings) -> Iterator[LintFinding]:
    hb = settings.heartbeat_s or None
    client = settings.client_timeout_s
    if hb is None or client is None or client >= CLIENT_TIMEOUT_FACTOR * hb:
        return
    yield LintFinding(
        check="client-timeout-under-2x-heartbeat",
        setting="--client-timeout",
        message=(
            f"client timeout {_s(client)} is under 2x the {_s(hb)} heartbeat: one delayed "
            "heartbeat makes clients drop healthy connections and reconnect"
        ),
        fix=f"set the client timeout to at least {_s(CLIENT_TIMEOUT_FACTOR * hb)}",
    )


def _check_sse(ctx: _Context) -> Iterator[LintFinding]:
    if ctx.protocol != "sse":
        return
    settings = ctx.settings
    wrong_mechanism = settings.heartbeat_via in {"ws-ping", "http2-ping", "tcp-keepalive"}
    if settings.heartbeat_s == 0 or wrong_mechanism:
        why = (
            "no heartbeat is sent"
            if settings.heartbeat_s == 0
            else f"{settings.heartbeat_via} never puts bytes in the SSE stream"
        )
        yield LintFinding(
            check="sse-without-heartbeat",
            setting="--heartbeat",
            message=f"SSE stream without comment heartbeats: {why}, so idle streams are dropped",
            fix="write a ':' comment line to every stream every 15 s",
        )
    hb = ctx.heartbeat
    limit = FIREFOX_SSE_IDLE_S / HOP_MARGIN
    if hb is not None and "browser" in ctx.profile.clients and hb > limit:
        yield LintFinding(
            check="sse-heartbeat-over-browser-limit",
            setting="--heartbeat",
            message=(
                f"SSE heartbeat {_s(hb)}: Firefox closes streams idle for about "
                f"{_s(FIREFOX_SSE_IDLE_S)} ({FIREFOX_SSE_IDLE_SOURCE})"
            ),
            fix=f"send a comment heartbeat at least every {_s(limit)}",
        )
    if settings.sse_buffering:
        yield LintFinding(
            check="sse-buffering-on",
            setting="--sse-buffering",
            message="proxy buffering is on for SSE: events wait in the proxy's buffer",
            fix="nginx: proxy_buffering off in the SSE location, or send the "
            "'X-Accel-Buffering: no' response header; ingress-nginx: annotation "
            'nginx.ingress.kubernetes.io/proxy-buffering: "off"',
        )


def _check_mechanism(ctx: _Context) -> Iterator[LintFinding]:
    via = ctx.settings.heartbeat_via
    path = ctx.profile.infrastructure.path
    if via == "http2-ping":
        for index, hop in enumerate(path):
            if hop.kind == "aws_alb":
                yield LintFinding(
                    check="http2-ping-behind-alb",
                    hop_index=index,
                    message="HTTP/2 PING frames are relied on as heartbeat, but they do not "
                    "reset the AWS ALB idle timer",
                    fix="send the heartbeat as data: WebSocket Ping frames or SSE comments",
                )
    if via == "tcp-keepalive":
        for index, hop in enumerate(path):
            if HOP_FACTS[hop.kind].terminates_tcp:
                yield LintFinding(
                    check="tcp-keepalive-through-proxy",
                    hop_index=index,
                    message=f"TCP keepalives stop at {hop.kind}, which terminates TCP; the "
                    "hops after it see an idle connection",
                    fix="send an application-level heartbeat (WebSocket Ping or SSE comment)",
                )


def _check_support(ctx: _Context) -> Iterator[LintFinding]:
    for index, hop in enumerate(ctx.profile.infrastructure.path):
        if hop_limits(hop.kind, ctx.protocol) is None:
            yield LintFinding(
                check="protocol-unsupported-by-hop",
                hop_index=index,
                message=f"{hop.kind} does not carry {ctx.protocol}",
                fix=f"route {ctx.protocol} around {hop.kind}, or choose another protocol",
            )


_CHECKS: tuple[Callable[[_Context], Iterator[LintFinding]], ...] = (
    _check_support,
    _check_idle_timeouts,
    _check_missing_ws_heartbeat,
    _check_client_timeout,
    _check_sse,
    _check_mechanism,
)


def lint_settings(
    profile: Profile, protocol: str, settings: CurrentSettings
) -> tuple[LintFinding, ...]:
    """Findings for ``settings`` on ``profile``'s path for ``protocol`` (websocket or sse).

    An empty result means nothing stated is wrong; it says nothing about unstated settings.
    """
    ctx = _Context(profile, protocol, settings)
    return tuple(finding for check in _CHECKS for finding in check(ctx))


# --- a path read from deployed configuration files ----------------------------------------------


def _located(check: str, message: str, fix: str, where: Where, setting: str = "") -> LintFinding:
    return LintFinding(
        check=check, message=message, fix=fix, setting=setting, file=where.file, line=where.line
    )


_NAMES = {"websocket": "WebSocket", "sse": "SSE"}


def _judged(routes: tuple[MeasuredHop, ...], protocol: str) -> list[MeasuredHop]:
    """The routes that carry ``protocol``, as far as their files show."""
    tagged = {r.origin for r in routes if protocol in r.carries}
    return [r for r in routes if r.carries_protocol(protocol, r.origin in tagged)]


def _route_shape(route: MeasuredHop, protocol: str) -> Iterator[LintFinding]:
    """Upgrade, HTTP version and buffering: what the route must do to carry ``protocol``."""
    name = f"{route.kind} {route.label}"
    if protocol == "websocket" and route.upgrade is False:
        yield _located(
            "upgrade-headers-missing",
            f"{name} does not forward the WebSocket upgrade",
            f"add {route.spelling['upgrade-headers-missing']}",
            route.where,
        )
    if protocol == "websocket" and route.http11 is False:
        yield _located(
            "upstream-not-http11",
            f"{name} proxies with HTTP/1.0, which cannot upgrade",
            f"add {route.spelling['upstream-not-http11']}",
            route.where,
        )
    if protocol == "sse" and route.buffering:
        yield _located(
            "sse-buffering-on",
            f"{name} buffers responses: SSE events wait in the proxy",
            f"set {route.spelling['sse-buffering-on']}",
            route.buffering_where or route.where,
        )


def _route_timeouts(
    route: MeasuredHop, protocol: str, settings: CurrentSettings
) -> Iterator[LintFinding]:
    hb = settings.heartbeat_s or None
    reaches = settings.heartbeat_via not in {"http2-ping", "tcp-keepalive"}
    for timeout in route.timeouts:
        if protocol not in timeout.protocols:
            continue
        what = f"{route.kind} {route.label} ({timeout.name})"
        if timeout.role == "lifetime":
            if timeout.seconds < MIN_SENSIBLE_LIFETIME_S:
                default = "" if timeout.stated else " (the default)"
                yield _located(
                    "lifetime-cap-too-short",
                    f"{what} {_s(timeout.seconds)}{default} ends every {_NAMES[protocol]} "
                    "connection "
                    "after that long",
                    f"set {timeout.written(0)} (no cap; the idle timeout bounds idleness)",
                    timeout.where,
                    timeout.name,
                )
            continue
        if hb is None or not reaches:
            continue
        race = _race(hb, timeout.seconds, what)
        if race is not None:
            yield _located(
                race[0],
                race[1],
                f"set {timeout.written(required_hop_timeout(hb))} (or lower the heartbeat to "
                f"{_s(fitting_heartbeat(timeout.seconds))})",
                timeout.where,
                timeout.name,
            )


def _missing_heartbeat(
    routes: list[MeasuredHop], protocol: str, settings: CurrentSettings
) -> Iterator[LintFinding]:
    wrong = protocol == "sse" and settings.heartbeat_via in {"ws-ping", "http2-ping"}
    if settings.heartbeat_s != 0 and not wrong:
        return
    idles = [t for r in routes for t in r.timeouts if t.role == "idle" and protocol in t.protocols]
    if protocol == "sse":
        every = DEFAULT_SSE_HEARTBEAT_S
        if idles:
            every = min(every, fitting_heartbeat(min(t.seconds for t in idles)))
        why = "no heartbeat is sent" if not wrong else f"{settings.heartbeat_via} is not SSE data"
        yield LintFinding(
            check="sse-without-heartbeat",
            setting="--heartbeat",
            message=f"SSE stream without comment heartbeats: {why}, so idle streams are dropped",
            fix=f"write a ':' comment line to every stream every {_s(every)}",
        )
        return
    if not idles:
        return
    first = min(idles, key=lambda t: t.seconds)
    yield _located(
        "websocket-without-heartbeat",
        f"no heartbeat: {first.name} drops a WebSocket idle for {_s(first.seconds)}",
        f"send a WebSocket Ping (or an app heartbeat) every {_s(fitting_heartbeat(first.seconds))}",
        first.where,
        first.name,
    )


def _route_mechanism(routes: list[MeasuredHop], settings: CurrentSettings) -> Iterator[LintFinding]:
    via = settings.heartbeat_via
    if via == "http2-ping":
        for route in routes:
            if route.kind == "aws_alb":
                yield _located(
                    "http2-ping-behind-alb",
                    "HTTP/2 PING frames are relied on as heartbeat, but they do not reset the "
                    "AWS ALB idle timer",
                    "send the heartbeat as data: WebSocket Ping frames or SSE comments",
                    route.where,
                )
    if via == "tcp-keepalive" and routes:
        route = routes[0]
        yield _located(
            "tcp-keepalive-through-proxy",
            f"TCP keepalives stop at {route.kind}, which terminates TCP; the hops after it see "
            "an idle connection",
            "send an application-level heartbeat (WebSocket Ping or SSE comment)",
            route.where,
        )


def lint_routes(
    routes: tuple[MeasuredHop, ...], protocol: str, settings: CurrentSettings
) -> tuple[LintFinding, ...]:
    """Findings for the routes read from deployed configuration, for ``protocol``.

    Every finding names the file and line to change and the value to set; what is fine
    (a default that fits, a literal ``Connection "upgrade"``) is not a finding.
    """
    judged = _judged(routes, protocol)
    findings: list[LintFinding] = []
    for route in judged:
        findings.extend(_route_shape(route, protocol))
        findings.extend(_route_timeouts(route, protocol, settings))
    findings.extend(_missing_heartbeat(judged, protocol, settings))
    findings.extend(_route_mechanism(judged, settings))
    findings.extend(_client_timeout_findings(settings))
    # A setting inherited by several routes (an http-level timeout) is one line to change.
    unique: list[LintFinding] = []
    seen: set[tuple[str, str, int, str]] = set()
    for finding in findings:
        key = (finding.check, finding.file, finding.line, finding.setting)
        if finding.file and key in seen:
            continue
        seen.add(key)
        unique.append(finding)
    return tuple(unique)
