"""JSON rendering: the stable machine format (schema: ``docs/recommendation.schema.json``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel

__all__ = ["dumps", "render_json"]


def dumps(data: Any) -> str:
    """Indented JSON with the model's field order (orjson: fast for batches)."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def render_json(models: Sequence[BaseModel], *, as_list: bool) -> str:
    """One object, or a list of objects when ``as_list`` (several inputs were given)."""
    dumped = [m.model_dump(mode="json") for m in models]
    return dumps(dumped if as_list else dumped[0])
