"""What a deployed configuration file says about one route through one hop.

Pure data, shared by the readers (which fill it from files) and the path lint (which judges
it). Every value carries the place it was read from, so a finding can name the line to change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from selector.errors import SelectorError

__all__ = [
    "LONG_LIVED_PROTOCOLS",
    "MeasuredHop",
    "SourceError",
    "Timeout",
    "Where",
    "proxy_timeout",
]

#: The protocols whose connections the path must keep open.
LONG_LIVED_PROTOCOLS: tuple[str, ...] = ("websocket", "sse")


class SourceError(SelectorError):
    """A configuration file could not be read or understood; each problem has file and line."""


@dataclass(frozen=True)
class Where:
    """A place in a file: ``FILE:LINE`` (line 1-based)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Timeout:
    """One timeout in effect on a route, stated in the file or the product's default."""

    #: The setting as the file spells it (``proxy_read_timeout``, ``timeout tunnel``, ...).
    name: str
    #: The setting written with another value: ``{s}`` is replaced by ``38s``, ``{n}`` by ``38``.
    template: str
    seconds: float
    #: Where it is set; for a default, where it would be added.
    where: Where
    #: ``False`` when the file does not state it and the product's default applies.
    stated: bool
    #: ``idle``: fires after silence; ``lifetime``: ends the connection after this long.
    role: Literal["idle", "lifetime"] = "idle"
    #: The protocols this timeout applies to on the route.
    protocols: frozenset[str] = frozenset(LONG_LIVED_PROTOCOLS)

    def written(self, seconds: float) -> str:
        """The setting with ``seconds`` as the file would spell it."""
        return self.template.replace("{s}", f"{seconds:g}s").replace("{n}", f"{seconds:g}")


@dataclass(frozen=True)
class MeasuredHop:
    """One route (nginx location, HAProxy backend, Envoy route, ...) read from a file."""

    #: The hop kind, one of the profile's ``HopKind`` values.
    kind: str
    #: What the route is in the file (``location /ws``, ``backend ws``).
    label: str
    where: Where
    #: Protocols the file shows this route carries; empty when the file does not say.
    carries: frozenset[str] = frozenset()
    timeouts: tuple[Timeout, ...] = ()
    #: Response buffering (holds SSE events back); ``None`` when the hop has no such setting.
    buffering: bool | None = None
    buffering_where: Where | None = None
    #: The WebSocket upgrade is forwarded; ``None`` when the hop forwards it by itself.
    upgrade: bool | None = None
    #: HTTP/1.1 to the upstream (WebSocket needs it); ``None`` when not a setting.
    http11: bool | None = None
    #: How each fix is spelled in this file's syntax, by finding check id.
    spelling: dict[str, str] = field(default_factory=dict)
    #: Settings read but not judged (keepalive_timeout, option http-server-close), for reports.
    noted: tuple[str, ...] = ()
    #: The file named on the command line that led to this route (it may be an include).
    origin: str = ""

    def carries_protocol(self, protocol: str, tagged_in_file: bool) -> bool:
        """Whether to judge this route for ``protocol``.

        A route the file does not tag is judged only when no route of its file is tagged with
        ``protocol`` (then it is the one that must carry it).
        """
        if protocol in self.carries:
            return True
        return not self.carries and not tagged_in_file


def proxy_timeout(
    name: str,
    template: str,
    stated: tuple[str, Where] | None,
    default: tuple[float, Where],
    parse: Callable[[str], float | None],
    expects: str,
) -> Timeout:
    """An nginx-style read or send timeout (nginx itself, ingress-nginx annotations).

    ``stated`` is the value and its place when the file sets it, else ``default`` (the
    product's default and where it would be added) applies. nginx applies the read timeout
    to both long-lived protocols and the send timeout to WebSocket only (an SSE stream's
    writes are the server's own). ``expects`` says what ``parse`` failed to read.
    """
    protocols = frozenset(LONG_LIVED_PROTOCOLS if "read" in name else ("websocket",))
    if stated is None:
        seconds, at = default
        return Timeout(name, template, seconds, at, stated=False, protocols=protocols)
    text, where = stated
    parsed = parse(text)
    if parsed is None:
        raise SourceError.single(f"{name} {text!r}: {expects}", file=where.file, line=where.line)
    return Timeout(name, template, parsed, where, stated=True, protocols=protocols)
