"""Public API of the engine, layering of its pure modules, and the condition vocabulary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import selector
from selector.engine.recommendation import RankedProtocol, RuleHit, TippingPoint, trusted
from selector.rules.conditions import (
    AllOf,
    AnyOf,
    Compare,
    Not,
    compile_condition,
    describe,
    numeric_thresholds,
    predicate,
)
from selector.rules.facts import FACTS

ROOT = Path(__file__).resolve().parent.parent / "selector"


def test_public_api_exports_the_engine() -> None:
    assert set(selector.__all__) == {*selector._EXPORTS, "__version__"}
    for name in ("recommend", "Recommendation", "load_matrix", "Matrix"):
        assert name in selector.__all__
    profile = selector.load_profile_text(
        "schema_version: 1\nname: api\n"
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 9}}\n"
    )
    rec = selector.recommend(profile)
    assert isinstance(rec, selector.Recommendation)
    again = selector.Recommendation.model_validate_json(rec.model_dump_json())
    assert again == rec


def test_answers_share_a_provenance_no_caller_can_change() -> None:
    # Built once per matrix and shared between answers: its overlays must not be mutable.
    profile = selector.load_profile_text(
        "schema_version: 1\nname: api\n"
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 9}}\n"
    )
    first, second = selector.recommend(profile), selector.recommend(profile)
    assert first.provenance is second.provenance
    assert isinstance(first.provenance.overlays, tuple)
    assert '"overlays":[]' in first.model_dump_json()


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (RankedProtocol, {"protocol": "sse", "score": 1.5, "vetoed": False, "veto_reasons": []}),
        (
            RuleHit,
            {
                "rule": "r",
                "title": "t",
                "protocol": "webrtc",
                "effect": "veto",
                "delta": 0.0,
                "reason": "x",
                "refs": ["https://example.com"],
                "grade": None,
            },
        ),
        (
            TippingPoint,
            {
                "field": "media",
                "change": "set",
                "current": "none",
                "value": "audio",
                "protocol": None,
                "description": "d",
            },
        ),
    ],
)
def test_trusted_construction_equals_validation(cls: Any, values: dict[str, Any]) -> None:
    built = trusted(cls, **dict(values))
    assert built == cls.model_validate(values)
    assert built.model_dump() == cls.model_validate(values).model_dump()
    assert built.model_dump_json() == cls.model_validate(values).model_dump_json()


FACTS_OF_EXAMPLE = {
    "traffic.client_to_server.rate_hz": 12.0,
    "media": "audio",
    "clients": frozenset({"browser", "mobile"}),
    "infrastructure.udp_allowed": False,
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"fact": "traffic.client_to_server.rate_hz", "gt": 10}, True),
        ({"fact": "traffic.client_to_server.rate_hz", "gt": 12}, False),
        ({"fact": "traffic.client_to_server.rate_hz", "ge": 12}, True),
        ({"fact": "traffic.client_to_server.rate_hz", "lt": 12}, False),
        ({"fact": "traffic.client_to_server.rate_hz", "le": 12}, True),
        ({"fact": "traffic.client_to_server.rate_hz", "in": [1, 12]}, True),
        ({"fact": "traffic.client_to_server.rate_hz", "not_in": [1, 12]}, False),
        ({"fact": "media", "eq": "audio"}, True),
        ({"fact": "media", "ne": "audio"}, False),
        ({"fact": "media", "in": ["video", "audio_video"]}, False),
        ({"fact": "clients", "contains": "mobile"}, True),
        ({"fact": "clients", "contains": "server"}, False),
        ({"fact": "clients", "contains_any": ["server", "browser"]}, True),
        ({"fact": "clients", "only": ["browser"]}, False),
        ({"fact": "clients", "only": ["browser", "mobile", "server"]}, True),
        ({"fact": "infrastructure.udp_allowed", "eq": False}, True),
        (
            {"all": [{"fact": "media", "eq": "audio"}, {"fact": "clients", "contains": "mobile"}]},
            True,
        ),
        (
            {"all": [{"fact": "media", "eq": "audio"}, {"fact": "clients", "contains": "server"}]},
            False,
        ),
        (
            {"any": [{"fact": "media", "eq": "video"}, {"fact": "clients", "contains": "server"}]},
            False,
        ),
        ({"any": [{"fact": "media", "eq": "video"}, {"fact": "media", "eq": "audio"}]}, True),
        ({"not": {"fact": "media", "eq": "audio"}}, False),
        ({"all": []}, True),
        ({"any": []}, False),
    ],
)
def test_condition_vocabulary(data: dict[str, Any], expected: bool) -> None:
    problems: list[str] = []
    condition = compile_condition(data, ("when",), lambda loc, msg: problems.append(msg))
    assert problems == [] and condition is not None
    facts = {**dict.fromkeys(FACTS, 0), **FACTS_OF_EXAMPLE}
    assert predicate(condition)(facts) is expected


def test_describe_and_thresholds() -> None:
    condition = AllOf(
        (
            Compare("traffic.client_to_server.rate_hz", "gt", 10),
            AnyOf(
                (
                    Compare("media", "eq", "audio"),
                    Not(Compare("delivery.latency_p99_ms", "le", 100)),
                )
            ),
        )
    )
    assert describe(condition) == (
        "traffic.client_to_server.rate_hz > 10 and "
        "(media == audio or not (delivery.latency_p99_ms <= 100))"
    )
    assert numeric_thresholds(condition) == {
        "traffic.client_to_server.rate_hz": {10.0: frozenset({"gt"})},
        "delivery.latency_p99_ms": {100.0: frozenset({"le"})},
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"fact": "media", "eq": "radio"}, "'radio' is not one of"),
        ({"fact": "clients", "eq": "browser"}, "operator 'eq' does not apply to set fact"),
        ({"fact": "infrastructure.udp_allowed", "eq": "yes"}, "expected true or false"),
        ({"fact": "media", "in": "audio"}, "'in' takes a list of values"),
        ({"fact": "scale.fan_out", "gt": True}, "expected a number"),
    ],
)
def test_condition_problems(data: dict[str, Any], message: str) -> None:
    problems: list[str] = []
    assert compile_condition(data, ("when",), lambda loc, msg: problems.append(msg)) is None
    assert message in problems[0]


def test_the_core_is_handed_its_matrix_and_the_public_name_fills_in_the_built_in_one() -> None:
    """selector.recommend is the engine's recommend with the built-in matrix: same answer,
    companions and plan; the engine itself has no default, so it never reads package data."""
    import inspect

    from selector.engine.recommend import recommend as engine_recommend
    from selector.rules.loading import default_matrix

    assert (
        inspect.signature(engine_recommend).parameters["matrix"].default is inspect.Parameter.empty
    )
    profile = selector.load_profile(Path(__file__).resolve().parent.parent / "profiles/chat.yaml")
    public = selector.recommend(profile)
    core = engine_recommend(profile, default_matrix())
    assert public.model_dump_json() == core.model_dump_json()
    assert public.companions and public.plan is not None and public.plan.notes
    # A matrix without the advice tables gives an answer without companions or table notes:
    # the engine reads them from the matrix it is handed, not from anywhere else.
    bare = selector.Matrix(default_matrix().rules, sha256=default_matrix().sha256, sources=())
    stripped = engine_recommend(profile, bare)
    assert stripped.protocol == public.protocol
    assert stripped.companions == [] and stripped.plan is not None
    table_notes = {row.id for row in default_matrix().notes}
    assert set(public.plan.note_ids) & table_notes
    assert not set(stripped.plan.note_ids) & table_notes
