"""Compiled rules and matrices: what :func:`selector.engine.recommend.recommend` evaluates.

Plain frozen dataclasses, built once per matrix (the default matrix is cached), so scoring
never validates anything: it calls one predicate per rule and adds precomputed deltas.
"""

from __future__ import annotations

import bisect
import string
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from selector.protocols import PROTOCOLS, Protocol
from selector.rules.conditions import (
    AllOf,
    Compare,
    Condition,
    Predicate,
    facts_of,
    lookup,
    numeric_thresholds,
    predicates,
)
from selector.rules.facts import format_fact
from selector.rules.measures import MEASURES, measure_text
from selector.rules.subjects import subject_condition
from selector.rules.values import Facts, number

__all__ = [
    "TIE_ORDER",
    "Advice",
    "Effect",
    "Grade",
    "Matrix",
    "Rule",
    "parse_template",
]

#: Fixed protocol order of every score vector.
#: Equal scores go to the protocol with fewer moving parts: plain HTTP, then one upgraded
#: connection, then ICE + DTLS + SCTP with signalling and TURN.
TIE_ORDER: tuple[int, ...] = tuple(PROTOCOLS.index(p) for p in ("sse", "websocket", "webrtc"))


def _num(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}"


@dataclass(frozen=True, slots=True)
class Grade:
    """A graded effect size: a step function of one measure, declared as bands.

    ``deltas[0]`` applies below ``bounds[0]``, ``deltas[i]`` from ``bounds[i - 1]`` (inclusive)
    up to ``bounds[i]``; the last delta has no upper end. The delta is always one of the
    declared ones, so a graded effect stays within ``[min(deltas), max(deltas)]`` whatever the
    measure (a property test checks it), and its steps sit at the declared bounds, which keeps
    tipping points exact.
    """

    measure: str
    bounds: tuple[float, ...]
    deltas: tuple[float, ...]

    def band(self, value: float) -> int:
        """Index of the band ``value`` falls in."""
        return bisect.bisect_right(self.bounds, value)

    def delta(self, value: float) -> float:
        """The delta the band of ``value`` declares (before the rule's weight)."""
        return self.deltas[bisect.bisect_right(self.bounds, value)]

    def band_label(self, index: int) -> str:
        """``below 1,000``, ``1,000 to 10,000`` or ``from 10,000`` (with the unit)."""
        unit = MEASURES[self.measure].unit
        if index == 0:
            return f"below {_num(self.bounds[0])} {unit}"
        if index == len(self.bounds):
            return f"from {_num(self.bounds[-1])} {unit}"
        return f"{_num(self.bounds[index - 1])} to {_num(self.bounds[index])} {unit}"

    def label(self, weight: float = 1.0) -> str:
        """Every band with its delta: ``-1 below 1,000 requests/s, -2 from 1,000 ...``."""
        return ", ".join(f"{d * weight:+g} {self.band_label(i)}" for i, d in enumerate(self.deltas))


