"""The type of JSON data: what ``orjson.loads`` returns and what the JSON renderers accept.

One recursive alias, so a parsed envelope, a generated schema and a ``--format json`` document
are typed the same way, and a reader narrows a value with ``isinstance`` before using it.
"""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["JsonObject", "JsonValue"]

#: Any JSON value.
JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
#: A JSON object, the shape of every message and document the tool reads or writes.
JsonObject: TypeAlias = "dict[str, JsonValue]"
