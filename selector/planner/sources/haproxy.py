"""Read HAProxy configuration: a line reader for sections and their ``timeout`` settings.

HAProxy's format is one directive a line in ``defaults``/``frontend``/``backend``/``listen``
sections, so a small reader is enough. Each ``backend`` and ``listen`` becomes a route. Bare
numbers are milliseconds, as in HAProxy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selector.planner.sources.durations import parse_duration
from selector.planner.sources.model import MeasuredHop, SourceError, Timeout, Where

__all__ = ["read_haproxy"]

_SECTIONS = {
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
}
_TIMEOUTS = ("client", "server", "tunnel", "http-keep-alive")
_WS_NAME = re.compile(r"ws|websocket|socket", re.IGNORECASE)
_SSE_NAME = re.compile(r"sse|event|stream", re.IGNORECASE)


@dataclass
class _Section:
    kind: str
    name: str
    where: Where
    defaults: _Section | None
    timeouts: dict[str, tuple[float, Where]] = field(default_factory=dict)
    options: list[tuple[str, Where]] = field(default_factory=list)

    def timeout(self, name: str) -> tuple[float, Where] | None:
        if name in self.timeouts:
            return self.timeouts[name]
        return self.defaults.timeout(name) if self.defaults is not None else None


def _sections(path: str, text: str) -> list[_Section]:
    sections: list[_Section] = []
    current_defaults: _Section | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        where = Where(path, number)
        if words[0] in _SECTIONS:
            name = words[1] if len(words) > 1 else ""
            parent = None if words[0] == "defaults" else current_defaults
            section = _Section(words[0], name, where, parent)
            if words[0] == "defaults":
                current_defaults = section
            sections.append(section)
            continue
        if not sections:
            raise SourceError.single(
                f"{words[0]!r} outside any section: not an HAProxy configuration",
                file=path,
                line=number,
            )
        section = sections[-1]
        if words[0] == "timeout" and len(words) >= 3 and words[1] in _TIMEOUTS:
            seconds = parse_duration(words[2], default_unit="ms")
            if seconds is None:
                raise SourceError.single(
                    f"timeout {words[1]} {words[2]!r}: not a duration", file=path, line=number
                )
            section.timeouts[words[1]] = (seconds, where)
        elif words[0] == "option" and len(words) >= 2:
            section.options.append((words[1], where))
    return sections


def _timeout(name: str, value: tuple[float, Where], protocols: set[str]) -> Timeout:
    return Timeout(
        f"timeout {name}",
        f"timeout {name} {{s}}",
        value[0],
        value[1],
        stated=True,
        protocols=frozenset(protocols),
    )


def read_haproxy(path: str, text: str) -> tuple[MeasuredHop, ...]:
    """The backends and listen sections of the HAProxy configuration ``text`` (from ``path``)."""
    sections = _sections(path, text)
    # The client side is the frontend's: judge against the shortest client timeout in effect.
    clients = [
        t
        for s in sections
        if s.kind in ("frontend", "listen")
        for t in [s.timeout("client")]
        if t is not None
    ]
    client = min(clients, key=lambda t: t[0]) if clients else None
    routes: list[MeasuredHop] = []
    for section in sections:
        if section.kind not in ("backend", "listen"):
            continue
        tunnel, server = section.timeout("tunnel"), section.timeout("server")
        own_client = section.timeout("client") if section.kind == "listen" else client
        timeouts: list[Timeout] = []
        # After a WebSocket upgrade, timeout tunnel replaces client and server timeouts.
        if tunnel is not None:
            timeouts.append(_timeout("tunnel", tunnel, {"websocket"}))
        sides = [("client", own_client), ("server", server)]
        for name, value in sides:
            if value is not None:
                protocols = {"sse"} if tunnel is not None else {"sse", "websocket"}
                timeouts.append(_timeout(name, value, protocols))
        carries: set[str] = set()
        if "tunnel" in section.timeouts or _WS_NAME.search(section.name):
            carries.add("websocket")
        if _SSE_NAME.search(section.name):
            carries.add("sse")
        routes.append(
            MeasuredHop(
                kind="haproxy",
                label=f"{section.kind} {section.name}".strip(),
                where=section.where,
                carries=frozenset(carries),
                timeouts=tuple(timeouts),
                noted=tuple(f"option {o} ({w})" for o, w in section.options),
            )
        )
    return tuple(routes)