@dataclass(frozen=True, slots=True)
class Effect:
    """What a fired rule does to one protocol: add ``delta`` to its score, or veto it.

    A graded effect (``grade`` set) takes its delta from a measure of the profile instead;
    ``delta`` then holds the declared delta of largest size, for listings and bounds.
    """

    protocol: Protocol
    delta: float = 0.0
    veto: bool = False
    grade: Grade | None = None

    def label(self) -> str:
        """``+2``, ``-1.5``, ``veto`` or ``-1..-3 by measure.NAME``."""
        if self.veto:
            return "veto"
        if self.grade is not None:
            # From the lowest band of the measure to the highest.
            first, last = self.grade.deltas[0], self.grade.deltas[-1]
            return f"{first:+g}..{last:+g} by {self.grade.measure}"
        return f"{self.delta:+g}"


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

    def reason(self, facts: Facts) -> str:
        """The rationale with the profile's own values quoted in place of the placeholders."""
        # A list, not a generator: join() makes one of it anyway, and resuming a generator
        # per piece costs more (with Advice.text and _describe's fixed phrases: 1,755,874 ->
        # 1,742,761 instructions per recommend(), bench/engine_instructions.sh).
        return "".join([literal + _quote(name, facts) for literal, name in self.template])

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
        # A subject's test is often repeated by the rule's own condition (``rate_hz > 0``):
        # each is kept once, in first-seen order (133 -> 109 conjuncts in the default
        # matrix; recommend() 2,323,021 -> 2,271,464 instructions, bench/engine_instructions.sh),
        # and a bound a tighter one implies is dropped (103 conjuncts; 2,244,833).
        unique = _tightest(tuple(dict.fromkeys(parts)))
        return unique[0] if len(unique) == 1 else AllOf(unique)

    def scaled(self, effect: Effect) -> float:
        """The score delta ``effect`` applies once this rule's weight is taken into account
        (for a graded effect, the declared delta of largest size: see :meth:`delta_on`)."""
        return 0.0 if effect.veto else effect.delta * self.weight

    def delta_on(self, effect: Effect, facts: Facts) -> float:
        """The score delta ``effect`` applies on ``facts``, graded effects included."""
        if effect.veto:
            return 0.0
        if effect.grade is not None:
            return effect.grade.delta(number(facts, effect.grade.measure)) * self.weight
        return effect.delta * self.weight

    @property
    def graded(self) -> bool:
        """Whether an effect of this rule takes its size from a measure."""
        return any(e.grade is not None for e in self.effects)

    def reads(self) -> frozenset[str]:
        """Every fact and measure scoring this rule reads: its gated condition's and the
        measures its graded effects take their size from."""
        return facts_of(self.gated) | {e.grade.measure for e in self.effects if e.grade}


_LOWER = {"gt": True, "ge": False}  # a lower bound on a number: strict?
_UPPER = {"lt": True, "le": False}


def _implied(part: Condition, by: Condition) -> bool:
    """Whether ``by`` being true makes ``part`` true, for two bounds on one number."""
    if not (isinstance(part, Compare) and isinstance(by, Compare)) or part.fact != by.fact:
        return False
    a, b = part.value, by.value
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return False
    if part.op in _LOWER and by.op in _LOWER:
        return bool(b > a or (b == a and (_LOWER[by.op] or not _LOWER[part.op])))
    if part.op in _UPPER and by.op in _UPPER:
        return bool(b < a or (b == a and (_UPPER[by.op] or not _UPPER[part.op])))
    return False


def _tightest(parts: tuple[Condition, ...]) -> tuple[Condition, ...]:
    """``parts`` of a conjunction without the bounds another part implies (``rate_hz > 0``
    beside ``rate_hz > 1``): the conjunction is true exactly when it was."""
    # Equal parts are gone already (gated), and two different bounds never imply each other.
    return tuple(
        part
        for part in parts
        if not any(_implied(part, other) for other in parts if other is not part)
    )


def _quote(name: str | None, facts: Facts) -> str:
    if name is None:
        return ""
    if name.startswith("measure."):
        return measure_text(name, facts)
    return format_fact(facts[name])


@dataclass(frozen=True)
class Advice:
    """One compiled row: a companion (``component`` set) or a planner note."""

    id: str
    protocols: frozenset[str]
    test: Predicate
    template: tuple[tuple[str, str | None], ...]
    source: str
    component: str = ""

    def text(self, facts: Facts) -> str:
        """The row's text with the profile's values quoted in place of the placeholders."""
        return "".join(
            [
                literal + (format_fact(facts[name]) if name is not None else "")
                for literal, name in self.template
            ]
        )


