"""Read nginx configuration with crossplane, following ``include``s.

Each ``location`` that proxies (``proxy_pass``) becomes a route with the timeouts, buffering,
HTTP version and headers in effect there, inherited from ``http`` and ``server`` the way
nginx inherits them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from selector.errors import Problem
from selector.jsonvalue import JsonObject, JsonValue
from selector.planner.sources.durations import parse_duration
from selector.planner.sources.model import MeasuredHop, SourceError, Timeout, Where, proxy_timeout

__all__ = ["NGINX_DEFAULTS", "read_nginx"]

#: nginx's documented defaults (https://nginx.org/en/docs/http/ngx_http_proxy_module.html).
NGINX_DEFAULTS: dict[str, float] = {"proxy_read_timeout": 60.0, "proxy_send_timeout": 60.0}

_INHERITED = ("proxy_read_timeout", "proxy_send_timeout", "proxy_buffering", "proxy_http_version")
_WS_PATH = re.compile(r"ws|websocket|socket", re.IGNORECASE)
_SSE_PATH = re.compile(r"sse|event|stream", re.IGNORECASE)


@dataclass(frozen=True)
class _Scope:
    """Directives in effect at a level: name -> (argument, where)."""

    values: dict[str, tuple[str, Where]] = field(default_factory=dict)
    headers: dict[str, tuple[str, Where]] = field(default_factory=dict)


# crossplane's payload is JSON: these read its parts with the types crossplane gives them
# (objects in lists, string arguments, integer lines); what is not so is left out (a line
# that is not an integer reads as 0, like a missing one).


def _objects(value: JsonValue) -> list[JsonObject]:
    """The objects of a JSON list (a block's directives, the payload's configs and errors)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _args(directive: JsonObject) -> list[str]:
    args = directive.get("args")
    return [arg for arg in args if isinstance(arg, str)] if isinstance(args, list) else []


def _line(directive: JsonObject) -> int:
    line = directive.get("line")
    return line if isinstance(line, int) else 0


def _where(directive: JsonObject, base: str) -> Where:
    file = str(directive.get("file", base))
    return Where(file, _line(directive))


def _enter(scope: _Scope, block: list[JsonObject], base: str) -> _Scope:
    values = dict(scope.values)
    own_headers: dict[str, tuple[str, Where]] = {}
    for d in block:
        name, args = str(d["directive"]), _args(d)
        if name in _INHERITED and args:
            values[name] = (args[0], _where(d, base))
        elif name == "proxy_set_header" and len(args) >= 2:
            own_headers[args[0].lower()] = (args[1], _where(d, base))
    # proxy_set_header is inherited only by levels that set none of their own.
    return _Scope(values, own_headers or scope.headers)


def _timeout(name: str, scope: _Scope, at: Where) -> Timeout:
    return proxy_timeout(
        name,
        f"{name} {{s}};",
        scope.values.get(name),
        (NGINX_DEFAULTS[name], at),
        parse_duration,
        "not a duration",
    )


def _route(location: JsonObject, scope: _Scope, base: str) -> MeasuredHop:
    where = _where(location, base)
    path = " ".join(_args(location))
    upgrade_header = scope.headers.get("upgrade")
    connection = scope.headers.get("connection")
    upgrade = upgrade_header is not None and (
        "$http_upgrade" in upgrade_header[0] or "websocket" in upgrade_header[0].lower()
    )
    # A literal "upgrade" and a map variable ($connection_upgrade) both pass the upgrade on.
    connection_ok = connection is not None and (
        connection[0].startswith("$") or "upgrade" in connection[0].lower()
    )
    buffering_stated = scope.values.get("proxy_buffering")
    buffering = buffering_stated is None or buffering_stated[0] != "off"
    carries: set[str] = set()
    if upgrade or _WS_PATH.search(path):
        carries.add("websocket")
    if _SSE_PATH.search(path) or (buffering_stated is not None and not buffering):
        carries.add("sse")
    version = scope.values.get("proxy_http_version")
    return MeasuredHop(
        kind="nginx",
        label=f"location {path}",
        where=where,
        carries=frozenset(carries),
        timeouts=(
            _timeout("proxy_read_timeout", scope, where),
            _timeout("proxy_send_timeout", scope, where),
        ),
        buffering=buffering,
        buffering_where=buffering_stated[1] if buffering_stated else where,
        upgrade=upgrade and connection_ok,
        http11=version is not None and version[0] == "1.1",
        spelling={
            "upgrade-headers-missing": "proxy_set_header Upgrade $http_upgrade; "
            'proxy_set_header Connection "upgrade";',
            "upstream-not-http11": "proxy_http_version 1.1;",
            "sse-buffering-on": "proxy_buffering off;",
        },
    )


def _walk(block: list[JsonObject], scope: _Scope, base: str) -> list[MeasuredHop]:
    routes: list[MeasuredHop] = []
    for d in block:
        block_value = d.get("block")
        if block_value is None:
            continue
        inner = _objects(block_value)
        here = _enter(scope, inner, base)
        if d["directive"] == "location" and any(c["directive"] == "proxy_pass" for c in inner):
            routes.append(_route(d, here, base))
        routes.extend(_walk(inner, here, base))
    return routes


def _absolute(directive: JsonObject, root_dir: str) -> None:
    """crossplane names included files as written; make them paths a reader can open."""
    file = directive.get("file")
    if isinstance(file, str) and not os.path.isabs(file) and not os.path.exists(file):
        directive["file"] = os.path.join(root_dir, file)
    for child in _objects(directive.get("block")):
        _absolute(child, root_dir)


_NO_REASON = "cannot parse as an nginx configuration (is a directive missing its ';'?)"


def read_nginx(path: str) -> tuple[MeasuredHop, ...]:
    """The proxying locations of the nginx configuration at ``path`` and its includes."""
    import crossplane

    # check_ctx off: a conf.d file (server blocks at its top level) is read on its own too.
    payload: JsonObject = crossplane.parse(path, combine=True, check_ctx=False, comments=False)
    problems = [
        # crossplane gives an empty message for a directive missing its ";" (``a`` alone).
        Problem(str(e.get("error") or _NO_REASON), str(e.get("file", path)), _line(e))
        for e in _objects(payload.get("errors"))
    ]
    if problems:
        raise SourceError(problems)
    configs = _objects(payload["config"])
    parsed = _objects(configs[0].get("parsed")) if configs else []
    root_dir = os.path.dirname(path)
    for directive in parsed:
        _absolute(directive, root_dir)
    return tuple(_walk(parsed, _enter(_Scope(), parsed, path), path))
