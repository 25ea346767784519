"""JSON rendering: the stable machine format (schema: ``docs/recommendation.schema.json``)."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence

import orjson
from pydantic import BaseModel

from selector.jsonvalue import JsonValue

__all__ = ["dumps", "join_json_items", "json_item", "render_json"]


def dumps(data: JsonValue) -> str:
    """Indented JSON with the model's field order (orjson: fast for batches)."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def render_json(models: Sequence[BaseModel], *, as_list: bool) -> str:
    """One object, or a list of objects when ``as_list`` (several inputs were given)."""
    dumped: list[JsonValue] = [m.model_dump(mode="json") for m in models]
    return dumps(dumped if as_list else dumped[0])


#: What a model's ``__dict__`` must hold for orjson to write what ``model_dump(mode="json")``
#: gives, by model class: its number of fields, and for each field declared with int or float
#: the classes its value may have (``model_dump`` writes 1 in a float field as 1.0 and True in
#: an int field as 1). Plain tuples: the checks run for every model written.
_Checks = tuple[int, tuple[tuple[str, frozenset[type]], ...]]
_CHECKS: dict[type, _Checks] = {}
#: Classes whose fields the fast path cannot vouch for.
_REFUSED: set[type] = set()
_NUMBERS = frozenset({int, float})


def _scalar_classes(annotation: object) -> frozenset[type] | None:
    """The classes a value of a field may have so that ``model_dump`` passes it through as
    it is, or ``None`` when the annotation is more than plain scalars, models, and lists or
    tuples of strings and models (a list of floats would need every item checked)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [_scalar_classes(arg) for arg in typing.get_args(annotation)]
        if any(m is None for m in members):
            return None
        return frozenset().union(*typing.cast(list[frozenset[type]], members))
    if origin is typing.Literal:
        return frozenset(type(arg) for arg in typing.get_args(annotation))
    if origin in (list, tuple):
        items = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if all(a is str or _is_model(a) for a in items):
            return frozenset({origin})
        return None
    if annotation is None or annotation is type(None):
        return frozenset({type(None)})
    if isinstance(annotation, type) and (
        annotation in (str, bool, int, float) or issubclass(annotation, BaseModel)
    ):
        return frozenset({annotation})
    return None


def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _checks(cls: type) -> _Checks:
    """The checks of a model class the fast path has not met yet; TypeError for a class it
    cannot vouch for (not a model, or one that customises its serialisation)."""
    if cls in _REFUSED or not _is_model(cls):
        raise TypeError(cls)
    model = typing.cast(type[BaseModel], cls)
    decorators = model.__pydantic_decorators__
    custom = bool(
        model.model_computed_fields or decorators.field_serializers or decorators.model_serializers
    )
    numbers: list[tuple[str, frozenset[type]]] = []
    for name, info in model.model_fields.items():
        allowed = _scalar_classes(info.annotation)
        if allowed is None or info.exclude or info.serialization_alias:
            custom = True
        elif allowed & _NUMBERS and not allowed >= {bool, int, float}:
            # A union of bool, int and float keeps each value's class (``model_dump`` picks
            # the member of the value's exact class): no check needed.
            numbers.append((name, allowed))
    if custom:
        _REFUSED.add(cls)
        raise TypeError(cls)
    checks = _CHECKS[cls] = (len(model.model_fields), tuple(numbers))
    return checks


def _fields_of(model: object) -> dict[str, object]:
    """orjson's ``default``: a model's own ``__dict__``, when writing it gives the bytes that
    ``model_dump(mode="json")`` would; otherwise TypeError, and :func:`_dump` falls back.

    Kept to a length test and a loop over the number fields: comparing the key set as well,
    or the loop written with ``zip`` or ``map``, cost 1,900 to 5,000 more instructions a model
    (about 24 models a recommendation; callgrind).
    """
    cls = model.__class__
    count, numbers = _CHECKS.get(cls) or _checks(cls)
    fields: dict[str, object] = model.__dict__
    if len(fields) != count:
        raise TypeError(cls)
    for name, allowed in numbers:
        if fields[name].__class__ not in allowed:
            raise TypeError(cls)
    return fields


#: Anything orjson would write on its own in a way ``model_dump(mode="json")`` might not
#: (dataclasses, dates, subclasses of str, int, dict and list) goes to ``_fields_of``, which
#: refuses it.
_FAST_OPTIONS = (
    orjson.OPT_INDENT_2
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _dump(value: BaseModel | list[BaseModel]) -> bytes:
    """``value`` as indented JSON, the bytes of ``orjson.dumps(model_dump(mode="json"))``.

    orjson writes each model's ``__dict__`` as it finds it (:func:`_fields_of`) instead of
    ``model_dump`` first copying the whole tree into new dicts and lists: 278,000 -> 151,000
    instructions for a recommendation of the bench's 1,000 files, the checks included (84,000
    without them; callgrind).
    """
    try:
        return orjson.dumps(value, default=_fields_of, option=_FAST_OPTIONS)
    except orjson.JSONEncodeError:
        if isinstance(value, list):
            return orjson.dumps(
                [m.model_dump(mode="json") for m in value], option=orjson.OPT_INDENT_2
            )
        return orjson.dumps(value.model_dump(mode="json"), option=orjson.OPT_INDENT_2)


def json_item(model: BaseModel, *, as_list: bool) -> bytes:
    """``model`` as UTF-8 JSON, ready for :func:`join_json_items`: rendered one at a time, a
    batch need not keep every model until the end. When ``as_list``, indented one level as
    an item of the list: written as the only item of a list, less the list's ``[\\n  `` and
    ``\\n]`` (replacing every newline with a newline and two spaces cost 32,000 instructions
    a recommendation, callgrind)."""
    if as_list:
        return _dump([model])[4:-2]
    return _dump(model)


def join_json_items(items: Sequence[bytes], *, as_list: bool) -> bytes:
    """The bytes of ``render_json`` for the models that ``items`` came from."""
    if not as_list:
        (only,) = items
        return only
    if not items:
        return b"[]"
    # One join over the items and their separators: joining the items and then adding the
    # brackets copied the whole output (10 MB for the bench's 1,000 files) twice more. With
    # the newline written apart (recommend.py), that batch went from 19,235 to 11,848 minor
    # page faults and from 70 to 60 MB peak RSS (/usr/bin/time).
    parts = [b",\n  "] * (2 * len(items) + 1)
    parts[0] = b"[\n  "
    parts[1::2] = items
    parts[-1] = b"\n]"
    return b"".join(parts)
