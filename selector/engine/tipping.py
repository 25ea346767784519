"""Tipping points: the nearest changes to a profile that would change the winner.

Computed by re-scoring, never written by hand. Because every condition compares one fact with
a constant (:mod:`selector.rules.conditions`), a number fact can only change the scores at
the constants the matrix compares it with. So for each number fact the search walks the
regions those constants cut the number line into (each constant itself, and the open
intervals between them), outwards from the profile's value, and re-scores once per region
until the winner changes: the result is exact, not sampled. Enum and boolean facts try each
other value; ``clients`` tries adding or removing each kind; the path tries dropping each kind
of hop. Facts whose rules cannot move the scores enough to change the winner (and cannot veto
it or lift a rival's veto) are skipped; a property test checks that this never hides one.

Re-scoring is incremental: only the rules that read the changed fact are evaluated again, and
their old contributions are swapped for the new ones.

Candidate changes respect the profile's own rules (bounds, ``needs_ack`` and ``per_request``
need upstream messages, ``per_request`` server messages too, ``fan_out`` at most
``concurrent_connections``, some traffic or media must remain), so every tipping point names
a profile that would validate. One change implies a second: setting ``hosting`` away from
``managed_socket_service`` drops ``managed_protocols``, which describes the managed service
and means nothing without one (the rules read it only beside that hosting).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeAlias

from selector.engine.recommendation import TippingPoint, trusted
from selector.engine.score import EPSILON, Outcome, score, winner
from selector.protocols import PROTOCOLS
from selector.rules.facts import FACTS, derive_buffering, derive_uncontrollable, format_fact
from selector.rules.measures import DEPENDENT_MEASURES, MEASURES
from selector.rules.model import TIE_ORDER, Matrix, Split
from selector.rules.values import Facts, FactValue, members, number

if TYPE_CHECKING:
    from selector.profile import Profile

__all__ = ["CHANNEL_READ_NOTE", "PATH_FIELD", "READ_IN_BAND_RULE", "find_tipping_points"]

_ZERO = (0.0, 0.0, 0.0)

if TIE_ORDER != (1, 0, 2):  # _Rescorer.winner_with_one unrolls winner() in this order
    raise AssertionError(f"TIE_ORDER changed to {TIE_ORDER}: update winner_with_one")

#: For each fact, the measures computed from it, each with its function.
_DEPENDENT_VALUES = {
    name: tuple((measure, MEASURES[measure].value) for measure in measures)
    for name, measures in DEPENDENT_MEASURES.items()
}

_UP_RATE = "traffic.client_to_server.rate_hz"
_CHANNEL = "traffic.client_to_server.channel"
_CHANNEL_STATED = "traffic.client_to_server.channel_stated"
#: The rule that reads a channel the profile does not state as in-band (its messages small,
#: beside a stream); where it does not fire, an unstated channel reads as the default.
READ_IN_BAND_RULE = "small-messages-read-in-band"
#: How a tipping point on a channel the profile does not state ends: it already says that the
#: field is open, so a close call adds nothing to it.
CHANNEL_READ_NOTE = "the profile does not state it"
_DOWN_RATE = "traffic.server_to_client.rate_hz"
_PAYLOAD_RATE = {
    "traffic.client_to_server.payload_bytes": _UP_RATE,
    "traffic.server_to_client.payload_bytes": _DOWN_RATE,
}


class _Rescorer:
    """Winner after changing some facts, re-evaluating only the rules that read them.

    Works on its own copy of the facts, changed in place and restored after each trial (a
    copy per trial would cost more than the re-scoring). Nothing is memoised: the search
    asks about each change once (a memo found no repeat over the corpus and cost 5%).
    """

    def __init__(self, matrix: Matrix, facts: Facts, outcome: Outcome) -> None:
        self.matrix = matrix
        self.facts = facts
        self.trial = dict(facts)
        self.outcome = outcome
        self._live: dict[str, list[Split]] | None = None
        self.reaches = _reaches(matrix)

    def live(self, name: str) -> Sequence[Split]:
        """The rules a change of fact ``name`` alone can move on this profile: those whose
        conjuncts that do not read it hold (the others cannot fire whatever its value), each
        with the predicate of the conjuncts that do, its deltas, vetoes and grader.

        Filtering once per profile, then testing only the conjuncts that read the fact (with
        the live-constant walk of :func:`_live_constants`): over 5 passes of profiles/ and
        tests/corpus the search went from 37,970 re-scorings and 2.17 M function calls to
        18,575 and 0.98 M (cProfile), and ``recommend()`` to 0.82x main's CPU time in the
        same run (bench/engine.py --against)."""
        found = self._live
        if found is None:
            found = self._live = self._live_rules()
        return found.get(name, ())

    def _live_rules(self) -> dict[str, list[Split]]:
        """For every fact, its live rules (see :meth:`live`), found in one pass over the
        rules. A rule that fired is live for every fact it reads; one that did not is live
        for the facts read by every one of its conjuncts that is false (none if two false
        conjuncts read different facts), so each conjunct is tested once per profile. One
        pass for every fact, rather than filtering each fact's rules when it is first asked
        about: 2,630,314 -> 2,494,347 instructions per ``recommend()`` over profiles/ and
        tests/corpus (bench/engine_instructions.sh)."""
        fired, opened = self.outcome.fired, self.outcome.opened
        if opened is None:
            opened = score(self.matrix, self.facts, opened=True).opened or []
        live: dict[str, list[Split]] = {}
        splits = _rule_splits(self.matrix)
        # A rule that did not fire looks up the few facts it is open to in its own splits,
        # rather than testing each of its splits against them: 1,742,761 -> 1,736,471
        # instructions per recommend() (bench/engine_instructions.sh).
        named = _rule_splits_by_name(self.matrix)
        for index, common in enumerate(opened):
            if common:
                own = named[index]
                for name in common:
                    split = own.get(name)
                    if split is None:
                        continue
                    found = live.get(name)
                    if found is None:
                        live[name] = [split]
                    else:
                        found.append(split)
            elif fired[index]:
                for name, split in splits[index]:
                    found = live.get(name)
                    if found is None:
                        live[name] = [split]
                    else:
                        found.append(split)
        return live

    def winner_with(self, *changes: tuple[str, FactValue]) -> int | None:
        """Index of the winner once each ``(fact, value)`` in ``changes`` is applied (one
        change: :meth:`winner_with_one`)."""
        if len(changes) == 1:
            return self.winner_with_one(*changes[0])
        matrix, fired, trial = self.matrix, self.outcome.fired, self.trial
        by_fact = matrix.rules_by_fact
        if len(changes) == 1:
            name, value = changes[0]
            indexes: tuple[int, ...] = by_fact.get(name, ())
            trial[name] = value
        else:
            indexes = tuple(sorted({i for name, _ in changes for i in by_fact.get(name, ())}))
            for name, value in changes:
                trial[name] = value
        # Measures computed from a changed fact follow it (``rules_by_fact`` already lists
        # the rules that read them under the fact).
        moved = [m for name, _ in changes for m in DEPENDENT_MEASURES.get(name, ())]
        for measure in moved:
            trial[measure] = MEASURES[measure].value(trial)
        s0, s1, s2 = self.outcome.scores
        v0, v1, v2 = self.outcome.vetoes
        tests, deltas, vetoed = matrix.tests, matrix.deltas, matrix.vetoes
        graders, graded = matrix.graders, self.outcome.graded
        for index in indexes:
            now = tests[index](trial)
            grader = graders.get(index)
            if grader is not None:
                # A graded rule can change its delta without changing whether it fires.
                old = graded.get(index, _ZERO)
                new = grader(trial) if now else _ZERO
                s0, s1, s2 = s0 - old[0] + new[0], s1 - old[1] + new[1], s2 - old[2] + new[2]
                if now == fired[index]:
                    continue
                v = vetoed[index]
                sign = 1 if now else -1
                v0, v1, v2 = v0 + sign * v[0], v1 + sign * v[1], v2 + sign * v[2]
                continue
            if now == fired[index]:
                continue
            d, v = deltas[index], vetoed[index]
            if now:
                s0, s1, s2 = s0 + d[0], s1 + d[1], s2 + d[2]
                v0, v1, v2 = v0 + v[0], v1 + v[1], v2 + v[2]
            else:
                s0, s1, s2 = s0 - d[0], s1 - d[1], s2 - d[2]
                v0, v1, v2 = v0 - v[0], v1 - v[1], v2 - v[2]
        for name, _ in changes:
            trial[name] = self.facts[name]
        for measure in moved:
            trial[measure] = self.facts[measure]
        return winner((s0, s1, s2), (v0, v1, v2))

    def winner_with_one(self, name: str, value: FactValue) -> int | None:
        """:meth:`winner_with` for the one change ``name = value``: only the live rules of
        ``name``, and only the conjuncts of theirs that read it.

        The search asks this ~16 times per profile, so the lookups are inlined (the live
        rules, each moved measure's function) and :func:`winner` is unrolled over the scores
        (guarded at import: :data:`TIE_ORDER` is sse, websocket, webrtc); with the callers
        asking here directly rather than through ``winner_with(*changes)``: 2,051,670 ->
        1,968,311 instructions per ``recommend()`` (bench/engine_instructions.sh)."""
        fired, trial, graded = self.outcome.fired, self.trial, self.outcome.graded
        live = self._live
        if live is None:
            live = self._live = self._live_rules()
        trial[name] = value
        moved = _DEPENDENT_VALUES.get(name, ())
        for measure, compute in moved:
            trial[measure] = compute(trial)
        s0, s1, s2 = self.outcome.scores
        v0, v1, v2 = self.outcome.vetoes
        for index, own, _, d, v, grader in live.get(name, ()):
            now = own(trial)
            if grader is not None:
                # A graded rule can change its delta without changing whether it fires.
                old = graded.get(index, _ZERO)
                new = grader(trial) if now else _ZERO
                s0, s1, s2 = s0 - old[0] + new[0], s1 - old[1] + new[1], s2 - old[2] + new[2]
                if now == fired[index]:
                    continue
                sign = 1 if now else -1
                v0, v1, v2 = v0 + sign * v[0], v1 + sign * v[1], v2 + sign * v[2]
            elif now != fired[index]:
                if now:
                    s0, s1, s2 = s0 + d[0], s1 + d[1], s2 + d[2]
                    v0, v1, v2 = v0 + v[0], v1 + v[1], v2 + v[2]
                else:
                    s0, s1, s2 = s0 - d[0], s1 - d[1], s2 - d[2]
                    v0, v1, v2 = v0 - v[0], v1 - v[1], v2 - v[2]
        facts = self.facts
        trial[name] = facts[name]
        for measure, _ in moved:
            trial[measure] = facts[measure]
        # winner((s0, s1, s2), (v0, v1, v2)), in TIE_ORDER: sse (1), websocket (0), webrtc (2).
        best, top = (None, 0.0) if v1 else (1, s1)
        if not v0 and (best is None or s0 > top + EPSILON):
            best, top = 0, s0
        if not v2 and (best is None or s2 > top + EPSILON):
            best = 2
        return best

    def can_flip(self, base: int | None, names: tuple[str, ...]) -> bool:
        """False when no value of the facts ``names`` could change the winner. A safe bound:
        no rule reading them can veto the winner or lift a rival's veto, and the winner's lead
        over every viable rival exceeds what those rules can move.

        First the matrix-wide bound (cached per matrix), then for one fact the tighter bound
        over the rules live on this profile, signed: a rule that fired can only take back what
        it gave or move to another of its declared deltas, one that did not can only add one
        of them. So the winner can fall by at most the sum of the live rules' largest cuts to
        it and a rival rise by the sum of their largest gains to it, rather than both by every
        rule's largest size. Over profiles/ and tests/corpus this leaves 1,033 facts to search
        instead of 1,511. One method with plain loops: it runs for every fact of every
        profile, and a call or an ``any()`` costs more than the comparisons it makes."""
        outcome = self.outcome
        vetoes, scores = outcome.vetoes, outcome.scores
        # The matrix-wide bound: whether rules moving each score by ``swing`` and able to veto
        # the protocols of ``vetoing`` might change the winner. Inlined (it was a function),
        # its figures from a dict built per matrix, and the live lookup inlined too:
        # 1,968,311 -> 1,877,233 instructions per recommend() (bench/engine_instructions.sh).
        reach = self.reaches.get(names)
        if reach is None:
            reach = _reach(self.matrix, names)
        swing, vetoing = reach
        if not (
            (vetoing[0] and vetoes[0]) or (vetoing[1] and vetoes[1]) or (vetoing[2] and vetoes[2])
        ):
            if base is None:
                return False  # every protocol stays vetoed
            if not vetoing[base]:
                lead = scores[base] - swing[base] - 1e-9
                first, second = _OTHERS[base]
                if (vetoes[first] or lead > scores[first] + swing[first]) and (
                    vetoes[second] or lead > scores[second] + swing[second]
                ):
                    return False  # the matrix-wide bound is enough
        if len(names) > 1:
            return True
        live = self._live
        if live is None:
            live = self._live = self._live_rules()
        fired, graded, spans = outcome.fired, outcome.graded, self.matrix.spans
        lo0 = lo1 = lo2 = hi0 = hi1 = hi2 = 0.0
        veto0 = veto1 = veto2 = 0
        for index, _, _, d, v, _ in live.get(names[0], ()):
            (a0, b0), (a1, b1), (a2, b2) = spans[index]
            if fired[index]:
                c0, c1, c2 = graded.get(index, d)
                a0, b0, a1, b1, a2, b2 = a0 - c0, b0 - c0, a1 - c1, b1 - c1, a2 - c2, b2 - c2
            lo0, lo1, lo2 = lo0 + a0, lo1 + a1, lo2 + a2
            hi0, hi1, hi2 = hi0 + b0, hi1 + b1, hi2 + b2
            veto0, veto1, veto2 = veto0 | v[0], veto1 | v[1], veto2 | v[2]
        if (veto0 and vetoes[0]) or (veto1 and vetoes[1]) or (veto2 and vetoes[2]):
            return True  # a veto might be lifted
        if base is None:
            return False  # every protocol stays vetoed
        if (veto0, veto1, veto2)[base]:
            return True  # the winner might be vetoed
        lead = scores[base] + (lo0, lo1, lo2)[base] - 1e-9
        rise = (hi0, hi1, hi2)
        for other in _OTHERS[base]:
            if not vetoes[other] and lead <= scores[other] + rise[other]:
                return True
        return False


#: The two rivals of each protocol index.
_OTHERS = ((1, 2), (0, 2), (0, 1))


@functools.lru_cache(maxsize=16)
def _rule_splits(matrix: Matrix) -> tuple[tuple[tuple[str, Split], ...], ...]:
    """For each rule, for each fact the search changes alone that it reads, the rule cut
    along that fact (:meth:`Matrix.splits`). Depends only on the matrix."""
    pairs: list[list[tuple[str, Split]]] = [[] for _ in matrix.rules]
    searched = [name for name, _ in _number_plan(matrix)]
    searched += [name for name, _, _, moved in _choice_plan(matrix) if len(moved) == 1]
    for name in searched:
        for split in matrix.splits(name):
            pairs[split[0]].append((name, split))
    return tuple(tuple(found) for found in pairs)


@functools.lru_cache(maxsize=16)
def _reaches(
    matrix: Matrix,
) -> dict[tuple[str, ...], tuple[tuple[float, float, float], tuple[bool, bool, bool]]]:
    """:func:`_reach` for every fact or group of facts the search asks :meth:`can_flip`
    about, worked out once per matrix."""
    asked: list[tuple[str, ...]] = [(name,) for name, _ in _number_plan(matrix)]
    asked += [moved for _, _, _, moved in _choice_plan(matrix)]
    asked.append(_HOP_FACTS)
    return {names: _reach(matrix, names) for names in asked}


@functools.lru_cache(maxsize=16)
def _rule_splits_by_name(matrix: Matrix) -> tuple[dict[str, Split], ...]:
    """:func:`_rule_splits` with each rule's splits keyed by the fact they cut along."""
    return tuple(dict(pairs) for pairs in _rule_splits(matrix))


@functools.lru_cache(maxsize=256)
def _reach(
    matrix: Matrix, names: tuple[str, ...]
) -> tuple[tuple[float, float, float], tuple[bool, bool, bool]]:
    """The most each protocol's score can move when the facts ``names`` change, and which
    protocols a rule reading them can veto. Lets the search skip facts that cannot matter;
    depends only on the matrix, so it is worked out once per fact (or pair) per matrix."""
    swing = [0.0, 0.0, 0.0]
    vetoing = [False, False, False]
    for name in names:
        moves = [0.0, 0.0, 0.0]  # per fact first: the sums the bound has always added up
        for index in matrix.rules_by_fact.get(name, ()):
            for slot in range(3):
                moves[slot] += matrix.swings[index][slot]
                vetoing[slot] = vetoing[slot] or bool(matrix.vetoes[index][slot])
        for slot in range(3):
            swing[slot] += moves[slot]
    return (swing[0], swing[1], swing[2]), (vetoing[0], vetoing[1], vetoing[2])


# --- number facts -----------------------------------------------------------------------------


def _bounds(name: str, facts: Facts) -> tuple[float, bool, float]:
    """``(minimum, minimum excluded, maximum)`` a valid profile allows for fact ``name``."""
    fact = FACTS[name]
    low, exclusive, high = fact.minimum, fact.exclusive_minimum, fact.maximum
    if name == _UP_RATE and (
        facts["traffic.client_to_server.needs_ack"] or facts["traffic.server_to_client.per_request"]
    ):
        exclusive = True  # acknowledged messages, and the requests streams answer, need a rate
    if name == _DOWN_RATE and facts["traffic.server_to_client.per_request"]:
        exclusive = True  # streams that answer requests carry messages
    if name in (_UP_RATE, _DOWN_RATE) and facts["media"] == "none":
        other = _DOWN_RATE if name == _UP_RATE else _UP_RATE
        if facts[other] == 0:
            exclusive = True  # the profile must keep some traffic
    if name == "scale.fan_out":
        high = number(facts, "scale.concurrent_connections")
    if name == "scale.concurrent_connections":
        low = max(low, number(facts, "scale.fan_out"))
        exclusive = False
    return low, exclusive, high


class _Region:
    """An interval of a number fact, each end open or closed; ``{t}`` is ``[t, t]``."""

    __slots__ = ("high", "high_closed", "low", "low_closed")

    def __init__(self, low: float, high: float, low_closed: bool, high_closed: bool) -> None:
        self.low, self.high = low, high
        self.low_closed, self.high_closed = low_closed, high_closed

    @property
    def point(self) -> bool:
        return self.low == self.high

    def contains(self, value: float) -> bool:
        above = self.low < value or (self.low_closed and value == self.low)
        below = value < self.high or (self.high_closed and value == self.high)
        return above and below

    def value(self, integer: bool, bounds: tuple[float, bool, float], upward: bool) -> float | None:
        """The valid value in this region nearest to where the walk comes from, if any."""
        minimum, exclusive, maximum = bounds
        low, low_closed = self.low, self.low_closed
        if minimum > low:
            low, low_closed = minimum, not exclusive
        elif minimum == low:
            low_closed = low_closed and not exclusive
        high, high_closed = self.high, self.high_closed
        if maximum < high:
            high, high_closed = maximum, True
        if low > high or (low == high and not (low_closed and high_closed)):
            return None
        if integer:
            first = math.ceil(low) if low_closed else math.floor(low) + 1
            if math.isinf(high):
                return float(first) if upward else None
            last = math.floor(high) if high_closed else math.ceil(high) - 1
            return None if first > last else float(first if upward else last)
        if upward and low_closed:
            return low
        if not upward and high_closed:
            return high
        if math.isinf(high):
            return low + max(1.0, abs(low))
        # Inside an interval every value scores the same: any interior one will do.
        return low + (high - low) / 2


_BELONGS_LEFT = frozenset({"gt", "le"})  # x == t scores like x just below t
_BELONGS_RIGHT = frozenset({"ge", "lt"})  # x == t scores like x just above t


@functools.lru_cache(maxsize=256)
def _regions(thresholds: tuple[tuple[float, frozenset[str]], ...]) -> tuple[_Region, ...]:
    """The intervals the matrix's constants cut a number fact into, in order. A constant
    compared only with ``gt``/``le`` closes the interval below it, one compared only with
    ``ge``/``lt`` opens the interval above it; others (``eq``, ``in`` ...) stand alone."""
    regions: list[_Region] = []
    low, low_closed = -math.inf, False
    for t, operators in thresholds:
        if operators <= _BELONGS_LEFT:
            regions.append(_Region(low, t, low_closed, True))
            low, low_closed = t, False
        elif operators <= _BELONGS_RIGHT:
            regions.append(_Region(low, t, low_closed, False))
            low, low_closed = t, True
        else:
            regions.append(_Region(low, t, low_closed, False))
            regions.append(_Region(t, t, True, True))
            low, low_closed = t, False
    regions.append(_Region(low, math.inf, low_closed, False))
    return tuple(regions)


def _locate(regions: tuple[_Region, ...], value: float) -> int:
    if math.isinf(value):  # the profile model admits .inf; it sits in the outermost interval
        return 0 if value < 0 else len(regions) - 1
    for index, r in enumerate(regions):
        # r.contains(value), inlined
        if (r.low < value or (r.low_closed and value == r.low)) and (
            value < r.high or (r.high_closed and value == r.high)
        ):
            return index
    raise AssertionError("regions cover the number line")


def _next_value(
    regions: tuple[_Region, ...],
    index: int,
    step: int,
    integer: bool,
    bounds: tuple[float, bool, float],
) -> float | None:
    """The first valid value in the regions past ``index`` in direction ``step``."""
    index += step
    while 0 <= index < len(regions):
        value = regions[index].value(integer, bounds, step > 0)
        if value is not None:
            return value
        index += step
    return None


def _walk(
    rescore: _Rescorer,
    name: str,
    regions: tuple[_Region, ...],
    start: int,
    step: int,
    base: int | None,
    bounds: tuple[float, bool, float],
) -> tuple[str, float, int | None] | None:
    """First region from ``start`` in direction ``step`` whose winner differs from ``base``;
    ``bounds`` are the fact's (:func:`_bounds`)."""
    fact = FACTS[name]
    upward = step > 0
    index = start + step
    while 0 <= index < len(regions):
        region = regions[index]
        value = region.value(fact.integer, bounds, upward)
        if value is not None:
            new = rescore.winner_with_one(name, value)
            if new != base:
                if not region.point:
                    # Entering an interval: the change happens at its near edge if the
                    # interval includes it, just past it otherwise.
                    if upward:
                        change = "at_or_above" if region.low_closed else "above"
                        return change, region.low, new
                    change = "at_or_below" if region.high_closed else "below"
                    return change, region.high, new
                beyond_value = _next_value(regions, index, step, fact.integer, bounds)
                # No valid value beyond (a bound such as rate 0): "falls to 0" holds as is.
                stays = beyond_value is None or rescore.winner_with_one(name, beyond_value) == new
                if stays:
                    return ("at_or_above" if upward else "at_or_below"), value, new
                return "at", value, new
        index += step
    return None


#: A lever's solver (:attr:`selector.rules.measures.Lever.solve`).
_Solve: TypeAlias = Callable[[Facts, float], float | None]

_FLIPPED = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}


