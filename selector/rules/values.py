"""The type of a fact's value, and typed reads of one fact.

Facts are a flat ``dict`` from a dotted name to a plain value (see :mod:`selector.rules.facts`);
this module names the values such a dict may hold, so every reader states which kind it
expects instead of taking whatever it finds. Kept apart from ``facts`` because the measures,
which ``facts`` imports, read facts too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

__all__ = ["FactValue", "Facts", "members", "number", "text"]

#: A number (``int`` is accepted where ``float`` is), a flag, an enum's value, or a set of
#: enum values (``clients``, the hop kinds).
FactValue: TypeAlias = float | bool | str | frozenset[str]
#: A profile's facts: every name in ``selector.rules.facts.FACTS`` and every measure's name.
Facts: TypeAlias = Mapping[str, FactValue]


def number(facts: Facts, name: str) -> float:
    """The value of the number fact ``name``; a ``TypeError`` if it holds another kind."""
    value = facts[name]
    # type() tests, not isinstance(value, (int, float)): recommend() reads ~100 numbers
    # through here, and the tuple test costs about twice as much (timeit: 65 ns a call
    # against 120 ns, where a bare dict read is 29 ns). A bool is no number fact's value.
    if type(value) is float or type(value) is int:
        return value
    raise TypeError(f"fact {name} holds {value!r}, not a number")


def text(facts: Facts, name: str) -> str:
    """The value of the enum fact ``name``; a ``TypeError`` if it holds another kind."""
    value = facts[name]
    if type(value) is str:
        return value
    raise TypeError(f"fact {name} holds {value!r}, not an enum value")


def members(facts: Facts, name: str) -> frozenset[str]:
    """The value of the set fact ``name``; a ``TypeError`` if it holds another kind."""
    value = facts[name]
    if type(value) is frozenset:
        return value
    raise TypeError(f"fact {name} holds {value!r}, not a set")
