"""JSON rendering: the stable machine format (schema: ``docs/recommendation.schema.json``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel

__all__ = ["dumps", "join_json_items", "json_item", "render_json"]


def dumps(data: Any) -> str:
    """Indented JSON with the model's field order (orjson: fast for batches)."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def render_json(models: Sequence[BaseModel], *, as_list: bool) -> str:
    """One object, or a list of objects when ``as_list`` (several inputs were given)."""
    dumped = [m.model_dump(mode="json") for m in models]
    return dumps(dumped if as_list else dumped[0])


def json_item(model: BaseModel, *, as_list: bool) -> bytes:
    """``model`` as UTF-8 JSON, ready for :func:`join_json_items`: rendered one at a time, a
    batch need not keep every model until the end. When ``as_list``, indented one level as
    an item of the list (a JSON text holds no raw newline but between tokens)."""
    text = orjson.dumps(model.model_dump(mode="json"), option=orjson.OPT_INDENT_2)
    return text.replace(b"\n", b"\n  ") if as_list else text


def join_json_items(items: Sequence[bytes], *, as_list: bool) -> bytes:
    """The bytes of ``render_json`` for the models that ``items`` came from."""
    if not as_list:
        (only,) = items
        return only
    if not items:
        return b"[]"
    return b"[\n  " + b",\n  ".join(items) + b"\n]"