@functools.lru_cache(maxsize=16)
def _number_plan(matrix: Matrix) -> tuple[tuple[str, tuple[tuple[str, bool, _Solve], ...]], ...]:
    """The number facts whose value can change a score: each with the levers (measure,
    increasing, solve) through which a constant on a measure cuts it. Depends only on the
    matrix, so it is worked out once per matrix."""
    levers: dict[str, list[tuple[str, bool, _Solve]]] = {}
    for name in matrix.thresholds:
        if name in MEASURES:
            for lever in MEASURES[name].levers:
                levers.setdefault(lever.fact, []).append((name, lever.increasing, lever.solve))
    names = [n for n in FACTS if n in matrix.thresholds or n in levers]
    return tuple((name, tuple(levers.get(name, ()))) for name in names)


#: Solved constants beyond this are dropped: no profile holds a trillion of anything, and past
#: 2**53 a float no longer tells consecutive integers apart.
_LARGEST_SOLVED = 1e12


def _live_constants(rescore: _Rescorer, name: str) -> tuple[tuple[float, frozenset[str]], ...]:
    """Fact ``name``'s own constants that a rule live on this profile compares it with: a
    constant only the other rules use cuts a region in which nothing can change, so walking
    it would re-score for nothing. Dropping those constants took the single-fact re-scorings
    over 5 passes of profiles/ and tests/corpus from 25,850 to 17,925 (same tipping points)."""
    live = {split[0] for split in rescore.live(name)}
    return tuple(
        (value, ops)
        for value, ops, users in _constants(rescore.matrix).get(name, ())
        if not live.isdisjoint(users)
    )


