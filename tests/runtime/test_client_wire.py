"""Parsing what the server sends, encoding what the client sends."""

from __future__ import annotations

import json

import pytest

from selector.runtime.protocol.client_wire import (
    Ack,
    HeartbeatMessage,
    Malformed,
    Resync,
    ServerError,
    ServerEvent,
    encode_mutation,
    encode_mutation_post,
    is_valid_client_id,
    parse_server_message,
    retry_after_from_close_reason,
    server_message_from_sse,
)
from selector.runtime.protocol.outbox import OutgoingMutation
from selector.runtime.protocol.sse import SseDecoder, encode_event


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"id": 7, "event": "tick", "data": {"n": 1}}', ServerEvent(7, "tick", {"n": 1})),
        ('{"ack": 3, "status": "ok"}', Ack(3)),
        ('{"ack": 3, "status": "ok", "duplicate": true}', Ack(3, duplicate=True)),
        (
            '{"error": "INVALID_PAYLOAD", "detail": "seq missing"}',
            ServerError("INVALID_PAYLOAD", "seq missing"),
        ),
        (
            '{"event": "resync", "data": {"after": 2, "oldest": 10, "latest": 30}}',
            Resync(after=2, oldest=10, latest=30),
        ),
        ('{"event": "heartbeat", "data": {"t": 1234}}', HeartbeatMessage(1234)),
        (b'{"event": "heartbeat", "data": {}}', HeartbeatMessage(None)),
    ],
)
def test_each_contract_message_parses(raw: str | bytes, expected: object) -> None:
    assert parse_server_message(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '{"ack": true, "status": "ok"}',  # a bool is not a seq
        '{"ack": 1, "status": "failed"}',
        '{"id": "7", "event": "tick", "data": 1}',
        '{"event": "tick", "data": 1}',  # a stream event must carry an id
        '{"hello": 1}',
    ],
)
def test_anything_else_is_malformed_not_an_exception(raw: str) -> None:
    assert isinstance(parse_server_message(raw), Malformed)


def _decode(stream: bytes) -> list[object]:
    return [server_message_from_sse(e) for e in SseDecoder().feed(stream)]


def test_sse_events_map_to_the_same_messages_as_websocket_frames() -> None:
    stream = (
        encode_event('{"n":1}', event_id=5, event="tick")
        + encode_event('{"after":1,"oldest":4,"latest":5}', event="resync")
        + encode_event('{"n":2}', event_id=6, event="tick")
    )
    assert _decode(stream) == [
        ServerEvent(5, "tick", {"n": 1}),
        Resync(after=1, oldest=4, latest=5),  # no id line: not a repeat of event 5
        ServerEvent(6, "tick", {"n": 2}),
    ]


def test_sse_event_with_non_json_data_or_non_integer_id_is_malformed() -> None:
    assert isinstance(_decode(encode_event("{oops", event_id=1, event="x"))[0], Malformed)
    assert isinstance(_decode(encode_event("1", event_id="abc", event="x"))[0], Malformed)


def test_mutation_encodings_follow_the_contract() -> None:
    mutation = OutgoingMutation(4, "set", {"key": "a", "value": [1, "é"]})
    assert json.loads(encode_mutation(mutation)) == {
        "seq": 4,
        "op": "set",
        "data": {"key": "a", "value": [1, "é"]},
    }
    assert json.loads(encode_mutation_post("c-1", mutation)) == {
        "client_id": "c-1",
        "seq": 4,
        "op": "set",
        "data": {"key": "a", "value": [1, "é"]},
    }


@pytest.mark.parametrize(
    ("reason", "seconds"),
    [
        ("retry_after_ms=250", 0.25),
        ("server shutting down; retry_after_ms=1500", 1.5),
        ("retry_after_ms=0", 0.0),
        ("retry_after_ms=abc", None),
        ("xretry_after_ms=100", None),
        ("", None),
    ],
)
def test_retry_after_from_close_reason(reason: str, seconds: float | None) -> None:
    assert retry_after_from_close_reason(reason) == seconds


@pytest.mark.parametrize(
    ("client_id", "valid"),
    [
        ("a", True),
        ("user-1.tab:2_x", True),
        ("x" * 128, True),
        ("", False),
        ("x" * 129, False),
        ("a b", False),
        ("é", False),
        ("a/b", False),
    ],
)
def test_client_id_rule(client_id: str, valid: bool) -> None:
    assert is_valid_client_id(client_id) is valid
