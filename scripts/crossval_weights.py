"""Would other rule weights answer unseen systems better? A cross-validated check.

The matrix's effect sizes were set by hand on one scale (docs/scoring.md). This script asks
whether fitting them to the labelled corpus would do better on cases the fit has not seen:

1. Every corpus case is scored once by the engine; its hits give each rule's delta per protocol.
   A rule weight multiplies its deltas, which is what an overlay's ``weights:`` does, so a
   case's score under other weights is the weighted sum of its hits (vetoes stay, equal scores
   go by the engine's tie order). The script checks that with every weight at 1 this sum gives
   the engine's answer on every case, and checks the fitted weights against the engine itself
   through an overlay.
2. K-fold cross-validation: on each training part, coordinate descent over the weights
   (each rule's weight from GRID, a tie counting as a quarter of a miss) maximises agreement;
   the fitted weights then answer the held-out part, beside the hand-set weights on the same
   cases.

Run from the repository root (about a minute on one core):

    .venv/bin/python scripts/crossval_weights.py [--folds 10] [--shuffles 3]

It reads the corpus and prints; it changes nothing.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

from selector import recommend
from selector.corpus import load_corpus
from selector.loading import load_profile
from selector.protocols import PROTOCOLS
from selector.rules.loading import load_overlay_text
from selector.rules.model import TIE_ORDER

#: Candidate weights per rule: off, half, the hand-set size, and up to three times it.
GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
#: A tie is answered by the tie-break, not by the rules: it costs a quarter of a miss.
TIE_COST = 0.25
#: Rounds of coordinate descent over every rule (each round stops early without a gain).
ROUNDS = 4


@dataclass(frozen=True, slots=True)
class Case:
    """One corpus case as the fit sees it: its label, rule deltas and vetoed protocols."""

    name: str
    expected: str
    deltas: dict[str, tuple[float, float, float]]
    vetoed: frozenset[str]
    engine_answer: str | None


def _cases() -> list[Case]:
    cases = []
    for corpus_case in load_corpus():
        rec = recommend(load_profile(corpus_case.path))
        deltas: dict[str, list[float]] = {}
        vetoed = set()
        for hit in rec.hits:
            if hit.effect == "veto":
                vetoed.add(hit.protocol)
                continue
            deltas.setdefault(hit.rule, [0.0, 0.0, 0.0])[PROTOCOLS.index(hit.protocol)] += hit.delta
        cases.append(
            Case(
                corpus_case.name,
                corpus_case.expected,
                {rule: (d[0], d[1], d[2]) for rule, d in deltas.items()},
                frozenset(vetoed),
                rec.protocol,
            )
        )
    return cases


def _answer(case: Case, weights: dict[str, float]) -> tuple[str | None, bool]:
    scores = [0.0, 0.0, 0.0]
    for rule, deltas in case.deltas.items():
        weight = weights.get(rule, 1.0)
        for i, delta in enumerate(deltas):
            scores[i] += weight * delta
    viable = [i for i in TIE_ORDER if PROTOCOLS[i] not in case.vetoed]
    if not viable:
        return None, False
    best = max(scores[i] for i in viable)
    top = [i for i in viable if scores[i] == best]
    return PROTOCOLS[top[0]], len(top) > 1


def _tally(cases: list[Case], weights: dict[str, float]) -> tuple[int, int]:
    agreed = ties = 0
    for case in cases:
        answer, tie = _answer(case, weights)
        agreed += answer == case.expected
        ties += tie
    return agreed, ties


def _objective(tally: tuple[int, int]) -> float:
    return tally[0] - TIE_COST * tally[1]


def fit(cases: list[Case]) -> dict[str, float]:
    """Weights that maximise agreement on ``cases``, from 1 by coordinate descent."""
    rules = sorted({rule for case in cases for rule in case.deltas})
    weights = dict.fromkeys(rules, 1.0)
    best = _objective(_tally(cases, weights))
    for _ in range(ROUNDS):
        improved = False
        for rule in rules:
            kept = weights[rule]
            for candidate in GRID:
                weights[rule] = candidate
                value = _objective(_tally(cases, weights))
                if value > best + 1e-9:
                    best, kept, improved = value, candidate, True
            weights[rule] = kept
        if not improved:
            break
    return weights


def _check_against_the_engine(cases: list[Case], weights: dict[str, float]) -> None:
    """The re-summed answers are the engine's: at weight 1, and through an overlay."""
    for case in cases:
        assert _answer(case, {})[0] == case.engine_answer, case.name
    changed = {rule: w for rule, w in weights.items() if w != 1.0}
    off = sorted(rule for rule, w in changed.items() if w == 0.0)
    scaled = {rule: w for rule, w in changed.items() if w != 0.0}
    overlay = "overlay_version: 1\n"
    if scaled:
        overlay += "weights: {" + ", ".join(f"{r}: {w}" for r, w in sorted(scaled.items())) + "}\n"
    if off:
        overlay += "disable: [" + ", ".join(off) + "]\n"
    matrix = load_overlay_text(overlay)
    for corpus_case, case in zip(load_corpus(), cases, strict=True):
        got = recommend(load_profile(corpus_case.path), matrix=matrix).protocol
        assert got == _answer(case, weights)[0], case.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--shuffles", type=int, default=3, help="fold orders to try")
    args = parser.parse_args()

    cases = _cases()
    hand = _tally(cases, {})
    weights = fit(cases)
    _check_against_the_engine(cases, weights)
    fitted = _tally(cases, weights)
    moved = ", ".join(f"{r} x{w:g}" for r, w in sorted(weights.items()) if w != 1.0) or "none"
    print(f"{len(cases)} cases. Hand-set weights: {hand[0]} agree, {hand[1]} exact ties.")
    print(f"Fitted to all of them: {fitted[0]} agree, {fitted[1]} ties ({moved}).")
    for shuffle in range(args.shuffles):
        order = list(range(len(cases)))
        random.Random(shuffle).shuffle(order)
        hand_agreed = hand_ties = fit_agreed = fit_ties = 0
        for fold in range(args.folds):
            held = set(order[fold :: args.folds])
            train = [c for i, c in enumerate(cases) if i not in held]
            test = [c for i, c in enumerate(cases) if i in held]
            fold_weights = fit(train)
            a, t = _tally(test, {})
            hand_agreed, hand_ties = hand_agreed + a, hand_ties + t
            a, t = _tally(test, fold_weights)
            fit_agreed, fit_ties = fit_agreed + a, fit_ties + t
        print(
            f"shuffle {shuffle}, {args.folds}-fold, each case answered by weights fitted "
            "without it: "
            f"hand-set {hand_agreed} agree ({hand_ties} ties), fitted {fit_agreed} agree "
            f"({fit_ties} ties)"
        )


if __name__ == "__main__":
    main()
