"""Scoring: which rules of a compiled matrix fire on a profile's facts, and the totals.

Pure and deterministic: scoring runs on the profile's facts, a plain ``dict``
(:mod:`selector.rules.facts`), against a precompiled matrix (:class:`selector.rules.model.Matrix`):
one predicate call per rule, then precomputed deltas. No pydantic validation happens here.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress

from selector.rules.model import TIE_ORDER, Matrix
from selector.rules.values import Facts

__all__ = ["EPSILON", "Outcome", "score", "winner"]

#: Scores are sums of small numbers; closer than this counts as a tie.
EPSILON = 1e-9


class Outcome:
    """Which rules fired on a set of facts, and the resulting score and veto vectors.

    ``graded`` holds, for each fired rule with a graded effect, the deltas it applied.
    ``opened``, when scoring was asked for it, holds for each rule that did not fire the facts
    a change of which alone could make it fire (empty for a rule that fired).
    """

    __slots__ = ("fired", "graded", "opened", "scores", "vetoes")

    def __init__(
        self,
        fired: list[bool],
        scores: list[float],
        vetoes: list[int],
        graded: dict[int, tuple[float, float, float]] | None = None,
        opened: list[frozenset[str]] | None = None,
    ) -> None:
        self.fired = fired
        self.opened = opened
        self.scores = scores
        self.vetoes = vetoes
        self.graded = graded if graded is not None else {}


def score(matrix: Matrix, facts: Facts, *, opened: bool = False) -> Outcome:
    """Evaluate every rule of ``matrix`` on ``facts``.

    ``opened=True`` also fills :attr:`Outcome.opened` for the tipping-point search: each
    conjunct of a rule is then tested on its own, and the facts read by every false one are
    kept (none if two false conjuncts read different facts). The search needs every false
    conjunct, so testing them here rather than once more after scoring took ``recommend()``
    from 2,413,071 to 2,323,021 instructions (bench/engine_instructions.sh).
    """
    if opened:
        fired, open_facts = _open(matrix, facts)
    else:
        fired, open_facts = [test(facts) for test in matrix.tests], None
    scores = [0.0, 0.0, 0.0]
    vetoes = [0, 0, 0]
    graders = matrix.graders
    graded: dict[int, tuple[float, float, float]] = {}
    # Only the rules that fired, picked in C (about 4 of the default matrix's 41 fire on a
    # profile): 1,791,830 -> 1,772,995 instructions per recommend(), with recommend()'s loop over
    # the hits and _require_finite's over the number facts (bench/engine_instructions.sh).
    for index in compress(range(len(fired)), fired):
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
    return Outcome(fired, scores, vetoes, graded, open_facts)


def _open(matrix: Matrix, facts: Facts) -> tuple[list[bool], list[frozenset[str]]]:
    """Which rules fire, and for each that does not, the facts it is open to (see
    :func:`score`)."""
    return matrix.opener()(facts)


def winner(scores: Sequence[float], vetoes: Sequence[int]) -> int | None:
    """Index (into :data:`PROTOCOLS`) of the best protocol not vetoed; ``None`` if all are."""
    best: int | None = None
    for index in TIE_ORDER:
        if vetoes[index]:
            continue
        if best is None or scores[index] > scores[best] + EPSILON:
            best = index
    return best
