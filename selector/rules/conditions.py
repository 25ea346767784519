"""The closed condition vocabulary of the rules matrix, compiled to plain functions.

A condition is data, never code: a file's text is never evaluated. The validated tree is
compiled to Python functions (:func:`predicates`) whose source is made only from the
operators' fixed expressions and ``repr`` of fact names, with every constant bound by
reference::

    {fact: traffic.client_to_server.rate_hz, gt: 10}      # compare one fact with a constant
    {measure: measure.post_requests_per_s, ge: 1000}      # compare one measure with a constant
    {all: [COND, ...]}  {any: [COND, ...]}  {not: COND}    # combine

The law of this module: **a comparison names one fact and one constant**. No arithmetic, no
fact-to-fact comparison. That keeps every score a step function of each numeric fact whose
steps sit exactly at the constants written in the matrix, which is what makes tipping points
exact (see :mod:`selector.engine.tipping`). A measure (:mod:`selector.rules.measures`) is a
product or ratio of facts, monotonic in each number fact it reads, so a constant on a measure
still cuts each of those facts at one value for a given profile: tipping-point search solves
for it (:class:`selector.rules.measures.Lever`). A measure compares with ``gt ge lt le``
only. Operators by fact kind:

========  ==========================================================
number    ``eq ne gt ge lt le`` (a number), ``in not_in`` (numbers)
bool      ``eq ne`` (true/false)
enum      ``eq ne`` (a choice), ``in not_in`` (choices)
set       ``contains`` (a member), ``contains_any`` ``only`` (members)
========  ==========================================================

``only`` holds when every member of the set fact is among the values (``clients only
[server]``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias, TypeVar, cast

from selector.rules.facts import FACTS, format_fact
from selector.rules.measures import MEASURE_OPERATORS, MEASURES
from selector.rules.values import Facts, FactValue

__all__ = [
    "COMBINATORS",
    "OPERATORS",
    "AllOf",
    "AnyOf",
    "Compare",
    "CompareValue",
    "Condition",
    "Not",
    "Predicate",
    "ReportProblem",
    "Table",
    "compile_condition",
    "describe",
    "facts_of",
    "lookup",
    "numeric_thresholds",
    "predicate",
    "predicates",
    "unknown_measure",
]

Predicate = Callable[[Facts], bool]
#: What a comparison compares a fact with: one value, or the values of a list operator (a
#: tuple, or a frozenset for a set fact).
CompareValue: TypeAlias = FactValue | tuple[float | str, ...]
ReportProblem = Callable[[tuple[str | int, ...], str], None]

#: Operators allowed for each fact kind.
OPERATORS: dict[str, tuple[str, ...]] = {
    "number": ("eq", "ne", "gt", "ge", "lt", "le", "in", "not_in"),
    "bool": ("eq", "ne"),
    "enum": ("eq", "ne", "in", "not_in"),
    "set": ("contains", "contains_any", "only"),
}
ALL_OPERATORS: tuple[str, ...] = tuple(
    dict.fromkeys(op for ops in OPERATORS.values() for op in ops)
)
COMBINATORS: tuple[str, ...] = ("all", "any", "not")
_LIST_OPERATORS = frozenset({"in", "not_in", "contains_any", "only"})
_SYMBOLS = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


@dataclass(frozen=True, slots=True)
class Compare:
    """``fact OP value``; ``value`` is a tuple (or frozenset for set facts) for list operators."""

    fact: str
    op: str
    value: CompareValue


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Condition


Condition = Compare | AllOf | AnyOf | Not


# --- compiling data into conditions -----------------------------------------------------------


def compile_condition(
    data: Mapping[str, object], loc: tuple[str | int, ...], report: ReportProblem
) -> Condition | None:
    """Turn structurally valid condition data (the JSON Schema has passed) into a
    :data:`Condition`, reporting each semantic problem at its location; ``None`` if any."""
    if "all" in data or "any" in data:
        key = "all" if "all" in data else "any"
        items = data[key]
        if not isinstance(items, list):
            report((*loc, key), f"'{key}' takes a list of conditions")
            return None
        parts = [_compile_part(item, (*loc, key, i), report) for i, item in enumerate(items)]
        if any(p is None for p in parts):
            return None
        compiled = tuple(p for p in parts if p is not None)
        return AllOf(compiled) if key == "all" else AnyOf(compiled)
    if "not" in data:
        inner = _compile_part(data["not"], (*loc, "not"), report)
        return None if inner is None else Not(inner)
    return _compile_compare(data, loc, report)


def _compile_part(
    data: object, loc: tuple[str | int, ...], report: ReportProblem
) -> Condition | None:
    if not isinstance(data, dict):
        report(loc, "expected a condition (a mapping)")
        return None
    return compile_condition(data, loc, report)


def _compile_measure_compare(
    data: Mapping[str, object], loc: tuple[str | int, ...], report: ReportProblem
) -> Compare | None:
    name = data["measure"]
    if not isinstance(name, str) or name not in MEASURES:
        report((*loc, "measure"), unknown_measure(str(name)))
        return None
    op = next(k for k in data if k != "measure")
    if op not in MEASURE_OPERATORS:
        report(
            (*loc, op),
            f"operator '{op}' does not apply to measure '{name}'; use one of: "
            + ", ".join(MEASURE_OPERATORS),
        )
        return None
    value = data[op]
    problem = _value_problem("number", (), value)
    if not problem and isinstance(value, int | float) and not math.isfinite(value):
        problem = f"expected a finite number, got {value!r}"
    if problem:
        report((*loc, op), f"{problem} (measure '{name}')")
        return None
    return Compare(name, op, _accepted(value))


def unknown_measure(name: str) -> str:
    """The message for a measure name outside :data:`MEASURES`, with the nearest one."""
    import difflib

    close = difflib.get_close_matches(name, MEASURES, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else "; known: " + ", ".join(MEASURES)
    return f"unknown measure '{name}'{hint}"


def _compile_compare(
    data: Mapping[str, object], loc: tuple[str | int, ...], report: ReportProblem
) -> Compare | None:
    if "measure" in data:
        return _compile_measure_compare(data, loc, report)
    name = data["fact"]
    if not isinstance(name, str) or name not in FACTS:
        import difflib

        close = difflib.get_close_matches(str(name), FACTS, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else "; see `selector rules --facts`"
        report((*loc, "fact"), f"unknown fact '{name}'{hint}")
        return None
    fact = FACTS[name]
    op = next(k for k in data if k != "fact")
    allowed = OPERATORS[fact.kind]
    if op not in allowed:
        report(
            (*loc, op),
            f"operator '{op}' does not apply to {fact.kind} fact '{name}'; "
            f"use one of: {', '.join(allowed)}",
        )
        return None
    raw = data[op]
    if op in _LIST_OPERATORS and not isinstance(raw, list):
        report((*loc, op), f"'{op}' takes a list of values")
        return None
    values = raw if isinstance(raw, list) and op in _LIST_OPERATORS else [raw]
    for value in values:
        problem = _value_problem(fact.kind, fact.choices, value)
        if problem:
            report((*loc, op), f"{problem} (fact '{name}')")
            return None
    accepted = [_accepted(value) for value in values]
    value_out: CompareValue
    if op not in _LIST_OPERATORS:
        value_out = accepted[0]
    elif fact.kind == "set":
        # A set fact's values are among its choices, so every one is a string.
        value_out = frozenset(str(value) for value in accepted)
    else:
        value_out = tuple(accepted)
    return Compare(name, op, value_out)


def _accepted(value: object) -> float | str:
    """A value :func:`_value_problem` accepted (a number, a flag or a choice), as its type."""
    if isinstance(value, int | float | str):
        return value
    raise AssertionError(f"not an accepted condition value: {value!r}")


def _value_problem(kind: str, choices: Sequence[str], value: object) -> str:
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {value!r}"
    elif kind == "bool":
        if not isinstance(value, bool):
            return f"expected true or false, got {value!r}"
    elif value not in choices:
        return f"{value!r} is not one of: {', '.join(choices)}"
    return ""


# --- evaluation -------------------------------------------------------------------------------


#: Each operator as a Python expression on the fact's value ``{v}`` and the constant ``{k}``.
_EXPRESSIONS = {
    "eq": "{v} == {k}",
    "ne": "{v} != {k}",
    "gt": "{v} > {k}",
    "ge": "{v} >= {k}",
    "lt": "{v} < {k}",
    "le": "{v} <= {k}",
    "in": "{v} in {k}",
    "not_in": "{v} not in {k}",
    "contains": "{k} in {v}",
    "contains_any": "not {k}.isdisjoint({v})",
    "only": "{v} <= {k}",  # subset: every member is among the values
}


class _Source:
    """Python source for conditions, with the constants they compare with kept aside.

    Only the tree's shape becomes source text: each constant is bound to a generated name in
    the functions' namespace (never written into the text), each fact name is a string
    literal made by ``repr``, and each operator comes from :data:`_EXPRESSIONS`. So nothing a
    matrix or overlay file says is ever parsed as Python.
    """

    def __init__(self) -> None:
        self.constants: dict[str, object] = {}
        #: When set, each fact's value is read once into a local (``_v0 = f['media']``)
        #: and the expressions name the local.
        self.locals: dict[str, str] | None = None

    def constant(self, value: object) -> str:
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def expression(self, condition: Condition) -> str:
        if isinstance(condition, Compare):
            if not isinstance(condition.fact, str) or condition.op not in _EXPRESSIONS:
                raise AssertionError(f"not a compiled comparison: {condition!r}")
            if self.locals is None:
                value = f"f[{condition.fact!r}]"
            else:
                value = self.locals.setdefault(condition.fact, f"_v{len(self.locals)}")
            return (
                "("
                + _EXPRESSIONS[condition.op].format(v=value, k=self.constant(condition.value))
                + ")"
            )
        if isinstance(condition, Not):
            return f"(not {self.expression(condition.part)})"
        joiner = " and " if isinstance(condition, AllOf) else " or "
        if not condition.parts:
            return "True" if isinstance(condition, AllOf) else "False"
        return "(" + joiner.join(self.expression(part) for part in condition.parts) + ")"


def predicates(conditions: Sequence[Condition]) -> tuple[Predicate, ...]:
    """Fast callables ``facts -> bool`` for ``conditions``, compiled together.

    Each condition becomes one Python function whose body tests every comparison inline,
    rather than a tree of closures calling each other: scoring evaluates the matrix's 41
    rules in 2.3 µs instead of 8.9 µs (timeit over profiles/ and tests/corpus), and the
    tipping-point search tests the same conditions over and over. One ``compile()`` for the
    whole batch costs about a millisecond for the default matrix's tables.
    """
    source = _Source()
    bodies = [source.expression(condition) for condition in conditions]
    text = "(" + "".join(f"lambda f: {body}," for body in bodies) + ")"
    namespace: dict[str, object] = {"__builtins__": {}, **source.constants}
    compiled: tuple[Predicate, ...] = eval(compile(text, "<conditions>", "eval"), namespace)
    return compiled


_Entry = TypeVar("_Entry", covariant=True)


class Table(Protocol[_Entry]):
    """What :func:`lookup` indexes with a mask: a tuple, or a mapping from masks."""

    def __getitem__(self, mask: int, /) -> _Entry: ...


def lookup(
    groups: Sequence[Sequence[Condition]], tables: Sequence[Table[_Entry]]
) -> Callable[[Facts], tuple[list[bool], list[_Entry]]]:
    """One compiled function ``facts -> (held, entries)``: for each group of conditions,
    whether all of them hold, and its table's entry at the mask of the ones that hold (bit
    ``j`` set when condition ``j`` does).

    Every condition is tested inline in one function, with no call per condition and no loop:
    scoring with the facts each false conjunct of a rule reads (``score(opened=True)``) went
    from 178,809 to 78,753 instructions per profile (callgrind over profiles/ and tests/corpus;
    each fact read once into a local and ``bit if test else 0`` added: 81,360 -> 52,379 for
    this function alone). Over the whole of ``recommend()``: 2,152,863 -> 2,051,670
    (bench/engine_instructions.sh). Every fact a condition names is read up front, so
    ``facts`` must hold them all (a profile's facts do).

    The source is made as :func:`predicates` makes it: constants and tables bound by
    reference, fact names as ``repr`` literals, locals, masks and bits from our own integers.
    """
    source = _Source()
    source.locals = {}
    masks: list[str] = []
    held: list[str] = []
    entries: list[str] = []
    for n, (group, table) in enumerate(zip(groups, tables, strict=True)):
        # An int built from ``bit if test else 0``: adding exact ints is a specialised
        # instruction, where ``|`` and ``<<`` on bools take the generic path.
        bits = [f"({1 << j} if {source.expression(c)} else 0)" for j, c in enumerate(group)]
        masks.append(f"    _m{n} = {' + '.join(bits) or '0'}\n")
        held.append(f"_m{n} == {(1 << len(group)) - 1}")
        entries.append(f"{source.constant(table)}[_m{n}]")
    reads = "".join(f"    {local} = f[{name!r}]\n" for name, local in source.locals.items())
    text = (
        f"def _lookup(f):\n{reads}{''.join(masks)}"
        f"    return [{', '.join(held)}], [{', '.join(entries)}]\n"
    )
    namespace: dict[str, object] = {"__builtins__": {}, **source.constants}
    exec(compile(text, "<conditions>", "exec"), namespace)
    # The function exec() just defined from the source above; exec leaves it untyped.
    return cast("Callable[[Facts], tuple[list[bool], list[_Entry]]]", namespace["_lookup"])


def predicate(condition: Condition) -> Predicate:
    """A fast callable ``facts -> bool`` for ``condition`` (see :func:`predicates`)."""
    return predicates((condition,))[0]


# --- analysis ---------------------------------------------------------------------------------


def _compares(condition: Condition) -> list[Compare]:
    if isinstance(condition, Compare):
        return [condition]
    if isinstance(condition, Not):
        return _compares(condition.part)
    return [c for part in condition.parts for c in _compares(part)]


def facts_of(condition: Condition) -> frozenset[str]:
    """Names of the facts (and measures) ``condition`` reads."""
    return frozenset(c.fact for c in _compares(condition))


def numeric_thresholds(condition: Condition) -> dict[str, dict[float, frozenset[str]]]:
    """For each number fact or measure, the constants it is compared with (where its truth
    can change) and the operators used with each constant (which side the constant itself
    falls on)."""
    found: dict[str, dict[float, set[str]]] = {}
    for c in _compares(condition):
        if c.fact not in MEASURES and FACTS[c.fact].kind != "number":
            continue
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        for value in values:
            if isinstance(value, int | float):  # a number fact's constants are numbers
                found.setdefault(c.fact, {}).setdefault(float(value), set()).add(c.op)
    return {k: {v: frozenset(ops) for v, ops in d.items()} for k, d in found.items()}


def _format_value(value: CompareValue) -> str:
    if isinstance(value, frozenset | tuple):
        return f"[{format_fact(value)}]"
    return format_fact(value)


def describe(condition: Condition) -> str:
    """Human-readable form: ``traffic.client_to_server.rate_hz > 10 and not (...)``."""
    if isinstance(condition, Compare):
        symbol = _SYMBOLS.get(condition.op, condition.op.replace("_", " "))
        return f"{condition.fact} {symbol} {_format_value(condition.value)}"
    if isinstance(condition, Not):
        return f"not ({describe(condition.part)})"
    if not condition.parts:
        return "always" if isinstance(condition, AllOf) else "never"
    joiner = " and " if isinstance(condition, AllOf) else " or "
    if len(condition.parts) == 1:
        return describe(condition.parts[0])
    return joiner.join(
        f"({describe(p)})" if isinstance(p, AllOf | AnyOf) and len(p.parts) > 1 else describe(p)
        for p in condition.parts
    )
