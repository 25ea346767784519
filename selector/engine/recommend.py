"""``recommend()``: score WebSocket, SSE and WebRTC for a profile and assemble the answer.

Pure and deterministic: no clock, no randomness. The answer (rule hits, ranking, margin,
tipping points, companions, bandwidth, the lifetime plan) is assembled once at the end from
trusted values, with no pydantic validation on the way.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from itertools import compress
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

# Imported at module level, not inside recommend(): every caller imports this module lazily
# already, and a function-level ``from ... import`` of a loaded module costs ~7,900
# instructions on Python 3.11 (callgrind). recommend() ran ~14 of them per call; with
# companions, tipping and bandwidth importing at module level too, its count over profiles/
# and tests/corpus went from 2,797,598 to 2,685,504 (bench/engine_instructions.sh).
from selector import __version__
from selector.engine.bandwidth import estimate_bandwidth
from selector.engine.companions import companions_for
from selector.engine.recommendation import (
    CloseCall,
    Provenance,
    RankedProtocol,
    Recommendation,
    RuleHit,
    trusted,
)
from selector.engine.score import score, winner
from selector.engine.tipping import CHANNEL_READ_NOTE, find_tipping_points
from selector.errors import Problem, ProfileError
from selector.planner.solver import heartbeats_and_plan
from selector.protocols import PROTOCOLS
from selector.rules.facts import FACTS, profile_facts
from selector.rules.measures import MEASURES
from selector.rules.model import TIE_ORDER, Matrix
from selector.rules.values import Facts, number

if TYPE_CHECKING:
    from selector.engine.recommendation import TippingPoint
    from selector.profile import Profile
    from selector.rules.model import Grade

__all__ = [
    "CLOSE_MARGIN",
    "SENSITIVE_FACTOR",
    "TIE_BREAK",
    "UNSTATED_NOTE",
    "WORKLOAD_KIND_FIELDS",
    "recommend",
    "unstated",
]

#: A margin at or under this many points is a close call: the smallest weight a rule gives,
#: so one more secondary cost or convenience could reverse it.
CLOSE_MARGIN = 1.0
#: A numeric tipping point within this factor of the profile's own value makes the answer
#: sensitive: profile numbers are estimates, and a factor of 2 is within their usual error.
SENSITIVE_FACTOR = 2.0
#: The one principle that orders equal scores (:data:`selector.rules.model.TIE_ORDER`).
TIE_BREAK = (
    "least infrastructure that meets every hard requirement: plain HTTP (sse), then one "
    "upgraded connection (websocket), then ICE, DTLS and SCTP with signalling and TURN (webrtc)"
)


def recommend(profile: Profile, matrix: Matrix) -> Recommendation:
    """Recommend a protocol for ``profile`` under the compiled ``matrix`` and explain every
    point of the score.

    ``matrix`` carries the rules and the advice tables (companions, planner notes); the
    loading side compiles it (:func:`selector.rules.loading.default_matrix`,
    :func:`selector.load_matrix`), and :func:`selector.recommend` is this function with the
    built-in matrix filled in. Pure: it reads no file, clock or socket. Check
    ``result.protocol``: ``None`` means every protocol is vetoed, and ``result.ranking``
    says why. Raises :class:`selector.errors.ProfileError` for a non-finite number
    (``.inf``), and :class:`TypeError` for anything but a :class:`Matrix` as ``matrix``.
    """
    if not isinstance(matrix, Matrix):
        # Paths were accepted here once; reading them is the loading side's job now.
        raise TypeError(
            f"matrix must be a compiled Matrix, not {type(matrix).__name__}: read "
            "overlay files with selector.load_matrix(paths)"
        )
    facts = profile_facts(profile)
    _require_finite(facts, profile.name)
    outcome = score(matrix, facts, opened=True)
    best = winner(outcome.scores, outcome.vetoes)

    # Rounded once: the ranking's order and its scores both use them.
    # Whole scores (most are) kept as they are, as in estimate_bandwidth().
    rounded = [v if v.is_integer() else round(v, 6) for v in outcome.scores]
    order = _ranking_order(rounded, outcome.vetoes)
    position = [0, 0, 0]
    for n, i in enumerate(order):
        position[i] = n
    keyed: list[tuple[tuple[int, bool, bool, float, str], RuleHit]] = []
    veto_reasons: list[list[str]] = [[], [], []]
    for index in compress(range(len(outcome.fired)), outcome.fired):
        rule = matrix.rules[index]
        reason = rule.reason(facts)
        graded = outcome.graded.get(index)
        for effect in rule.effects:
            slot = _SLOT[effect.protocol]
            if effect.veto:
                veto_reasons[slot].append(f"{reason} [{rule.id}]")
            delta = graded[slot] if graded is not None else rule.scaled(effect)
            grade = None
            if effect.grade is not None:
                grade = _grade_text(
                    effect.grade, number(facts, effect.grade.measure), delta, rule.weight
                )
            # Group by protocol (winner first): vetoes, then gains from the largest, then
            # losses from the largest; the rule id breaks ties so the order never depends on
            # the matrix's order. The key is made from these values rather than read back
            # from each model, whose every attribute read goes through pydantic's
            # ``__getattr__`` hook (with the rounding shared with the ranking:
            # 1,808,817 -> 1,791,830 instructions per recommend()).
            key = (position[slot], not effect.veto, delta < 0, -abs(delta), rule.id)
            keyed.append(
                (
                    key,
                    trusted(
                        RuleHit,
                        rule=rule.id,
                        title=rule.title,
                        protocol=effect.protocol,
                        effect="veto" if effect.veto else "score",
                        delta=delta,
                        reason=f"{reason} {grade}" if grade else reason,
                        refs=list(rule.refs),
                        grade=grade,
                    ),
                )
            )
    keyed.sort(key=_first)
    hits = [hit for _, hit in keyed]
    ranking = [
        trusted(
            RankedProtocol,
            protocol=PROTOCOLS[i],
            score=rounded[i] + 0.0,  # _clean(): + 0.0 turns -0.0 into 0.0
            vetoed=bool(outcome.vetoes[i]),
            veto_reasons=sorted(veto_reasons[i]),
        )
        for i in order
    ]
    margin, confidence = _margin(outcome.scores, outcome.vetoes, best)
    protocol = PROTOCOLS[best] if best is not None else None
    tipping_points = find_tipping_points(matrix, facts, outcome, best, profile)
    if confidence in ("high", "medium") and margin is not None and _sensitive(tipping_points):
        confidence = "medium" if confidence == "high" else "low"
    if confidence in ("high", "medium") and _rests_on_one_rule(hits, ranking):
        confidence = "medium" if confidence == "high" else "low"
    close = None
    if margin is not None and margin <= CLOSE_MARGIN and len(ranking) > 1:
        close = _close_call(ranking[0], ranking[1], margin, tipping_points, unstated(profile))
    heartbeats, plan = heartbeats_and_plan(
        profile, protocol, facts, matrix.notes_by_protocol.get(protocol or "", ())
    )
    return trusted(
        Recommendation,
        recommendation_version=1,
        profile=profile.name,
        protocol=protocol,
        confidence=confidence,
        margin=margin,
        ranking=ranking,
        hits=hits,
        tipping_points=tipping_points,
        companions=companions_for(matrix, protocol, facts) if protocol else [],
        bandwidth=estimate_bandwidth(facts, heartbeats),
        provenance=_provenance(matrix),
        close=close,
        plan=plan,
    )


@functools.lru_cache(maxsize=16)
def _provenance(matrix: Matrix) -> Provenance:
    """The provenance of every answer from ``matrix``: it depends on nothing else, so it is
    built once per matrix and shared (the model is frozen, its overlays a tuple): 1,690,821
    -> 1,680,865 instructions per recommend() (bench/engine_instructions.sh)."""
    return trusted(
        Provenance,
        tool_version=__version__,
        matrix_sha256=matrix.sha256,
        overlays=tuple(matrix.sources),
    )


def _grade_text(grade: Grade, value: float, delta: float, weight: float) -> str:
    """How a graded effect got its size: the measure's value, its band and every band."""
    unit = MEASURES[grade.measure].unit
    shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    return (
        f"Graded by {grade.measure} = {shown} {unit}: band {grade.band_label(grade.band(value))}"
        f" gives {delta:+g} (bands: {grade.label(weight)})."
    )


