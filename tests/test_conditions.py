"""Conditions compiled to Python functions: the same truth as the condition tree says, and
nothing a matrix file holds is ever run as code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings

from selector.profile import Profile
from selector.rules.conditions import (
    AllOf,
    AnyOf,
    Compare,
    Condition,
    Not,
    lookup,
    predicate,
    predicates,
)
from selector.rules.facts import profile_facts
from selector.rules.loading import default_matrix
from selector.rules.model import _open_table
from tests.engine_helpers import profiles


def _truth(condition: Condition, facts: Mapping[str, Any]) -> bool:
    """The operators' meaning, read off the module's docs, one comparison at a time."""
    if isinstance(condition, Not):
        return not _truth(condition.part, facts)
    if isinstance(condition, AllOf):
        return all(_truth(part, facts) for part in condition.parts)
    if isinstance(condition, AnyOf):
        return any(_truth(part, facts) for part in condition.parts)
    value, constant = facts[condition.fact], condition.value
    meaning = {
        "eq": lambda: value == constant,
        "ne": lambda: value != constant,
        "gt": lambda: value > constant,
        "ge": lambda: value >= constant,
        "lt": lambda: value < constant,
        "le": lambda: value <= constant,
        "in": lambda: value in constant,
        "not_in": lambda: value not in constant,
        "contains": lambda: constant in value,
        "contains_any": lambda: bool(set(constant) & set(value)),
        "only": lambda: set(value) <= set(constant),
    }
    return bool(meaning[condition.op]())


def _every_condition() -> list[Condition]:
    matrix = default_matrix()
    found: list[Condition] = [*matrix.gated]
    found += [rule.condition for rule in matrix.rules]
    for condition in matrix.gated:
        found += condition.parts if isinstance(condition, AllOf) else [condition]
    return found


@settings(max_examples=150, deadline=None)
@given(profiles)
def test_compiled_conditions_agree_with_the_tree_on_any_profile(profile: Profile) -> None:
    facts = profile_facts(profile)
    conditions = _every_condition()
    for condition, test in zip(conditions, predicates(conditions), strict=True):
        assert test(facts) is _truth(condition, facts), condition


def test_the_matrix_tables_agree_with_the_tree() -> None:
    """The tables scoring and tipping-point search call: rules, conjuncts, and each rule cut
    along each fact it reads."""
    matrix = default_matrix()
    facts = profile_facts(
        Profile.model_validate(
            {
                "schema_version": 1,
                "name": "t",
                "clients": ["browser", "mobile"],
                "traffic": {
                    "client_to_server": {"rate_hz": 12, "payload_bytes": 300, "needs_ack": True},
                    "server_to_client": {"rate_hz": 30, "payload_bytes": 80},
                },
            }
        )
    )
    for condition, test in zip(matrix.gated, matrix.tests, strict=True):
        assert test(facts) is _truth(condition, facts)
    for condition, parts in zip(matrix.gated, matrix.conjuncts(), strict=True):
        assert all(test(facts) for test, _ in parts) is _truth(condition, facts)
    for name in matrix.rules_by_fact:
        for index, own, rest, *_ in matrix.splits(name):
            truth = _truth(matrix.gated[index], facts)
            assert (own(facts) and rest(facts)) is truth, (name, matrix.rules[index].id)


@settings(max_examples=100, deadline=None)
@given(profiles)
def test_the_opener_agrees_with_testing_each_conjunct(profile: Profile) -> None:
    """The compiled ``facts -> (fired, opened)`` gives what testing each conjunct in turn
    gives: whether all hold, and the facts read by every false one (none when two false ones
    read different facts)."""
    matrix = default_matrix()
    facts = profile_facts(profile)
    fired, opened = matrix.opener()(facts)
    for index, parts in enumerate(matrix.conjuncts()):
        common: frozenset[str] | None = None
        for test, reads in parts:
            if not test(facts):
                common = reads if common is None else common & reads
        assert fired[index] is (common is None) is _truth(matrix.gated[index], facts)
        assert opened[index] == (common or frozenset()), matrix.rules[index].id


def test_lookup_indexes_each_table_by_the_conditions_that_hold() -> None:
    groups = [
        (Compare("n", "gt", 1), Compare("m", "eq", "a"), Compare("n", "lt", 5)),
        (),
        (AnyOf(()),),
    ]
    tables = [tuple(range(8)), ("always",), ("no", "yes")]
    held, entries = lookup(groups, tables)({"n": 3, "m": "b"})
    assert held == [False, True, False]
    assert entries == [0b101, "always", "no"]
    held, entries = lookup(groups, tables)({"n": 3, "m": "a"})
    assert held[0] is True and entries[0] == 0b111


def test_a_rule_with_many_conjuncts_gets_its_entries_on_look_up() -> None:
    reads = tuple(frozenset({f"x{j}", "shared"}) for j in range(12))
    table = _open_table(reads)
    assert isinstance(table, dict)
    assert table[(1 << 12) - 1] == frozenset()  # all hold: the rule fires
    assert table[(1 << 12) - 2] == reads[0]  # only conjunct 0 is false
    assert table[0] == frozenset({"shared"})
    assert not table  # nothing kept


def test_lookup_runs_no_constant_or_name_as_code() -> None:
    hostile = "x') or __import__('os').getpid() or ('"
    odd_name = "a'] or True or f['b"
    run = lookup([(Compare("auth", "eq", hostile), Compare(odd_name, "eq", 1))], [range(4)])
    assert run({"auth": "token", odd_name: 2, "a": 1, "b": 1}) == ([False], [0])
    assert run({"auth": hostile, odd_name: 1}) == ([True], [3])


@pytest.mark.parametrize(
    ("condition", "facts", "expected"),
    [
        (Compare("n", "in", (1, 2)), {"n": 2}, True),
        (Compare("n", "not_in", (1, 2)), {"n": 3}, True),
        (Compare("s", "contains", "a"), {"s": frozenset({"a"})}, True),
        (Compare("s", "contains_any", frozenset({"a", "b"})), {"s": frozenset({"c"})}, False),
        (Compare("s", "only", frozenset({"a", "b"})), {"s": frozenset({"a"})}, True),
        (Compare("s", "only", frozenset({"a"})), {"s": frozenset({"a", "b"})}, False),
        (AllOf(()), {}, True),
        (AnyOf(()), {}, False),
        (Not(AnyOf((Compare("n", "gt", 1), Compare("n", "lt", 0)))), {"n": 0.5}, True),
    ],
)
def test_each_operator_and_combinator(
    condition: Condition, facts: dict[str, Any], expected: bool
) -> None:
    assert predicate(condition)(facts) is expected


def test_constants_and_names_are_never_run_as_code() -> None:
    """A constant is bound by reference and a fact name written as a string literal, so text
    that would be Python if pasted into the source is only ever compared with."""
    hostile = "x') or __import__('os').getpid() or ('"
    test = predicate(Compare("auth", "eq", hostile))
    assert test({"auth": "token"}) is False
    assert test({"auth": hostile}) is True
    odd_name = "a'] or True or f['b"
    with pytest.raises(KeyError, match="or True"):
        predicate(Compare(odd_name, "eq", 1))({"a": 1, "b": 1})
    assert predicate(Compare(odd_name, "eq", 1))({odd_name: 1}) is True


def test_an_unknown_operator_is_refused_at_compile_time() -> None:
    with pytest.raises(AssertionError, match="not a compiled comparison"):
        predicate(Compare("n", "approximately", 1))
