"""Read ingress-nginx annotations from Kubernetes Ingress manifests.

Each Ingress becomes a route. ingress-nginx forwards WebSocket upgrades by itself and its
``proxy-buffering`` default is off (https://kubernetes.github.io/ingress-nginx/user-guide/
nginx-configuration/annotations/); timeouts are whole seconds.
"""

from __future__ import annotations

import re

from selector.planner.sources.durations import parse_seconds
from selector.planner.sources.model import MeasuredHop, Timeout, Where, proxy_timeout
from selector.planner.sources.yamllines import Node

__all__ = ["read_ingress_nginx"]

PREFIX = "nginx.ingress.kubernetes.io/"
#: ingress-nginx's defaults for the annotations read here.
INGRESS_DEFAULTS: dict[str, float] = {"proxy-read-timeout": 60.0, "proxy-send-timeout": 60.0}
_WS_NAME = re.compile(r"ws|websocket|socket", re.IGNORECASE)
_SSE_NAME = re.compile(r"sse|event|stream", re.IGNORECASE)


def _timeout(name: str, annotations: Node | None, at: Where, path: str) -> Timeout:
    node = annotations.get(PREFIX + name) if annotations is not None else None
    stated = None if node is None or node.scalar is None else (node.scalar, Where(path, node.line))
    return proxy_timeout(
        PREFIX + name,
        f'{PREFIX}{name}: "{{n}}"',
        stated,
        (INGRESS_DEFAULTS[name], at),
        parse_seconds,
        "ingress-nginx expects whole seconds",
    )


def read_ingress_nginx(path: str, documents: list[Node]) -> tuple[MeasuredHop, ...]:
    """One route per ``Ingress`` among ``documents``."""
    routes: list[MeasuredHop] = []
    for doc in documents:
        if doc.text("kind") != "Ingress":
            continue
        name = doc.text("metadata", "name") or ""
        at = Where(path, doc.line)
        annotations = doc.get("metadata", "annotations")
        paths = " ".join(
            n.scalar or ""
            for n in doc.walk()
            if n.mapping.get("path") is None and n.scalar is not None and n.scalar.startswith("/")
        )
        carries: set[str] = set()
        if _WS_NAME.search(name) or _WS_NAME.search(paths):
            carries.add("websocket")
        if _SSE_NAME.search(name) or _SSE_NAME.search(paths):
            carries.add("sse")
        buffering_node = annotations.get(PREFIX + "proxy-buffering") if annotations else None
        buffering = buffering_node is not None and buffering_node.scalar == "on"
        routes.append(
            MeasuredHop(
                kind="ingress_nginx",
                label=f"Ingress {name}",
                where=at,
                carries=frozenset(carries),
                timeouts=(
                    _timeout("proxy-read-timeout", annotations, at, path),
                    _timeout("proxy-send-timeout", annotations, at, path),
                ),
                buffering=buffering,
                buffering_where=Where(path, buffering_node.line) if buffering_node else at,
                spelling={"sse-buffering-on": f'{PREFIX}proxy-buffering: "off"'},
            )
        )
    return tuple(routes)