#: Each protocol's index in :data:`PROTOCOLS` (a dict lookup, not ``PROTOCOLS.index``).
_SLOT = {protocol: slot for slot, protocol in enumerate(PROTOCOLS)}

#: A tuple, not ``int | float``, which is built again on every isinstance() call.
_NUMBERS = (int, float)


def _rests_on_one_rule(hits: Sequence[RuleHit], ranking: Sequence[RankedProtocol]) -> bool:
    """Whether one rule alone separates the winner from the runner-up (the best protocol not
    vetoed after it): a single gain for the winner and no rule read for the runner-up at all.
    Such an answer rests on one reading of the profile, with nothing weighed on the other
    side: over tests/corpus (1,188 cases), those answers (93 at margin 2 or 3, nearly all a
    receive-only stream read for SSE by push-only-stream) agreed with the teams 50 times,
    where the other medium-confidence answers agreed 123 times in 138 (docs/scoring.md)."""
    winner = ranking[0].protocol
    runner_up = next((ranked.protocol for ranked in ranking[1:] if not ranked.vetoed), None)
    if runner_up is None:
        return False
    favouring = set()
    for hit in hits:
        # The model's __dict__, read once, not four attributes through pydantic's
        # __getattr__ hook (as _sensitive does): 1,822,924 -> 1,818,111 instructions per
        # recommend() over 1,202 profiles (bench/engine_instructions.sh).
        values = hit.__dict__
        protocol = values["protocol"]
        if protocol == runner_up:
            return False
        if protocol == winner and values["effect"] == "score" and values["delta"] > 0:
            favouring.add(values["rule"])
    return len(favouring) == 1