@functools.lru_cache(maxsize=16)
def _constants(
    matrix: Matrix,
) -> dict[str, tuple[tuple[float, frozenset[str], tuple[int, ...]], ...]]:
    """Each number fact's constants with their operators and the rules comparing the fact
    with each (:attr:`Matrix.rules_at`), joined once per matrix."""
    return {
        name: tuple(
            (value, ops, matrix.rules_at.get(name, {}).get(value, ())) for value, ops in every
        )
        for name, every in matrix.thresholds.items()
    }


def _thresholds_of(
    rescore: _Rescorer, name: str, levers: tuple[tuple[str, bool, _Solve], ...]
) -> tuple[tuple[float, frozenset[str]], ...]:
    """Fact ``name``'s constants: the matrix's own, plus each measure constant solved for
    ``name`` with the profile's other facts held (a decreasing lever flips the operator)."""
    matrix, facts = rescore.matrix, rescore.facts
    own = _live_constants(rescore, name)
    if not levers:
        return own
    merged: dict[float, set[str]] = {value: set(ops) for value, ops in own}
    integer = FACTS[name].integer
    for measure, increasing, solve in levers:
        for constant, operators in matrix.thresholds[measure]:
            solved = solve(facts, constant)
            if solved is None or not math.isfinite(solved) or abs(solved) > _LARGEST_SOLVED:
                continue  # the measure cannot reach the constant by moving this fact
            cut = _Cut(rescore.trial, name, measure, increasing, constant)
            for op in operators:
                value = cut.integer(solved, op) if integer else cut.real(solved, op)
                flipped = op if increasing else _FLIPPED[op]
                merged.setdefault(value, set()).add(flipped)
    rescore.trial[name] = facts[name]  # the cuts tried values on the shared trial facts
    return tuple((v, frozenset(ops)) for v, ops in sorted(merged.items()))


