"""Compiling the rows of the project's YAML tables (matrix rules, companions, planner notes):
located problems, the JSON Schema check, and a row's condition and text template. Shared by
the matrix loader (:mod:`selector.rules.loading`) and the advice tables
(:mod:`selector.rules.advice`), so neither imports the other's reader.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

from selector.errors import MatrixError, Problem, field_path
from selector.loading import YamlDocument
from selector.rules.conditions import Condition, compile_condition
from selector.rules.model import parse_template

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from selector.jsonvalue import JsonObject

__all__ = [
    "MAX_NESTING",
    "Collector",
    "Loc",
    "compile_row_text",
    "condition_shape_problem",
    "schema_problems",
]

Loc = tuple[str | int, ...]


class Collector:
    """Gathers located problems for one document."""

    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.problems: list[Problem] = []

    def add(self, loc: Sequence[str | int], message: str, *, key: bool = False) -> None:
        line, col = self.document.source.locate(loc, key=key)
        self.problems.append(
            Problem(message, file=self.document.file, line=line, col=col, path=field_path(loc))
        )

    def raise_if_any(self) -> None:
        if self.problems:
            self.problems.sort(key=lambda p: (p.line, p.col))
            raise MatrixError(self.problems)


#: The deepest nesting of mappings and lists a matrix, overlay or table file may use (the
#: built-in matrix nests 9 levels; any file stops at :data:`selector.loading.MAX_DEPTH`).
MAX_NESTING = 32


def _too_deep(data: object) -> tuple[str | int, ...] | None:
    """Where ``data`` first nests deeper than :data:`MAX_NESTING`, walked without recursion."""
    stack: list[tuple[object, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        node, loc = stack.pop()
        if len(loc) > MAX_NESTING:
            return loc
        if isinstance(node, dict):
            stack.extend((value, (*loc, key)) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, (*loc, i)) for i, value in enumerate(node))
    return None


def schema_problems(document: YamlDocument, validator: Validator, found: Collector) -> None:
    """Report every JSON Schema violation of ``document`` at its location (unknown keys with
    the nearest allowed one), then raise if there were any."""
    from jsonschema.exceptions import best_match

    deep = _too_deep(document.data)
    if deep is not None:
        # Validation, compilation and the compiled conditions all recurse over the tree: a
        # file nested hundreds of levels deep ended in a RecursionError traceback.
        found.add(deep, f"nested more than {MAX_NESTING} levels deep; conditions need far fewer")
        found.raise_if_any()
    # jsonschema judges any Python value (a date where the schema wants a number is one more
    # error); its stubs ask for JSON data, which a YAML file's data is but for such scalars.
    for error in validator.iter_errors(cast("JsonObject", document.data)):
        loc = tuple(error.absolute_path)
        if len(loc) >= 2 and loc[-2] == "effects" and not isinstance(error.instance, dict):
            found.add(
                loc,
                f"expected a non-zero number, 'veto' or {{measure, bands}}, got {error.instance!r}",
            )
            continue
        if error.context:
            error = best_match(error.context)
            loc = tuple(error.absolute_path)
        if (
            error.validator == "additionalProperties"
            and isinstance(error.instance, dict)
            and isinstance(error.schema, Mapping)
        ):
            allowed = set(error.schema.get("properties", {}))
            for key in sorted(k for k in error.instance if k not in allowed):
                close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
                hint = (
                    f"; did you mean '{close[0]}'?"
                    if close
                    else ("; allowed here: " + ", ".join(sorted(allowed)) if allowed else "")
                )
                found.add((*loc, key), f"unknown key '{key}'{hint}", key=True)
            continue
        found.add(loc, error.message)
    found.raise_if_any()


def compile_row_text(
    data: Mapping[str, object],
    loc: tuple[str | int, ...],
    text_key: str,
    placeholders: Sequence[str],
    found: Collector,
) -> tuple[Condition | None, tuple[tuple[str, str | None], ...]]:
    """A data row's ``when`` compiled and its ``text_key`` template parsed (rules, companions
    and planner notes alike), each problem reported at its field; a placeholder must be one of
    ``placeholders``. The condition is ``None`` when it has a problem. ``data`` is a row its
    JSON Schema has accepted: ``when`` is a mapping and ``text_key`` text."""
    when = data["when"]
    shape = condition_shape_problem(when, (*loc, "when"))
    if shape:
        found.add(*shape)
        condition = None
    else:
        assert isinstance(when, dict)  # the schema admits only a mapping
        condition = compile_condition(when, (*loc, "when"), found.add)
    text = data[text_key]
    assert isinstance(text, str)  # the schema admits only text
    try:
        template = parse_template(text)
    except ValueError as exc:
        found.add((*loc, text_key), str(exc))
        template = ()
    for _, name in template:
        if name is not None and name not in placeholders:
            close = difflib.get_close_matches(name, placeholders, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            found.add((*loc, text_key), f"placeholder {{{name}}} is not a fact{hint}")
    return condition, template


def condition_shape_problem(data: object, loc: tuple[str | int, ...]) -> tuple[Loc, str] | None:
    """The JSON Schema allows 1-2 keys per condition; check the exact shapes, with where."""
    if not isinstance(data, dict):
        return None
    combinators = [k for k in ("all", "any", "not") if k in data]
    if combinators:
        key = combinators[0]
        if len(data) != 1:
            return loc, f"'{key}' cannot be combined with other keys in one condition"
        if key == "not":
            return condition_shape_problem(data[key], (*loc, key))
        for i, item in enumerate(data[key]):
            found = condition_shape_problem(item, (*loc, key, i))
            if found:
                return found
        return None
    if ("fact" in data) == ("measure" in data) or len(data) != 2:
        return loc, (
            "a comparison is {fact: NAME, OPERATOR: VALUE} or {measure: NAME, OPERATOR: VALUE}, "
            "with exactly one operator"
        )
    return None
