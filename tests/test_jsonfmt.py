"""The JSON of ``selector recommend``: the fast writer gives ``model_dump``'s bytes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from pydantic import BaseModel, field_serializer

from selector.builtin import recommend
from selector.engine.recommendation import Bandwidth, RankedProtocol, Recommendation, trusted
from selector.loading import expand_paths, load_profile
from selector.render.jsonfmt import join_json_items, json_item, render_json

ROOT = Path(__file__).resolve().parent.parent


def _reference(model: BaseModel, *, as_list: bool) -> bytes:
    text = orjson.dumps(model.model_dump(mode="json"), option=orjson.OPT_INDENT_2)
    return text.replace(b"\n", b"\n  ") if as_list else text


@pytest.fixture(scope="module")
def recommendations() -> list[Recommendation]:
    paths = expand_paths([ROOT / "profiles", ROOT / "tests" / "corpus"])
    return [recommend(load_profile(p)) for p in paths]


def test_every_profile_is_written_as_model_dump_writes_it(
    recommendations: list[Recommendation],
) -> None:
    for rec in recommendations:
        for as_list in (False, True):
            assert json_item(rec, as_list=as_list) == _reference(rec, as_list=as_list)
    items = [json_item(rec, as_list=True) for rec in recommendations[:3]]
    joined = join_json_items(items, as_list=True).decode()
    assert joined == render_json(recommendations[:3], as_list=True)


def test_numbers_model_dump_would_convert_take_the_slow_path(
    recommendations: list[Recommendation],
) -> None:
    rec = recommendations[0]
    # model_dump writes an int in a float field as a float, True in an int field as 1.
    ranked = trusted(RankedProtocol, **{**rec.ranking[0].__dict__, "score": 3})
    bandwidth = trusted(Bandwidth, **{**rec.bandwidth[0].__dict__, "downstream_bytes_per_s": True})
    changed = trusted(
        Recommendation, **{**rec.__dict__, "ranking": [ranked], "bandwidth": [bandwidth]}
    )
    for as_list in (False, True):
        assert json_item(changed, as_list=as_list) == _reference(changed, as_list=as_list)
    assert b'"score": 3.0' in json_item(changed, as_list=False)


def test_models_with_their_own_serialisation_take_the_slow_path() -> None:
    class Custom(BaseModel):
        name: str
        sizes: list[float]

        @field_serializer("name")
        def _upper(self, name: str) -> str:
            return name.upper()

    class Floats(BaseModel):
        sizes: list[float]

    custom = Custom.model_construct(name="x", sizes=[1])
    floats = Floats.model_construct(sizes=[1, 2.5])
    for model in (custom, floats):
        for as_list in (False, True):
            assert json_item(model, as_list=as_list) == _reference(model, as_list=as_list)
    assert b'"X"' in json_item(custom, as_list=False)
    assert b"1.0" in json_item(floats, as_list=False)