class _Cut:
    """Where a measure constant cuts one lever fact, exactly as the conditions will judge it.

    The solved value ``t / c`` can miss by an ulp once multiplied back, and an integer fact
    needs the integer where the condition's truth changes, so both are checked against the
    measure itself rather than trusted.
    """

    __slots__ = ("compute", "constant", "increasing", "name", "trial")

    def __init__(
        self,
        trial: dict[str, FactValue],
        name: str,
        measure: str,
        increasing: bool,
        constant: float,
    ) -> None:
        # The rescorer's trial facts, not a copy: the caller restores ``name`` (a copy of the
        # facts per measure constant cost more than the cut).
        self.trial = trial
        self.name, self.increasing, self.constant = name, increasing, constant
        self.compute = MEASURES[measure].value

    def _far(self, value: float, op: str) -> bool:
        """Whether the measure at ``value`` is on the constant's far side: at or past it for
        ``ge``/``lt`` (the constant belongs to the upper side), past it for ``gt``/``le``."""
        self.trial[self.name] = value
        got = self.compute(self.trial)
        return bool(got >= self.constant if op in _BELONGS_RIGHT else got > self.constant)

    def real(self, value: float, op: str) -> float:
        """The solved value nudged by a few ulps so that it sits where the truth changes: the
        first far value for ``ge``/``lt``, the last near one for ``gt``/``le``."""
        up = math.inf if self.increasing else -math.inf
        down = -up
        right = op in _BELONGS_RIGHT
        for _ in range(8):
            if right and not self._far(value, op):
                value = math.nextafter(value, up)
            elif not right and self._far(value, op):
                value = math.nextafter(value, down)
            else:
                break
        return value

    def integer(self, value: float, op: str) -> float:
        """For an integer fact: the integer constant on the fact that splits its integers as
        the measure constant does."""
        step = 1 if self.increasing else -1
        first = math.ceil(value) if self.increasing else math.floor(value)
        # The first integer on the far side, walking the way the measure grows.
        for _ in range(4):
            if self._far(first - step, op):
                first -= step
            else:
                break
        for _ in range(4):
            if self._far(first, op):
                break
            first += step
        if op in _BELONGS_RIGHT:
            return float(first)  # the constant itself scores like the far side
        return float(first - step)  # the constant itself scores like the near side


