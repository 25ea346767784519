"""Lint a team's current liveness settings against the profile's proxy path.

Pure: takes the profile and the settings the team uses today, returns findings. Only what the
team states is judged (an unset setting is never a finding). Every check has a stable
kebab-case id, listed in :data:`LINT_CHECKS`, and every finding carries the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from selector.planner.facts import HOP_FACTS, hop_limits
from selector.planner.names import HEARTBEAT_MECHANISMS
from selector.planner.solver import (
    CLIENT_TIMEOUT_FACTOR,
    FIREFOX_SSE_IDLE_S,
    HOP_MARGIN,
    fitting_heartbeat,
    required_hop_timeout,
)
from selector.profile import Profile

__all__ = [
    "HEARTBEAT_MECHANISMS",
    "LINT_CHECKS",
    "CurrentSettings",
    "LintFinding",
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
    "sse-heartbeat-over-browser-limit": "Firefox closes SSE streams idle for about 30 s",
    "sse-buffering-on": "proxy buffering holds SSE events back and delivers them in bursts",
    "http2-ping-behind-alb": "HTTP/2 PING frames do not reset the AWS ALB idle timer",
    "tcp-keepalive-through-proxy": "TCP keepalives stop at the first hop that terminates TCP",
    "protocol-unsupported-by-hop": "a hop on the path cannot carry the protocol",
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
        description="The command-line setting concerned (--heartbeat, ...), when not a hop.",
    )


def _s(value: float) -> str:
    return f"{value:g} s"


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


def _check_idle_timeouts(ctx: _Context) -> Iterator[LintFinding]:
    hb = ctx.heartbeat
    if hb is None or not ctx.heartbeat_reaches_hops:
        return
    for index, kind, idle, controllable in ctx.idle_timeouts():
        if hb < idle and idle >= HOP_MARGIN * hb:
            continue
        if controllable:
            fix = f"raise {kind}'s {HOP_FACTS[kind].setting} to {_s(required_hop_timeout(hb))}"
        else:
            fix = (
                f"lower the heartbeat to {_s(fitting_heartbeat(idle))} ({kind} is declared "
                f"fixed in the profile; its {HOP_FACTS[kind].setting} would change it)"
            )
        if hb >= idle:
            yield LintFinding(
                check="heartbeat-reaches-idle-timeout",
                hop_index=index,
                message=(
                    f"heartbeat {_s(hb)} is not below {kind}'s {_s(idle)} idle timeout: the "
                    "hop drops idle connections before or while the heartbeat is sent"
                ),
                fix=fix,
            )
        else:
            yield LintFinding(
                check="hop-timeout-under-margin",
                hop_index=index,
                message=(
                    f"{kind}'s {_s(idle)} idle timeout is under 1.5x the {_s(hb)} heartbeat "
                    f"({_s(HOP_MARGIN * hb)}): one late heartbeat and the hop drops it"
                ),
                fix=fix,
            )


def _check_client_timeout(ctx: _Context) -> Iterator[LintFinding]:
    hb, client = ctx.heartbeat, ctx.settings.client_timeout_s
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
                f"{_s(FIREFOX_SSE_IDLE_S)}"
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