def _sensitive(tipping_points: Sequence[TippingPoint]) -> bool:
    """Whether a numeric tipping point lies within :data:`SENSITIVE_FACTOR` of its value now."""
    for tip in tipping_points:
        # One read of the model's __dict__ rather than two attributes through pydantic's
        # __getattr__ hook (with the advice rows grouped by protocol: 1,705,989 -> 1,699,083
        # instructions per recommend(), bench/engine_instructions.sh).
        values = tip.__dict__
        now, then = values["current"], values["value"]
        if isinstance(now, bool) or isinstance(then, bool):
            continue
        if not isinstance(now, _NUMBERS) or not isinstance(then, _NUMBERS):
            continue
        if now == FACTS[values["field"]].maximum:
            # A share at its whole (sending_share 1: every connection sends, what every v1
            # file means) states the workload's shape; it is not an estimate that may be off
            # by a factor of 2.
            continue
        if now > 0 and then > 0 and max(now, then) <= SENSITIVE_FACTOR * min(now, then):
            return True
    return False


def unstated(profile: Profile) -> frozenset[str]:
    """Dotted paths of the fields the profile leaves to their defaults, in the parts it has
    (an absent traffic direction is a statement, "none"; its fields are not listed)."""
    found: set[str] = set()
    pending: list[tuple[str, BaseModel]] = [("", profile)]
    while pending:
        prefix, model = pending.pop()
        given = model.model_fields_set
        for name in type(model).model_fields:
            value = model.__dict__[name]
            if isinstance(value, BaseModel):
                pending.append((f"{prefix}{name}.", value))
            elif name not in given:
                found.add(prefix + name)
    return frozenset(found)