def _number_changes(
    rescore: _Rescorer, base: int | None
) -> Iterator[tuple[str, str, FactValue, int | None]]:
    facts = rescore.facts
    for name, levers in _number_plan(rescore.matrix):
        rate = _PAYLOAD_RATE.get(name)
        if rate is not None and facts[rate] == 0:
            continue  # no messages in that direction: their size means nothing
        if not rescore.can_flip(base, (name,)):
            continue
        regions = _regions(_thresholds_of(rescore, name, levers))
        start = _locate(regions, float(number(facts, name)))
        # The bounds once for both directions, and _locate's test inlined: 1,713,663 -> 1,705,989
        # instructions per recommend() (bench/engine_instructions.sh).
        bounds = _bounds(name, facts)
        for step in (1, -1):
            found = _walk(rescore, name, regions, start, step, base, bounds)
            if found is not None:
                change, value, new = found
                yield name, change, value, new


# --- enum, boolean and set facts --------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _choice_plan(
    matrix: Matrix,
) -> tuple[tuple[str, str, tuple[FactValue, ...], tuple[str, ...]], ...]:
    """The enum, bool and set facts the matrix reads: (name, kind, choices, facts it moves)."""
    plan = []
    for name, fact in FACTS.items():
        if fact.derived or fact.kind == "number":
            continue
        moved: tuple[str, ...] = (name,)
        if name == "infrastructure.timeout_control":
            moved = (name, "infrastructure.uncontrollable_hop_kinds")
        elif name == _CHANNEL:
            moved = (name, _CHANNEL_STATED)
        if not any(n in matrix.rules_by_fact for n in moved):
            continue
        choices = (True, False) if fact.kind == "bool" else fact.choices
        plan.append((name, fact.kind, choices, moved))
    return tuple(plan)


