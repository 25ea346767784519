"""What the chosen protocol needs next to it: signalling and TURN for WebRTC, the POST path
for SSE upstream, a fallback where networks are hostile. Pure: facts in, list out.

The rows are data (``companions.yaml`` beside this module, compiled by
:mod:`selector.rules.advice` and carried by every compiled :class:`~selector.rules.model.Matrix`):
each has a stable id, a condition, its text and its source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selector.engine.recommendation import Companion, trusted

if TYPE_CHECKING:
    from selector.rules.model import Matrix
    from selector.rules.values import Facts

__all__ = ["companions_for"]


def companions_for(matrix: Matrix, protocol: str, facts: Facts) -> list[Companion]:
    """The companion pieces ``protocol`` needs for a profile with ``facts``: the rows of
    ``matrix``'s companion table for ``protocol`` whose condition holds, in table order."""
    return [
        trusted(
            Companion,
            component=row.component,
            reason=row.text(facts),
            id=row.id,
            source=row.source,
        )
        for row in matrix.companions_by_protocol.get(protocol, ())
        if row.test(facts)
    ]
