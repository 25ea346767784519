"""The type of a fact's value, and typed reads of one fact.

Facts are a flat ``dict`` from a dotted name to a plain value (see :mod:`selector.rules.facts`);
this module names the values such a dict may hold, so every reader states which kind it
expects instead of taking whatever it finds. Kept apart from ``facts`` because the measures,
which ``facts`` imports, read facts too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

__all__ = ["FactValue", "Facts", "number", "text"]

#: A number (``int`` is accepted where ``float`` is, and ``bool`` is an ``int``), a flag, an
#: enum's value, or a set of enum values (``clients``, the hop kinds).
FactValue: TypeAlias = float | bool | str | frozenset[str]
#: A profile's facts: every name in ``selector.rules.facts.FACTS`` and every measure's name.
Facts: TypeAlias = Mapping[str, FactValue]


def number(facts: Facts, name: str) -> float:
    """The value of the number fact ``name``; a ``TypeError`` if it holds another kind."""
    value = facts[name]
    if isinstance(value, (int, float)):
        return value
    raise TypeError(f"fact {name} holds {value!r}, not a number")


def text(facts: Facts, name: str) -> str:
    """The value of the enum fact ``name``; a ``TypeError`` if it holds another kind."""
    value = facts[name]
    if isinstance(value, str):
        return value
    raise TypeError(f"fact {name} holds {value!r}, not an enum value")
