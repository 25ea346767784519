"""Read Envoy's YAML: each route of an HTTP connection manager becomes a route.

Defaults from Envoy's API reference (https://www.envoyproxy.io/docs/envoy/latest/api-v3/
config/route/v3/route_components.proto): the route ``timeout`` is 15 s and covers the whole
response, so it ends every long-lived stream; ``stream_idle_timeout`` is 5 min; a route's
``idle_timeout`` replaces it; WebSocket needs ``upgrade_configs`` with ``upgrade_type:
websocket`` on the manager or the route.
"""

from __future__ import annotations

import re

from selector.planner.sources.durations import parse_duration
from selector.planner.sources.model import MeasuredHop, SourceError, Timeout, Where
from selector.planner.sources.yamllines import Node

__all__ = ["read_envoy"]

ROUTE_TIMEOUT_DEFAULT_S = 15.0
STREAM_IDLE_DEFAULT_S = 300.0
_WS_PATH = re.compile(r"ws|websocket|socket", re.IGNORECASE)
_SSE_PATH = re.compile(r"sse|event|stream", re.IGNORECASE)


def _seconds(node: Node, path: str, name: str) -> float:
    text = node.scalar if node.scalar is not None else node.text("seconds")
    seconds = parse_duration(text or "")
    if seconds is None:
        raise SourceError.single(f"{name}: {text!r} is not a duration", file=path, line=node.line)
    return seconds


def _upgrades(node: Node | None) -> bool:
    return node is not None and any(
        (item.text("upgrade_type") or "").lower() == "websocket" for item in node.items
    )


def _route(route: Node, manager: Node, path: str) -> MeasuredHop | None:
    action = route.get("route")
    if action is None:
        return None
    at = Where(path, route.line)
    prefix = route.text("match", "prefix") or route.text("match", "path") or ""
    upgrade = _upgrades(manager.get("upgrade_configs")) or _upgrades(action.get("upgrade_configs"))
    timeouts: list[Timeout] = []
    stated = action.get("timeout")
    lifetime = _seconds(stated, path, "timeout") if stated else ROUTE_TIMEOUT_DEFAULT_S
    if lifetime > 0:
        where = Where(path, stated.line) if stated else Where(path, action.line)
        timeouts.append(
            Timeout("timeout", "timeout: {s}", lifetime, where, stated is not None, "lifetime")
        )
    idle_node = action.get("idle_timeout") or manager.get("stream_idle_timeout")
    name = "idle_timeout" if action.get("idle_timeout") else "stream_idle_timeout"
    idle = _seconds(idle_node, path, name) if idle_node else STREAM_IDLE_DEFAULT_S
    if idle > 0:
        where = Where(path, idle_node.line) if idle_node else Where(path, manager.line)
        timeouts.append(Timeout(name, f"{name}: {{s}}", idle, where, idle_node is not None))
    carries: set[str] = set()
    if _upgrades(action.get("upgrade_configs")) or _WS_PATH.search(prefix):
        carries.add("websocket")
    if _SSE_PATH.search(prefix):
        carries.add("sse")
    return MeasuredHop(
        kind="envoy",
        label=f"route {prefix or '?'}",
        where=at,
        carries=frozenset(carries),
        timeouts=tuple(timeouts),
        upgrade=upgrade,
        spelling={"upgrade-headers-missing": "upgrade_configs: [{upgrade_type: websocket}]"},
    )


def read_envoy(path: str, documents: list[Node]) -> tuple[MeasuredHop, ...]:
    """The routes of every HTTP connection manager in ``documents``."""
    routes: list[MeasuredHop] = []
    for doc in documents:
        for manager in doc.walk():
            if manager.get("route_config") is None:
                continue
            hosts = manager.get("route_config", "virtual_hosts")
            for host in hosts.items if hosts else ():
                entries = host.get("routes")
                for entry in entries.items if entries else ():
                    route = _route(entry, manager, path)
                    if route is not None:
                        routes.append(route)
    return tuple(routes)
