"""``recommend()``: score WebSocket, SSE and WebRTC for a profile with the rules matrix.

Pure and deterministic: no I/O (beyond reading the packaged matrix once per process), no
clock, no randomness. Scoring runs on the profile's facts, a plain ``dict``
(:mod:`selector.rules.facts`), against a precompiled matrix (:class:`selector.rules.model.Matrix`):
one predicate call per rule, then precomputed deltas. No pydantic validation happens here;
the result model is assembled once at the end from trusted values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any

from selector import __version__
from selector.rules.model import PROTOCOLS, TIE_ORDER, Matrix

if TYPE_CHECKING:
    from selector.profile import Profile
    from selector.recommendation import Recommendation

__all__ = ["Outcome", "recommend", "resolve_matrix", "score", "winner"]

#: Scores are sums of small numbers; closer than this counts as a tie.
EPSILON = 1e-9

MatrixArg = Matrix | str | PathLike[str] | Sequence[str | PathLike[str]] | None


class Outcome:
    """Which rules fired on a set of facts, and the resulting score and veto vectors."""

    __slots__ = ("fired", "scores", "vetoes")

    def __init__(self, fired: list[bool], scores: list[float], vetoes: list[int]) -> None:
        self.fired = fired
        self.scores = scores
        self.vetoes = vetoes


def score(matrix: Matrix, facts: Mapping[str, Any]) -> Outcome:
    """Evaluate every rule of ``matrix`` on ``facts``."""
    fired = [test(facts) for test in matrix.tests]
    scores = [0.0, 0.0, 0.0]
    vetoes = [0, 0, 0]
    for index, hit in enumerate(fired):
        if hit:
            d = matrix.deltas[index]
            v = matrix.vetoes[index]
            scores[0] += d[0]
            scores[1] += d[1]
            scores[2] += d[2]
            vetoes[0] += v[0]
            vetoes[1] += v[1]
            vetoes[2] += v[2]
    return Outcome(fired, scores, vetoes)


def winner(scores: Sequence[float], vetoes: Sequence[int]) -> int | None:
    """Index (into :data:`PROTOCOLS`) of the best protocol not vetoed; ``None`` if all are."""
    best: int | None = None
    for index in TIE_ORDER:
        if vetoes[index]:
            continue
        if best is None or scores[index] > scores[best] + EPSILON:
            best = index
    return best


def resolve_matrix(matrix: MatrixArg) -> Matrix:
    """The :class:`Matrix` to use: the cached default, a given one, or default + overlay files."""
    from selector.rules.loading import default_matrix, load_matrix

    if matrix is None:
        return default_matrix()
    if isinstance(matrix, Matrix):
        return matrix
    if isinstance(matrix, str | PathLike):
        return load_matrix([matrix])
    return load_matrix(list(matrix))


def recommend(profile: Profile, *, matrix: MatrixArg = None) -> Recommendation:
    """Recommend a protocol for ``profile`` and explain every point of the score.

    ``matrix`` is ``None`` for the built-in rules, a :class:`Matrix` from
    :func:`selector.load_matrix`, or overlay file path(s) to extend the built-in rules with
    (those files are read; everything else is pure). Check ``result.protocol``: ``None``
    means every protocol is vetoed, and ``result.ranking`` says why. Raises
    :class:`selector.errors.ProfileError` for a non-finite number (``.inf``).
    """
    from selector.bandwidth import estimate_bandwidth
    from selector.companions import companions_for
    from selector.planner.solver import plan_lifetime
    from selector.recommendation import (
        Provenance,
        RankedProtocol,
        Recommendation,
        RuleHit,
        trusted,
    )
    from selector.rules.facts import profile_facts
    from selector.tipping import find_tipping_points

    compiled = resolve_matrix(matrix)
    facts = profile_facts(profile)
    _require_finite(facts, profile.name)
    outcome = score(compiled, facts)
    best = winner(outcome.scores, outcome.vetoes)

    hits: list[RuleHit] = []
    veto_reasons: list[list[str]] = [[], [], []]
    for index, hit in enumerate(outcome.fired):
        if not hit:
            continue
        rule = compiled.rules[index]
        reason = rule.reason(facts)
        for effect in rule.effects:
            slot = PROTOCOLS.index(effect.protocol)
            if effect.veto:
                veto_reasons[slot].append(f"{reason} [{rule.id}]")
            hits.append(
                trusted(
                    RuleHit,
                    rule=rule.id,
                    title=rule.title,
                    protocol=effect.protocol,
                    effect="veto" if effect.veto else "score",
                    delta=rule.scaled(effect),
                    reason=reason,
                    refs=list(rule.refs),
                )
            )
    # Group by protocol (winner first): vetoes, then gains from the largest, then losses from
    # the largest; the rule id breaks ties so the order never depends on the matrix's order.
    order = _ranking_order(outcome.scores, outcome.vetoes)
    position = {PROTOCOLS[i]: n for n, i in enumerate(order)}
    hits.sort(
        key=lambda h: (
            position[h.protocol],
            h.effect != "veto",
            h.delta < 0,
            -abs(h.delta),
            h.rule,
        )
    )
    ranking = [
        trusted(
            RankedProtocol,
            protocol=PROTOCOLS[i],
            score=_clean(outcome.scores[i]),
            vetoed=bool(outcome.vetoes[i]),
            veto_reasons=sorted(veto_reasons[i]),
        )
        for i in order
    ]
    margin, confidence = _margin(outcome.scores, outcome.vetoes, best)
    protocol = PROTOCOLS[best] if best is not None else None
    return trusted(
        Recommendation,
        recommendation_version=1,
        profile=profile.name,
        protocol=protocol,
        confidence=confidence,
        margin=margin,
        ranking=ranking,
        hits=hits,
        tipping_points=find_tipping_points(compiled, facts, outcome, best, profile),
        companions=companions_for(protocol, facts) if protocol else [],
        bandwidth=estimate_bandwidth(facts),
        provenance=trusted(
            Provenance,
            tool_version=__version__,
            matrix_sha256=compiled.sha256,
            overlays=list(compiled.sources),
        ),
        plan=plan_lifetime(profile, protocol) if protocol else None,
    )


def _require_finite(facts: Mapping[str, Any], name: str) -> None:
    """The profile model admits ``.inf``; no protocol choice or estimate means anything then."""
    from selector.errors import Problem, ProfileError
    from selector.rules.facts import FACTS

    problems = [
        Problem(f"must be a finite number, got {facts[fact]}", file=name, path=fact)
        for fact, spec in FACTS.items()
        if spec.kind == "number" and not math.isfinite(facts[fact])
    ]
    if problems:
        raise ProfileError(problems)


def _clean(value: float) -> float:
    """Round away float noise from adding weighted deltas (``2.9999999999999996``)."""
    return round(value, 6) + 0.0  # + 0.0 turns -0.0 into 0.0


def _ranking_order(scores: Sequence[float], vetoes: Sequence[int]) -> list[int]:
    """Viable protocols by score (ties in :data:`TIE_ORDER`), then vetoed ones by score."""
    tie_rank = {index: n for n, index in enumerate(TIE_ORDER)}
    return sorted(
        range(len(PROTOCOLS)),
        key=lambda i: (bool(vetoes[i]), -round(scores[i], 6), tie_rank[i]),
    )


def _margin(
    scores: Sequence[float], vetoes: Sequence[int], best: int | None
) -> tuple[float | None, Any]:
    if best is None:
        return None, "none"
    others = [scores[i] for i in range(len(PROTOCOLS)) if i != best and not vetoes[i]]
    if not others:
        return None, "high"
    margin = _clean(scores[best] - max(others))
    if margin >= 4:
        return margin, "high"
    if margin >= 2:
        return margin, "medium"
    return margin, "low"
