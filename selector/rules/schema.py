"""JSON Schemas (draft 2020-12) of the rules matrix file and of org overlay files.

Built from the condition vocabulary and the protocol list, so the schema cannot drift from
what the compiler accepts. The schema checks structure; :mod:`selector.rules.loading` then
checks meaning (known facts, operators that fit the fact, values among its choices).
"""

from __future__ import annotations

from selector.jsonvalue import JsonObject
from selector.protocols import PROTOCOLS
from selector.rules.conditions import ALL_OPERATORS
from selector.rules.subjects import EVIDENCE, SUBJECTS

__all__ = ["MATRIX_SCHEMA_ID", "OVERLAY_SCHEMA_ID", "matrix_schema", "overlay_schema"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MATRIX_SCHEMA_ID = "https://selector.dev/schemas/matrix-v1.json"
OVERLAY_SCHEMA_ID = "https://selector.dev/schemas/matrix-overlay-v1.json"
RULE_ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
#: Most bands a graded effect may declare: a handful of steps a reader can check, not a curve.
MAX_BANDS = 6


def _defs() -> JsonObject:
    condition_properties: JsonObject = {
        "fact": {"type": "string", "description": "A fact name (`selector rules --facts`)."},
        "measure": {
            "type": "string",
            "description": "A measure name (`selector rules --facts`), compared with gt/ge/lt/le.",
        },
        "all": {"type": "array", "items": {"$ref": "#/$defs/condition"}},
        "any": {"type": "array", "items": {"$ref": "#/$defs/condition"}},
        "not": {"$ref": "#/$defs/condition"},
    }
    for op in ALL_OPERATORS:
        condition_properties[op] = {"description": f"Compare the fact with this constant ({op})."}
    return {
        "rule": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "title", "when", "effects", "rationale", "refs"],
            "properties": {
                "id": {
                    "type": "string",
                    "pattern": RULE_ID_PATTERN,
                    "description": "Stable kebab-case id.",
                },
                "title": {"type": "string", "minLength": 1},
                "when": {"$ref": "#/$defs/condition"},
                "effects": {
                    "type": "object",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "properties": {p: {"$ref": "#/$defs/effect"} for p in PROTOCOLS},
                },
                "rationale": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Why, quoting the profile with {fact.name} placeholders.",
                },
                "applies_to": {
                    "type": "array",
                    "uniqueItems": True,
                    "items": {"enum": list(SUBJECTS)},
                    "description": (
                        "Subjects that must be present for the rule to apply "
                        "(`selector rules --subjects`); omitted: every profile."
                    ),
                },
                "evidence": {
                    "enum": list(EVIDENCE),
                    "description": "The `selector verify` experiment that measures the claim.",
                },
                "refs": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "pattern": "^https?://"},
                },
            },
        },
        "effect": {
            "description": (
                "A non-zero score delta, 'veto' (the protocol cannot win), or a graded delta: "
                "{measure: NAME, bands: [{delta: D}, {from: X, delta: D}, ...]}."
            ),
            "anyOf": [
                {"type": "number", "not": {"const": 0}},
                {"const": "veto"},
                {"$ref": "#/$defs/graded"},
            ],
        },
        "graded": {
            "description": (
                "An effect size read from a measure: the first band applies below the second "
                "band's `from`, each later band from its `from` (inclusive) on; `from` rises."
            ),
            "type": "object",
            "additionalProperties": False,
            "required": ["measure", "bands"],
            "properties": {
                "measure": {"type": "string", "description": "A measure name."},
                "bands": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": MAX_BANDS,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["delta"],
                        "properties": {
                            "from": {"type": "number"},
                            "delta": {"type": "number", "not": {"const": 0}},
                        },
                    },
                },
            },
        },
        "condition": {
            "description": (
                "{fact: NAME, OP: VALUE} or {measure: NAME, OP: VALUE} with OP one of "
                + ", ".join(ALL_OPERATORS)
                + "; or {all: [...]}, {any: [...]}, {not: {...}}."
            ),
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": condition_properties,
        },
    }


def matrix_schema() -> JsonObject:
    """Schema of ``selector/rules/matrix.yaml``."""
    return {
        "$schema": _DIALECT,
        "$id": MATRIX_SCHEMA_ID,
        "title": "selector rules matrix v1",
        "type": "object",
        "additionalProperties": False,
        "required": ["matrix_version", "rules"],
        "properties": {
            "matrix_version": {"const": 1},
            "rules": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/rule"}},
        },
        "$defs": _defs(),
    }


def overlay_schema() -> JsonObject:
    """Schema of an org overlay (``--matrix FILE``): extends the default matrix."""
    return {
        "$schema": _DIALECT,
        "$id": OVERLAY_SCHEMA_ID,
        "title": "selector rules matrix overlay v1",
        "type": "object",
        "additionalProperties": False,
        "required": ["overlay_version"],
        "properties": {
            "overlay_version": {"const": 1},
            "disable": {
                "description": "Ids of rules to switch off.",
                "type": "array",
                "uniqueItems": True,
                "items": {"type": "string"},
            },
            "weights": {
                "description": "Rule id -> factor multiplying its score deltas (vetoes stay).",
                "type": "object",
                "additionalProperties": {"type": "number", "minimum": 0},
            },
            "rules": {
                "description": "Rules to add; ids must not clash with existing ones.",
                "type": "array",
                "items": {"$ref": "#/$defs/rule"},
            },
            "forbid": {
                "description": "Protocol -> reason: veto the protocol for every profile.",
                "type": "object",
                "additionalProperties": False,
                "properties": {p: {"type": "string", "minLength": 1} for p in PROTOCOLS},
            },
        },
        "$defs": _defs(),
    }
