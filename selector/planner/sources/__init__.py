"""Readers of deployed configuration: nginx, HAProxy, Envoy, ingress-nginx, AWS ALB.

:func:`read_sources` turns files into :class:`MeasuredHop` routes, each setting with the
``FILE:LINE`` it came from, for ``selector lint --from`` and ``selector plan --from``. These
modules read files; the judging (:mod:`selector.planner.lint`) stays pure.
"""

from __future__ import annotations

import re
from dataclasses import replace

from selector.errors import undecodable_text
from selector.planner.sources.model import (
    LONG_LIVED_PROTOCOLS,
    MeasuredHop,
    SourceError,
    Timeout,
    Where,
)

__all__ = [
    "LONG_LIVED_PROTOCOLS",
    "MeasuredHop",
    "SourceError",
    "Timeout",
    "Where",
    "read_source",
    "read_sources",
]

#: Larger than any real proxy configuration; refuses a wrong file quickly.
MAX_SOURCE_BYTES = 4 * 1024 * 1024
_HAPROXY_SECTION = re.compile(r"^\s*(defaults|frontend|backend|listen)\b", re.MULTILINE)


def _text(path: str) -> str:
    from selector.loading import read_file_bytes

    raw = read_file_bytes(path, SourceError, MAX_SOURCE_BYTES)
    if len(raw) > MAX_SOURCE_BYTES:
        raise SourceError.single("file is larger than 4 MiB: not a proxy configuration", file=path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message, line, col = undecodable_text(raw, exc)
        raise SourceError.single(message, file=path, line=line, col=col) from None


def read_source(path: str) -> tuple[MeasuredHop, ...]:
    """The routes configured in one file; the format is told by the name and content."""
    text = _text(path)
    lower = path.lower()
    if lower.endswith(".json"):
        from selector.planner.sources.aws import read_aws_alb

        return read_aws_alb(path, text)
    if lower.endswith((".yaml", ".yml")):
        from selector.planner.sources.envoy import read_envoy
        from selector.planner.sources.kubernetes import read_ingress_nginx
        from selector.planner.sources.yamllines import read_yaml_documents

        documents = read_yaml_documents(path, text)
        if any(doc.text("kind") == "Ingress" for doc in documents):
            return read_ingress_nginx(path, documents)
        if any(node.get("route_config") is not None for d in documents for node in d.walk()):
            return read_envoy(path, documents)
        raise SourceError.single(
            "neither a Kubernetes Ingress nor an Envoy configuration (no route_config)", file=path
        )
    # nginx blocks use braces; HAProxy sections are lines without them.
    if lower.endswith((".cfg", ".haproxy")) or ("{" not in text and _HAPROXY_SECTION.search(text)):
        from selector.planner.sources.haproxy import read_haproxy

        return read_haproxy(path, text)
    from selector.planner.sources.nginx import read_nginx

    return read_nginx(path)


def read_sources(paths: list[str]) -> tuple[MeasuredHop, ...]:
    """The routes of every file in ``paths``, in order; all unreadable files are reported."""
    routes: list[MeasuredHop] = []
    problems = []
    for path in paths:
        try:
            routes.extend(replace(route, origin=path) for route in read_source(path))
        except SourceError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SourceError(problems)
    return tuple(routes)