def _choice_changes(
    rescore: _Rescorer, base: int | None, profile: Profile
) -> Iterator[tuple[str, str, FactValue, int | None]]:
    facts = rescore.facts
    for name, kind, choices, moved in _choice_plan(rescore.matrix):
        if not rescore.can_flip(base, moved):
            continue
        if kind == "set":
            yield from _set_changes(rescore, base, name)
            continue
        current = facts[name]
        # A channel the profile does not state is read from its messages: stating either
        # value, the default included, is a change (it stops the reading).
        unplaced = name == _CHANNEL and not facts[_CHANNEL_STATED]
        for option in choices:
            if (option == current and not unplaced) or not _valid_choice(name, option, facts):
                continue
            if unplaced:
                new = rescore.winner_with((name, option), (_CHANNEL_STATED, True))
            elif len(moved) > 1:
                # Only timeout_control moves a second fact, and an enum's options are strings.
                if not isinstance(option, str):
                    raise TypeError(f"{name} offers {option!r}, not an enum value")
                uncontrollable = derive_uncontrollable(profile.infrastructure, option)
                new = rescore.winner_with((name, option), (moved[1], uncontrollable))
            else:
                new = rescore.winner_with_one(name, option)
            if new != base:
                yield name, "set", option, new


def _set_changes(
    rescore: _Rescorer, base: int | None, name: str
) -> Iterator[tuple[str, str, FactValue, int | None]]:
    current = members(rescore.facts, name)
    for member in FACTS[name].choices:
        if member in current:
            if len(current) == 1:
                continue  # a profile needs at least one kind of client
            change, trial = "remove", current - {member}
        else:
            change, trial = "add", current | {member}
        new = rescore.winner_with_one(name, trial)
        if new != base:
            yield name, change, member, new