class Matrix:
    """An ordered set of rules, precompiled into the tables scoring needs, with the advice
    tables the engine and the planner read beside them.

    ``sha256`` identifies the default matrix plus overlays used; ``sources`` names them.
    ``companions`` and ``notes`` are the compiled rows of the companion and planner-note
    tables (the built-in ones whenever the loading side compiled the matrix; overlays do not
    change them), so that the engine takes everything it reads from this one value.
    """

    __slots__ = (
        "_conjuncts",
        "_opener",
        "_splits",
        "by_id",
        "companions",
        "companions_by_protocol",
        "deltas",
        "gated",
        "graders",
        "notes",
        "notes_by_protocol",
        "rules",
        "rules_at",
        "rules_by_fact",
        "sha256",
        "sources",
        "spans",
        "swings",
        "tests",
        "thresholds",
        "vetoes",
    )

    def __init__(
        self,
        rules: tuple[Rule, ...],
        *,
        sha256: str,
        sources: tuple[str, ...],
        companions: tuple[Advice, ...] = (),
        notes: tuple[Advice, ...] = (),
    ) -> None:
        self.rules = rules
        self.sha256 = sha256
        self.sources = sources
        self.companions = companions
        self.notes = notes
        #: Each protocol's rows of either table, in table order, looked up once per answer.
        self.companions_by_protocol: dict[str, tuple[Advice, ...]] = {
            p: tuple(row for row in companions if p in row.protocols) for p in PROTOCOLS
        }
        self.notes_by_protocol: dict[str, tuple[Advice, ...]] = {
            p: tuple(row for row in notes if p in row.protocols) for p in PROTOCOLS
        }
        self.by_id: dict[str, Rule] = {r.id: r for r in rules}
        gated = tuple(r.gated for r in rules)
        #: Each rule's condition with its subjects, as scoring evaluates it.
        self.gated: tuple[Condition, ...] = gated
        self._splits: dict[str, tuple[Split, ...]] = {}
        self._conjuncts: tuple[tuple[tuple[Predicate, frozenset[str]], ...], ...] | None = None
        self._opener: Opener | None = None
        self.tests: tuple[Predicate, ...] = predicates(gated)
        self.deltas: tuple[tuple[float, float, float], ...] = tuple(_deltas(r) for r in rules)
        self.vetoes: tuple[tuple[int, int, int], ...] = tuple(_vetoes(r) for r in rules)
        #: For each rule with a graded effect, by index: ``facts -> deltas`` (the static
        #: ``deltas`` entry of such a rule is unused).
        self.graders: dict[int, Callable[[Facts], tuple[float, float, float]]] = {
            i: _grader(r) for i, r in enumerate(rules) if r.graded
        }
        #: The most each rule can move each protocol's score (largest band of a graded one).
        self.swings: tuple[tuple[float, float, float], ...] = tuple(_swings(r) for r in rules)
        #: For each rule and protocol, the least and the most the rule can add to that score:
        #: 0 (not firing) and every delta it declares (each band of a graded effect).
        self.spans: tuple[tuple[tuple[float, float], ...], ...] = tuple(_spans(r) for r in rules)
        by_fact: dict[str, list[int]] = {}
        thresholds: dict[str, dict[float, set[str]]] = {}
        rules_at: dict[str, dict[float, list[int]]] = {}
        for index, (rule, condition) in enumerate(zip(rules, gated, strict=True)):
            for name in rule.reads():
                by_fact.setdefault(name, []).append(index)
            for name, values in numeric_thresholds(condition).items():
                for value, operators in values.items():
                    thresholds.setdefault(name, {}).setdefault(value, set()).update(operators)
                    rules_at.setdefault(name, {}).setdefault(value, []).append(index)
            for effect in rule.effects:
                if effect.grade is not None:
                    # A band starts at its bound: ``measure >= bound`` is where it steps.
                    for bound in effect.grade.bounds:
                        thresholds.setdefault(effect.grade.measure, {}).setdefault(
                            bound, set()
                        ).add("ge")
        # A rule reading a measure reads every fact the measure is computed from.
        for name in [n for n in by_fact if n in MEASURES]:
            for source in MEASURES[name].inputs:
                merged = {*by_fact.get(source, ()), *by_fact[name]}
                by_fact[source] = sorted(merged)
        #: For each number fact, the rules comparing it with each constant: the only rules whose
        #: truth can change where its value crosses that constant.
        self.rules_at: dict[str, dict[float, tuple[int, ...]]] = {
            name: {value: tuple(indexes) for value, indexes in values.items()}
            for name, values in rules_at.items()
        }
        #: Indexes of the rules whose condition or graded effect reads each fact or measure
        #: (a fact also lists the rules reading a measure computed from it).
        self.rules_by_fact: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in by_fact.items()}
        #: Each number fact's and measure's constants, sorted, with the operators used with
        #: each: the only places its scores can change, and on which side of the constant.
        self.thresholds: dict[str, tuple[tuple[float, frozenset[str]], ...]] = {
            name: tuple((v, frozenset(ops)) for v, ops in sorted(values.items()))
            for name, values in thresholds.items()
        }

    def splits(self, name: str) -> tuple[Split, ...]:
        """For each rule reading fact ``name``: its index, the conjuncts of its condition that
        read ``name`` (directly or through a measure) and the ones that do not, compiled.

        Tipping-point search changes one fact at a time: a rule whose other conjuncts are
        false on the profile cannot fire whatever the fact's value, so the search drops it
        once per profile and then evaluates only the conjuncts that read the fact. Worked out
        once per fact per matrix.
        """
        if not self._splits:
            self._splits = self._split_all()
        return self._splits.get(name, ())

    def _split_all(self) -> dict[str, tuple[Split, ...]]:
        """:meth:`splits` for every fact, compiled in one batch (:func:`predicates`)."""
        cuts = [
            (name, index, *_split(self.gated[index], name))
            for name, indexes in self.rules_by_fact.items()
            for index in indexes
        ]
        compiled = predicates([c for _, _, own, rest in cuts for c in (own, rest)])
        found: dict[str, list[Split]] = {}
        for n, (name, index, _, _) in enumerate(cuts):
            found.setdefault(name, []).append(
                (
                    index,
                    compiled[2 * n],
                    compiled[2 * n + 1],
                    self.deltas[index],
                    self.vetoes[index],
                    self.graders.get(index),
                )
            )
        return {name: tuple(splits) for name, splits in found.items()}

    def conjuncts(self) -> tuple[tuple[tuple[Predicate, frozenset[str]], ...], ...]:
        """For each rule, the conjuncts of its condition (as :meth:`splits` cuts them), each
        compiled, with the facts it reads (a measure standing for the facts it is computed
        from). Worked out once per matrix."""
        if self._conjuncts is None:
            parts = [_parts(condition) for condition in self.gated]
            compiled = iter(predicates([part for rule in parts for part in rule]))
            self._conjuncts = tuple(
                tuple((next(compiled), _reads(part)) for part in rule) for rule in parts
            )
        return self._conjuncts

    def opener(self) -> Opener:
        """``facts -> (fired, opened)``: for each rule, whether it fires, and the facts read by
        every one of its conjuncts (as :meth:`conjuncts` cuts them) that is false (empty for
        a rule that fired, or when two false conjuncts read different facts). Compiled once
        per matrix (:func:`selector.rules.conditions.lookup`): the facts for each set of false
        conjuncts are worked out here, once, rather than for each profile."""
        if self._opener is None:
            parts = [_parts(condition) for condition in self.gated]
            tables = [_open_table(tuple(_reads(part) for part in rule)) for rule in parts]
            self._opener = lookup(parts, tables)
        return self._opener

    def reordered(self, order: list[int]) -> Matrix:
        """The same rules in another order (scores must not depend on it; tests check)."""
        return Matrix(
            tuple(self.rules[i] for i in order),
            sha256=self.sha256,
            sources=self.sources,
            companions=self.companions,
            notes=self.notes,
        )


