"""Scoring: which rules of a compiled matrix fire on a profile's facts, and the totals.

Pure and deterministic: scoring runs on the profile's facts, a plain ``dict``
(:mod:`selector.rules.facts`), against a precompiled matrix (:class:`selector.rules.model.Matrix`):
one predicate call per rule, then precomputed deltas. No pydantic validation happens here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from selector.rules.model import TIE_ORDER, Matrix

__all__ = ["EPSILON", "Outcome", "score", "winner"]

#: Scores are sums of small numbers; closer than this counts as a tie.
EPSILON = 1e-9


class Outcome:
    """Which rules fired on a set of facts, and the resulting score and veto vectors.

    ``graded`` holds, for each fired rule with a graded effect, the deltas it applied.
    """

    __slots__ = ("fired", "graded", "scores", "vetoes")

    def __init__(
        self,
        fired: list[bool],
        scores: list[float],
        vetoes: list[int],
        graded: dict[int, tuple[float, float, float]] | None = None,
    ) -> None:
        self.fired = fired
        self.scores = scores
        self.vetoes = vetoes
        self.graded = graded if graded is not None else {}


def score(matrix: Matrix, facts: Mapping[str, Any]) -> Outcome:
    """Evaluate every rule of ``matrix`` on ``facts``."""
    fired = [test(facts) for test in matrix.tests]
    scores = [0.0, 0.0, 0.0]
    vetoes = [0, 0, 0]
    graders = matrix.graders
    graded: dict[int, tuple[float, float, float]] = {}
    for index, hit in enumerate(fired):
        if hit:
            grader = graders.get(index)
            if grader is None:
                d = matrix.deltas[index]
            else:
                d = graded[index] = grader(facts)
            v = matrix.vetoes[index]
            scores[0] += d[0]
            scores[1] += d[1]
            scores[2] += d[2]
            vetoes[0] += v[0]
            vetoes[1] += v[1]
            vetoes[2] += v[2]
    return Outcome(fired, scores, vetoes, graded)


def winner(scores: Sequence[float], vetoes: Sequence[int]) -> int | None:
    """Index (into :data:`PROTOCOLS`) of the best protocol not vetoed; ``None`` if all are."""
    best: int | None = None
    for index in TIE_ORDER:
        if vetoes[index]:
            continue
        if best is None or scores[index] > scores[best] + EPSILON:
            best = index
    return best
