"""scripts/crossval_weights.py answers as the engine does, so its figures are the engine's."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.conftest import load_script


@pytest.fixture(scope="module")
def crossval() -> ModuleType:
    return load_script("crossval_weights")


def test_reweighted_answers_are_the_engines_through_an_overlay(crossval: ModuleType) -> None:
    cases = crossval._cases()
    assert len(cases) >= 400
    # A fit on the whole corpus moves some weights (0 disables a rule; about a second), where
    # a slice may find nothing to move; the script's own check then compares its re-summed
    # answers with the engine run through the equivalent overlay.
    weights = crossval.fit(cases)
    assert any(w != 1.0 for w in weights.values())
    crossval._check_against_the_engine(cases, weights)


def test_a_fit_never_does_worse_than_the_weights_it_starts_from(crossval: ModuleType) -> None:
    cases = crossval._cases()[::3]
    start = crossval._objective(crossval._tally(cases, {}))
    fitted = crossval._objective(crossval._tally(cases, crossval.fit(cases)))
    assert fitted >= start
