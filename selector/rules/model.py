"""Compiled rules and matrices: what :func:`selector.engine.recommend.recommend` evaluates.

Plain frozen dataclasses, built once per matrix (the default matrix is cached), so scoring
never validates anything: it calls one predicate per rule and adds precomputed deltas.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from selector.rules.conditions import (
    AllOf,
    Condition,
    Predicate,
    facts_of,
    numeric_thresholds,
    predicate,
)
from selector.rules.facts import format_fact
from selector.rules.measures import measure_text
from selector.rules.subjects import subject_condition

__all__ = [
    "PROTOCOLS",
    "TIE_ORDER",
    "Effect",
    "Matrix",
    "ProtocolName",
    "Rule",
    "parse_template",
]

ProtocolName = Literal["websocket", "sse", "webrtc"]
#: Fixed protocol order of every score vector.
PROTOCOLS: tuple[ProtocolName, ...] = ("websocket", "sse", "webrtc")
#: Equal scores go to the protocol with fewer moving parts: plain HTTP, then one upgraded
#: connection, then ICE + DTLS + SCTP with signalling and TURN.
TIE_ORDER: tuple[int, ...] = tuple(PROTOCOLS.index(p) for p in ("sse", "websocket", "webrtc"))


@dataclass(frozen=True, slots=True)
class Effect:
    """What a fired rule does to one protocol: add ``delta`` to its score, or veto it."""

    protocol: ProtocolName
    delta: float = 0.0
    veto: bool = False

    def label(self) -> str:
        """``+2``, ``-1.5`` or ``veto``."""
        return "veto" if self.veto else f"{self.delta:+g}"


def parse_template(template: str) -> tuple[tuple[str, str | None], ...]:
    """Split a rationale into ``(literal, fact name or None)`` pieces.

    Only bare ``{fact.name}`` placeholders are allowed; ``ValueError`` says what is wrong.
    Parsing ourselves (instead of ``str.format``) means a template cannot reach attributes.
    """
    pieces: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if name is not None and (spec or conversion):
            raise ValueError(f"placeholder {{{name}}} takes no format spec or conversion")
        if name == "":
            raise ValueError("empty placeholder {}; name a fact, e.g. {media}")
        pieces.append((literal, name))
    return tuple(pieces)


@dataclass(frozen=True)
class Rule:
    """One compiled rule of the matrix (default or overlay)."""

    id: str
    title: str
    condition: Condition
    effects: tuple[Effect, ...]
    rationale: str
    refs: tuple[str, ...]
    #: ``"default"`` or the overlay file that added the rule.
    origin: str = "default"
    #: Multiplies every score delta (overlays re-weight rules); vetoes are unaffected.
    weight: float = 1.0
    #: Subjects (:data:`selector.rules.subjects.SUBJECTS`) that must be present for the rule
    #: to apply; empty for an overlay rule that declares none (it applies to every profile).
    applies_to: tuple[str, ...] = ()
    #: The ``selector verify`` experiment that measures this rule's claim, if there is one.
    evidence: str | None = None
    template: tuple[tuple[str, str | None], ...] = field(default=(), compare=False, repr=False)

    def reason(self, facts: Mapping[str, Any]) -> str:
        """The rationale with the profile's own values quoted in place of the placeholders."""
        return "".join(literal + _quote(name, facts) for literal, name in self.template)

    @property
    def gated(self) -> Condition:
        """What scoring evaluates: every subject of ``applies_to`` present, and ``when``."""
        if not self.applies_to:
            return self.condition
        # Flattened into one conjunction (``connections`` adds nothing): scoring calls one
        # predicate per rule, and every nesting level costs a call in that inner loop.
        parts: list[Condition] = []
        for part in (subject_condition(self.applies_to), self.condition):
            parts.extend(part.parts if isinstance(part, AllOf) else (part,))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def scaled(self, effect: Effect) -> float:
        """The score delta ``effect`` applies once this rule's weight is taken into account."""
        return 0.0 if effect.veto else effect.delta * self.weight


def _quote(name: str | None, facts: Mapping[str, Any]) -> str:
    if name is None:
        return ""
    if name.startswith("measure."):
        return measure_text(name, facts)
    return format_fact(facts[name])


class Matrix:
    """An ordered set of rules, precompiled into the tables scoring needs.

    ``sha256`` identifies the default matrix plus overlays used; ``sources`` names them.
    """

    __slots__ = (
        "by_id",
        "deltas",
        "rules",
        "rules_by_fact",
        "sha256",
        "sources",
        "tests",
        "thresholds",
        "vetoes",
    )

    def __init__(self, rules: tuple[Rule, ...], *, sha256: str, sources: tuple[str, ...]) -> None:
        self.rules = rules
        self.sha256 = sha256
        self.sources = sources
        self.by_id: dict[str, Rule] = {r.id: r for r in rules}
        gated = tuple(r.gated for r in rules)
        self.tests: tuple[Predicate, ...] = tuple(predicate(c) for c in gated)
        self.deltas: tuple[tuple[float, float, float], ...] = tuple(_deltas(r) for r in rules)
        self.vetoes: tuple[tuple[int, int, int], ...] = tuple(_vetoes(r) for r in rules)
        by_fact: dict[str, list[int]] = {}
        thresholds: dict[str, dict[float, set[str]]] = {}
        for index, condition in enumerate(gated):
            for name in facts_of(condition):
                by_fact.setdefault(name, []).append(index)
            for name, values in numeric_thresholds(condition).items():
                for value, operators in values.items():
                    thresholds.setdefault(name, {}).setdefault(value, set()).update(operators)
        #: Indexes of the rules whose condition reads each fact.
        self.rules_by_fact: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in by_fact.items()}
        #: Each number fact's constants, sorted, with the operators used with each: the only
        #: places its scores can change, and on which side of the constant.
        self.thresholds: dict[str, tuple[tuple[float, frozenset[str]], ...]] = {
            name: tuple((v, frozenset(ops)) for v, ops in sorted(values.items()))
            for name, values in thresholds.items()
        }

    def reordered(self, order: list[int]) -> Matrix:
        """The same rules in another order (scores must not depend on it; tests check)."""
        return Matrix(tuple(self.rules[i] for i in order), sha256=self.sha256, sources=self.sources)


def _deltas(rule: Rule) -> tuple[float, float, float]:
    out = [0.0, 0.0, 0.0]
    for effect in rule.effects:
        out[PROTOCOLS.index(effect.protocol)] = rule.scaled(effect)
    return out[0], out[1], out[2]


def _vetoes(rule: Rule) -> tuple[int, int, int]:
    out = [0, 0, 0]
    for effect in rule.effects:
        out[PROTOCOLS.index(effect.protocol)] = 1 if effect.veto else 0
    return out[0], out[1], out[2]
