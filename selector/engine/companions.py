"""What the chosen protocol needs next to it: signalling and TURN for WebRTC, the POST path
for SSE upstream, a fallback where networks are hostile. Pure: facts in, list out.

The rows are data (``companions.yaml`` beside this module, compiled once by
:mod:`selector.rules.advice`): each has a stable id, a condition, its text and its source.
"""

from __future__ import annotations

import functools

from selector.engine.recommendation import Companion, trusted
from selector.rules.advice import Advice, companion_table
from selector.rules.values import Facts

__all__ = ["companions_for"]


def companions_for(protocol: str, facts: Facts) -> list[Companion]:
    """The companion pieces ``protocol`` needs for a profile with ``facts``, in table order."""
    return [
        trusted(
            Companion,
            component=row.component,
            reason=row.text(facts),
            id=row.id,
            source=row.source,
        )
        for row in _rows_for(protocol)
        if row.test(facts)
    ]


@functools.lru_cache(maxsize=8)  # bounded: companions_for() is public, any string may come
def _rows_for(protocol: str) -> tuple[Advice, ...]:
    """The companion rows for ``protocol``, in table order (the table is built once)."""
    return tuple(row for row in companion_table() if protocol in row.protocols)
