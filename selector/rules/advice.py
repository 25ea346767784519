"""Read, validate and compile the advice tables: companions and planner notes.

Both are data rows next to the code that lists them (``selector/engine/companions.yaml``,
``selector/planner/notes.yaml``), each with a stable id, the protocols it is for, a condition
in the rules matrix's vocabulary (:mod:`selector.rules.conditions`), its text (which may quote
the profile with ``{fact.name}`` placeholders) and its source. They go through the project's
one YAML reader, a JSON Schema (an unknown key in a row is a located error) and the condition
compiler, once per process; the engine and the planner then only call compiled predicates.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import TYPE_CHECKING, NotRequired, TypedDict, cast

from selector.errors import MatrixError
from selector.loading import YamlDocument, parse_yaml
from selector.protocols import PROTOCOLS
from selector.rules.conditions import Condition, predicates
from selector.rules.facts import FACTS
from selector.rules.model import Advice
from selector.rules.rows import Collector, compile_row_text, schema_problems
from selector.rules.schema import MATRIX_SCHEMA_ID, RULE_ID_PATTERN

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from selector.jsonvalue import JsonObject, JsonValue

__all__ = [
    "companion_table",
    "compile_companions_text",
    "compile_notes_text",
    "planner_note_table",
]


class _Row(TypedDict):
    """A row once :func:`_row_schema` has accepted it (a companion or a planner note)."""

    id: str
    when: dict[str, object]
    source: str
    #: A companion's protocol, component and reason.
    protocol: NotRequired[str]
    component: NotRequired[str]
    reason: NotRequired[str]
    #: A planner note's protocols and text.
    protocols: NotRequired[list[str]]
    text: NotRequired[str]


def _row_schema(kind: str) -> JsonObject:
    properties: JsonObject = {
        "id": {"type": "string", "pattern": RULE_ID_PATTERN},
        "when": {"$ref": "https://selector.dev/schemas/matrix-v1.json#/$defs/condition"},
        "source": {"type": "string", "pattern": "^https?://"},
    }
    if kind == "companions":
        properties |= {
            "protocol": {"enum": list(PROTOCOLS)},
            "component": {"type": "string", "minLength": 1},
            "reason": {"type": "string", "minLength": 1},
        }
        required: list[JsonValue] = ["id", "protocol", "when", "component", "reason", "source"]
    else:
        properties |= {
            "protocols": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"enum": list(PROTOCOLS)},
            },
            "text": {"type": "string", "minLength": 1},
        }
        required = ["id", "protocols", "when", "text", "source"]
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [f"{kind}_version", kind],
        "properties": {
            f"{kind}_version": {"const": 1},
            kind: {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": required,
                    "properties": properties,
                },
            },
        },
    }


@functools.cache
def _validator(kind: str) -> Validator:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import Schema

    from selector.rules.schema import matrix_schema

    # Conditions are the matrix's own: the schema refers to its definition.
    registry: Registry[Schema] = Registry().with_resource(
        MATRIX_SCHEMA_ID, Resource.from_contents(matrix_schema())
    )
    return Draft202012Validator(_row_schema(kind), registry=registry)


def _compile(document: YamlDocument, kind: str) -> tuple[Advice, ...]:
    found = Collector(document)
    schema_problems(document, _validator(kind), found)
    rows: list[tuple[_Row, Condition, tuple[tuple[str, str | None], ...]]] = []
    seen: set[str] = set()
    text_key = "reason" if kind == "companions" else "text"
    # The schema has accepted the document, so each row has the shape _Row describes.
    for i, data in enumerate(cast("list[_Row]", document.data[kind])):
        loc: tuple[str | int, ...] = (kind, i)
        before = len(found.problems)
        if data["id"] in seen:
            found.add((*loc, "id"), f"id '{data['id']}' is already defined")
        seen.add(data["id"])
        condition, template = compile_row_text(data, loc, text_key, list(FACTS), found)
        if condition is None or len(found.problems) > before:
            continue
        rows.append((data, condition, template))
    found.raise_if_any()
    tests = predicates([condition for _, condition, _ in rows])  # one compile for the table
    return tuple(
        Advice(
            id=data["id"],
            protocols=frozenset([data["protocol"]] if kind == "companions" else data["protocols"]),
            test=test,
            template=template,
            source=data["source"],
            component=data.get("component", ""),
        )
        for (data, _, template), test in zip(rows, tests, strict=True)
    )


def _packaged(package: str, name: str, kind: str) -> tuple[Advice, ...]:
    resource = resources.files(package).joinpath(name)
    return _compile(parse_yaml(resource.read_bytes(), str(resource), error=MatrixError), kind)


@functools.cache
def companion_table() -> tuple[Advice, ...]:
    """The built-in companion rows (``selector/engine/companions.yaml``), compiled once."""
    return _packaged("selector.engine", "companions.yaml", "companions")


@functools.cache
def planner_note_table() -> tuple[Advice, ...]:
    """The built-in planner-note rows (``selector/planner/notes.yaml``), compiled once."""
    return _packaged("selector.planner", "notes.yaml", "notes")


def compile_companions_text(text: str, file: str = "<companions>") -> tuple[Advice, ...]:
    """Compile a companion table given as YAML text (tests); :class:`MatrixError` if bad."""
    return _compile(parse_yaml(text.encode("utf-8"), file, error=MatrixError), "companions")


def compile_notes_text(text: str, file: str = "<notes>") -> tuple[Advice, ...]:
    """Compile a planner-note table given as YAML text (tests); :class:`MatrixError` if bad."""
    return _compile(parse_yaml(text.encode("utf-8"), file, error=MatrixError), "notes")