_HOP_FACTS = (
    "infrastructure.hop_kinds",
    "infrastructure.uncontrollable_hop_kinds",
    "infrastructure.buffering_hop_kinds",
)
#: Tipping points that take a hop kind off the path are reported against this field.
PATH_FIELD = "infrastructure.path"


def _hop_removals(
    rescore: _Rescorer, base: int | None, profile: Profile
) -> Iterator[tuple[str, str, FactValue, int | None]]:
    """Taking every hop of one kind off the path (a managed edge you could bypass)."""
    kinds = members(rescore.facts, _HOP_FACTS[0])
    if not kinds or not rescore.can_flip(base, _HOP_FACTS):
        return
    infra = profile.infrastructure
    for kind in sorted(kinds):
        uncontrollable = derive_uncontrollable(infra, infra.timeout_control, without=kind)
        new = rescore.winner_with(
            (_HOP_FACTS[0], kinds - {kind}),
            (_HOP_FACTS[1], uncontrollable),
            (_HOP_FACTS[2], derive_buffering(infra, without=kind)),
        )
        if new != base:
            yield PATH_FIELD, "remove", kind, new


def _valid_choice(name: str, option: FactValue, facts: Facts) -> bool:
    if name == "traffic.client_to_server.needs_ack" and option:
        return bool(number(facts, _UP_RATE) > 0)
    if name == "traffic.client_to_server.channel" and option == "in_band":
        return bool(number(facts, _UP_RATE) > 0)
    if name == "traffic.server_to_client.client_acks" and option:
        return bool(number(facts, _DOWN_RATE) > 0)
    if name == "traffic.server_to_client.per_request" and option:
        # Streams that answer requests need the requests (Traffic checks it).
        return bool(number(facts, _DOWN_RATE) > 0 and number(facts, _UP_RATE) > 0)
    if name == "media" and option == "none":
        return bool(number(facts, _UP_RATE) > 0 or number(facts, _DOWN_RATE) > 0)
    return True