def _deltas(rule: Rule) -> tuple[float, float, float]:
    out = [0.0, 0.0, 0.0]
    for effect in rule.effects:
        if effect.grade is None:
            out[PROTOCOLS.index(effect.protocol)] = rule.scaled(effect)
    return out[0], out[1], out[2]


#: One rule's condition cut along one fact: its index, the predicate of the conjuncts that
#: read the fact, that of those that do not, then the rule's deltas, vetoes and grader.
Split = tuple[
    int,
    Predicate,
    Predicate,
    tuple[float, float, float],
    tuple[int, int, int],
    Callable[[Facts], tuple[float, float, float]] | None,
]


Opener = Callable[[Facts], tuple[list[bool], list[frozenset[str]]]]

_NONE: frozenset[str] = frozenset()
#: Rules with more conjuncts than this get their table entries worked out on each look-up
#: (:class:`_OpenEntries`), not all ``2 ** n`` of them in advance.
_LARGEST_TABLE = 10


def _open_table(reads: tuple[frozenset[str], ...]) -> tuple[frozenset[str], ...] | _OpenEntries:
    """For each mask of a rule's true conjuncts (bit ``j`` for conjunct ``j``), the facts read
    by every false one: empty when all hold, or when two false ones read different facts."""
    entries = _OpenEntries(reads)
    if len(reads) > _LARGEST_TABLE:
        return entries
    return tuple(entries[mask] for mask in range(1 << len(reads)))


