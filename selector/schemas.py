"""JSON Schemas exported for editors, CI and tooling, generated from the pydantic models."""

from __future__ import annotations

from selector.jsonvalue import JsonObject
from selector.profile import SCHEMA_ID, Profile

__all__ = ["JSON_SCHEMA_DIALECT", "profile_json_schema"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def profile_json_schema() -> JsonObject:
    """The JSON Schema (draft 2020-12) of the workload profile, as ``selector schema`` prints.

    Cross-field checks that JSON Schema cannot express (``scale.fan_out`` at most
    ``scale.concurrent_connections``; a profile must carry some traffic or media) are enforced
    by :class:`selector.Profile` only.
    """
    schema = Profile.model_json_schema()
    ordered: JsonObject = {"$schema": JSON_SCHEMA_DIALECT, "$id": SCHEMA_ID}
    ordered.update({k: v for k, v in schema.items() if k != "$id"})
    return ordered