# --- assembling -------------------------------------------------------------------------------

#: Tipping points are listed in the order of :data:`FACTS` (the path's last).
_FACT_ORDER = {name: n for n, name in enumerate(FACTS)}

_PHRASES = {
    "above": "rises above",
    "at_or_above": "reaches",
    "at": "is exactly",
    "below": "drops below",
    "at_or_below": "falls to",
    "set": "is set to",
    "add": "adds",
    "remove": "drops",
}


#: What a tipping point does, by the index of the new winner (``None``: all vetoed).
_OUTCOMES: dict[int | None, str] = {
    **{n: f"switches to {protocol}" for n, protocol in enumerate(PROTOCOLS)},
    None: "every protocol is vetoed",
}


def _channel_reading(matrix: Matrix, outcome: Outcome, facts: Facts) -> str:
    """How the engine reads a channel the profile does not state."""
    rule = matrix.by_id.get(READ_IN_BAND_RULE)
    if rule is not None and outcome.fired[matrix.rules.index(rule)]:
        return "in_band"
    return str(facts[_CHANNEL])


def _describe(
    name: str,
    change: str,
    value: FactValue,
    current: FactValue,
    new: int | None,
    *,
    read: bool = False,
) -> str:
    now = f" (now {format_fact(current)})" if change not in ("add", "remove") else ""
    if read:  # a channel the profile leaves out: the engine's reading of it
        now = f" (now read as {format_fact(current)}: {CHANNEL_READ_NOTE})"
    return f"{_OUTCOMES[new]} when {name} {_PHRASES[change]} {format_fact(value)}{now}"


def find_tipping_points(
    matrix: Matrix,
    facts: Facts,
    outcome: Outcome,
    base: int | None,
    profile: Profile,
) -> list[TippingPoint]:
    """Every nearest winner-changing change of one field, numbers first, in fact order."""
    rescore = _Rescorer(matrix, facts, outcome)
    found = [
        *_number_changes(rescore, base),
        *_choice_changes(rescore, base, profile),
        *_hop_removals(rescore, base, profile),
    ]
    found.sort(
        key=lambda item: (
            _FACT_ORDER.get(item[0], len(_FACT_ORDER)),
            item[1] not in ("above", "at_or_above", "at"),
        )
    )
    points = []
    for name, change, value, new in found:
        current = facts[_HOP_FACTS[0] if name == PATH_FIELD else name]
        if isinstance(current, frozenset):
            current = format_fact(current)
        read = name == _CHANNEL and not facts[_CHANNEL_STATED]
        if read:
            current = _channel_reading(matrix, outcome, facts)
        shown = int(value) if isinstance(value, float) and value.is_integer() else value
        points.append(
            trusted(
                TippingPoint,
                field=name,
                change=change,
                current=current,
                value=shown,
                protocol=PROTOCOLS[new] if new is not None else None,
                description=_describe(name, change, value, current, new, read=read),
            )
        )
    return points