class _OpenEntries(dict[int, frozenset[str]]):
    """The entries of :func:`_open_table`, each worked out when it is looked up (and not
    kept: a rule with many conjuncts would otherwise grow a table per profile seen)."""

    def __init__(self, reads: tuple[frozenset[str], ...]) -> None:
        super().__init__()
        self.reads = reads

    def __missing__(self, mask: int) -> frozenset[str]:
        common: frozenset[str] | None = None
        for j, read in enumerate(self.reads):
            if not mask >> j & 1:
                common = read if common is None else common & read
        return _NONE if common is None else common


def _reads(condition: Condition) -> frozenset[str]:
    """Facts ``condition`` reads, a measure standing for the facts it is computed from."""
    names = facts_of(condition)
    out = set(names)
    for name in names:
        if name in MEASURES:
            out.update(MEASURES[name].inputs)
    return frozenset(out)


def _parts(condition: Condition) -> tuple[Condition, ...]:
    return condition.parts if isinstance(condition, AllOf) else (condition,)


def _split(condition: Condition, name: str) -> tuple[Condition, Condition]:
    parts = _parts(condition)
    own = tuple(p for p in parts if name in _reads(p))
    rest = tuple(p for p in parts if name not in _reads(p))
    return _conjunction(own), _conjunction(rest)


def _conjunction(parts: tuple[Condition, ...]) -> Condition:
    return parts[0] if len(parts) == 1 else AllOf(parts)


def _swings(rule: Rule) -> tuple[float, float, float]:
    out = [0.0, 0.0, 0.0]
    for effect in rule.effects:
        if effect.grade is not None:
            largest = max(abs(d) for d in effect.grade.deltas) * rule.weight
        else:
            largest = abs(rule.scaled(effect))
        out[PROTOCOLS.index(effect.protocol)] = largest
    return out[0], out[1], out[2]


def _spans(rule: Rule) -> tuple[tuple[float, float], ...]:
    values: list[set[float]] = [{0.0}, {0.0}, {0.0}]
    for effect in rule.effects:
        slot = PROTOCOLS.index(effect.protocol)
        if effect.grade is not None:
            values[slot].update(d * rule.weight for d in effect.grade.deltas)
        else:
            values[slot].add(rule.scaled(effect))
    return tuple((min(v), max(v)) for v in values)


def _grader(rule: Rule) -> Callable[[Facts], tuple[float, float, float]]:
    """``facts -> deltas`` for a rule with a graded effect, its static effects folded in."""
    static = list(_deltas(rule))
    graded = [
        (PROTOCOLS.index(e.protocol), e.grade, rule.weight)
        for e in rule.effects
        if e.grade is not None
    ]

    if len(graded) == 1:
        # One graded effect (every rule of the default matrix): its band looked up inline
        # and the other two deltas fixed, rather than a loop calling Grade.delta on a copy.
        # Tipping-point search grades ~10 times per profile: 1,724,999 -> 1,713,663 instructions
        # per recommend() (bench/engine_instructions.sh).
        ((slot, grade, weight),) = graded
        bounds, steps, measure = grade.bounds, grade.deltas, grade.measure
        s0, s1, s2 = static
        if slot == 0:
            return lambda facts: (
                steps[bisect_right(bounds, number(facts, measure))] * weight,
                s1,
                s2,
            )
        if slot == 1:
            return lambda facts: (
                s0,
                steps[bisect_right(bounds, number(facts, measure))] * weight,
                s2,
            )
        return lambda facts: (s0, s1, steps[bisect_right(bounds, number(facts, measure))] * weight)

    def deltas(facts: Facts) -> tuple[float, float, float]:
        out = static.copy()
        for slot, grade, weight in graded:
            out[slot] = grade.delta(number(facts, grade.measure)) * weight
        return out[0], out[1], out[2]

    return deltas


def _vetoes(rule: Rule) -> tuple[int, int, int]:
    out = [0, 0, 0]
    for effect in rule.effects:
        out[PROTOCOLS.index(effect.protocol)] = 1 if effect.veto else 0
    return out[0], out[1], out[2]
