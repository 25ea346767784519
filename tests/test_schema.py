"""The exported JSON Schema agrees with the pydantic models on a corpus of profiles."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from selector.profile import Profile
from selector.schemas import JSON_SCHEMA_DIALECT, profile_json_schema
from tests.conftest import PROFILES

SCHEMA = profile_json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

BASE: dict[str, Any] = {
    "schema_version": 1,
    "name": "base",
    "traffic": {"server_to_client": {"rate_hz": 1, "payload_bytes": 100}},
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    """BASE with the dotted ``path`` set to ``value`` (``...`` deletes it)."""
    doc = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return doc


BAD_CHANGES = [
    ("schema_version", 3),
    ("schema_version", "2"),
    ("traffic.client_to_server", {"rate_hz": 1, "payload_bytes": 9, "channel": "stream"}),
    ("infrastructure.hosting", "lambda"),
    ("schema_version", ...),
    ("name", "Not A Slug"),
    ("name", ...),
    ("extra", 1),
    ("traffic.server_to_client.rate_hz", "5"),
    ("traffic.server_to_client.rate_hz", -1),
    ("traffic.server_to_client.rate_hz", True),
    ("traffic.server_to_client.payload_bytes", 0),
    ("traffic.server_to_client.payload_bytes", 1.5),
    ("traffic.server_to_client.unknown", 1),
    ("traffic.encoding", "utf8"),
    ("traffic.client_to_server", {"rate_hz": 0, "payload_bytes": 1, "needs_ack": True}),
    ("traffic.client_to_server", {"rate_hz": 1}),
    ("delivery.guarantee", "exactly_once"),
    ("delivery.latency_p99_ms", 0),
    ("delivery.resume", "true"),
    ("media", "hologram"),
    ("topology", "mesh"),
    ("clients", []),
    ("clients", ["browser", "browser"]),
    ("clients", "browser"),
    ("auth", "basic"),
    ("scale.concurrent_connections", 0),
    ("scale.fan_out", "1"),
    ("infrastructure.path", [{"kind": "f5"}]),
    ("infrastructure.path", [{"idle_timeout_s": 5}]),
    ("infrastructure.path", [{"kind": "nginx", "idle_timeout_s": 0}]),
    ("infrastructure.timeout_control", "some"),
    ("infrastructure.http_version", 2),
    ("infrastructure.udp_allowed", 1),
]
GOOD_CHANGES = [
    ("description", None),
    ("description", "text"),
    ("traffic.server_to_client.rate_hz", 0.01),
    ("traffic.client_to_server", {"rate_hz": 0, "payload_bytes": 1}),
    ("traffic.client_to_server", {"rate_hz": 3, "payload_bytes": 9, "needs_ack": True}),
    ("traffic.encoding", "binary"),
    ("delivery.latency_p99_ms", 0.5),
    ("media", "audio_video"),
    ("clients", ["server", "mobile"]),
    ("auth", "query_token"),
    ("scale.concurrent_connections", 5_000_000),
    ("infrastructure.path", [{"kind": "other", "idle_timeout_s": 30, "controllable": True}]),
    ("infrastructure.http_version", "3"),
]
# Cross-field rules JSON Schema cannot express; pydantic alone enforces them (documented in
# selector.schemas.profile_json_schema).
PYDANTIC_ONLY = [
    ("scale", {"concurrent_connections": 5, "fan_out": 6}),
    ("traffic", {}),
]


def pydantic_accepts(doc: dict[str, Any]) -> bool:
    try:
        Profile.model_validate(doc)
    except ValidationError:
        return False
    return True


def schema_accepts(doc: dict[str, Any]) -> bool:
    return VALIDATOR.is_valid(doc)


def test_schema_declares_dialect_and_id() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == JSON_SCHEMA_DIALECT
    assert SCHEMA["$id"].startswith("https://")


@pytest.mark.parametrize(("path", "value"), GOOD_CHANGES)
def test_both_accept(path: str, value: Any) -> None:
    doc = with_change(path, value)
    assert pydantic_accepts(doc)
    assert schema_accepts(doc)


@pytest.mark.parametrize(("path", "value"), BAD_CHANGES)
def test_both_reject(path: str, value: Any) -> None:
    doc = with_change(path, value)
    assert not pydantic_accepts(doc)
    assert not schema_accepts(doc)


@pytest.mark.parametrize(("path", "value"), PYDANTIC_ONLY)
def test_cross_field_rules_are_pydantic_only(path: str, value: Any) -> None:
    doc = with_change(path, value)
    assert not pydantic_accepts(doc)
    assert schema_accepts(doc)


@pytest.mark.parametrize("path", sorted(PROFILES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_profiles_pass_both(path: Any) -> None:
    doc = yaml.safe_load(path.read_text())
    assert pydantic_accepts(doc)
    assert schema_accepts(doc)