#: How a deciding question marks a field the profile left to its default.
UNSTATED_NOTE = f"the default: {CHANNEL_READ_NOTE}"


def _open_question(tip: TippingPoint) -> str:
    """A tipping point's description, saying that its field is one the profile left open."""
    text = tip.description
    if text.endswith(f"{CHANNEL_READ_NOTE})"):  # "(now read as in_band: ...)" says it already
        return text
    if text.endswith(")"):  # "... (now separate_requests)"
        return f"{text[:-1]}, {UNSTATED_NOTE})"
    return f"{text} ({UNSTATED_NOTE})"


#: Fields whose change makes a different workload (a text feed that starts carrying audio,
#: a server that becomes a peer), not an open detail of this one: they are the questions a
#: close call asks last. Over the 729 cases of the corpus, asking the open questions first
#: and nothing more put a media question (audio, video) among the three of 26 close calls
#: out of 149, every one on a workload that carries no media.
WORKLOAD_KIND_FIELDS = frozenset({"media", "topology"})


def _close_call(
    first: RankedProtocol,
    second: RankedProtocol,
    margin: float,
    tips: Sequence[TippingPoint],
    defaults: frozenset[str],
) -> CloseCall:
    # The questions the profile left open come first: answering them is what decides it. A
    # change of what the workload is comes last, whether stated or not.
    to_second = [t for t in tips if t.protocol == second.protocol]
    open_first = sorted(
        to_second, key=lambda t: (t.field in WORKLOAD_KIND_FIELDS, t.field not in defaults)
    )
    deciding = [_open_question(t) if t.field in defaults else t.description for t in open_first[:3]]
    if margin == 0:
        decided = (
            f"{first.protocol} and {second.protocol} score {_clean(first.score):g} each; "
            f"ranked by {TIE_BREAK}"
        )
    else:
        decided = (
            f"not needed: {first.protocol} leads {second.protocol} by {margin:g}; equal scores "
            f"would be ranked by {TIE_BREAK}"
        )
    return trusted(
        CloseCall,
        runner_up=second.protocol,
        margin=margin,
        deciding=deciding,
        tie_break=decided,
    )


#: The number facts, in :data:`FACTS` order.
_NUMBER_FACTS = tuple(fact for fact, spec in FACTS.items() if spec.kind == "number")


def _require_finite(facts: Facts, name: str) -> None:
    """The profile model admits ``.inf``; no protocol choice or estimate means anything then."""
    # The common case first, in one pass that builds no list.
    if all(map(math.isfinite, map(functools.partial(number, facts), _NUMBER_FACTS))):
        return
    problems = [
        Problem(f"must be a finite number, got {facts[fact]}", file=name, path=fact)
        for fact in _NUMBER_FACTS
        if not math.isfinite(number(facts, fact))
    ]
    if problems:
        raise ProfileError(problems)


def _clean(value: float) -> float:
    """Round away float noise from adding weighted deltas (``2.9999999999999996``)."""
    return round(value, 6) + 0.0  # + 0.0 turns -0.0 into 0.0


def _ranking_order(rounded: Sequence[float], vetoes: Sequence[int]) -> list[int]:
    """Viable protocols by score (``rounded`` to 6 places; ties in :data:`TIE_ORDER`), then
    vetoed ones by score."""
    return sorted(
        range(len(PROTOCOLS)),
        key=lambda i: (bool(vetoes[i]), -rounded[i], _TIE_RANK[i]),
    )


#: Each protocol index's place in :data:`TIE_ORDER`.
_TIE_RANK = {index: n for n, index in enumerate(TIE_ORDER)}


def _first(
    pair: tuple[tuple[int, bool, bool, float, str], RuleHit],
) -> tuple[int, bool, bool, float, str]:
    return pair[0]


def _margin(
    scores: Sequence[float], vetoes: Sequence[int], best: int | None
) -> tuple[float | None, Literal["high", "medium", "low", "none"]]:
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
