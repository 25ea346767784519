"""Envelope parsing and the pre-encoded replies of the wire contract."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selector.runtime.protocol.envelope import (
    EnvelopeError,
    encode_ack,
    encode_error,
    encode_event,
    encode_heartbeat,
    encode_resync,
    is_valid_client_id,
    parse_http_mutation,
    parse_last_event_id,
    parse_publish,
    parse_ws_mutation,
)
from selector.runtime.protocol.sse import encode_event as encode_sse_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
names = st.text(min_size=1, max_size=40).filter(lambda s: not any(c in s for c in "\r\n\0"))


def test_ws_mutation_reads_seq_op_and_data() -> None:
    mutation = parse_ws_mutation(b'{"seq": 7, "op": "set", "data": {"key": "a", "value": 1}}', "c1")
    assert (mutation.client_id, mutation.seq, mutation.op) == ("c1", 7, "set")
    assert mutation.data == {"key": "a", "value": 1}


def test_ws_mutation_ignores_a_client_id_in_the_body() -> None:
    assert parse_ws_mutation('{"seq": 1, "op": "x", "client_id": "other"}', "c1").client_id == "c1"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"not json", "invalid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"op": "set"}', "seq must be an integer"),
        (b'{"seq": true, "op": "set"}', "seq must be an integer"),
        (b'{"seq": 1.5, "op": "set"}', "seq must be an integer"),
        (b'{"seq": 0, "op": "set"}', "between 1"),
        (b'{"seq": 9007199254740992, "op": "set"}', "between 1"),
        (b'{"seq": 1}', "op must be a non-empty string"),
        (b'{"seq": 1, "op": ""}', "op must be a non-empty string"),
        (b'{"seq": 1, "op": "a\\nb"}', "CR, LF or NUL"),
        ('{"seq": 1, "op": "%s"}' % ("x" * 129), "longer than"),
        (b'{"seq": 1, "op": "ok"}\xff', "invalid JSON"),
    ],
)
def test_bad_ws_mutations_are_refused_with_a_reason(raw: bytes | str, fragment: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_ws_mutation(raw, "c1")
    assert fragment in caught.value.detail


def test_an_error_keeps_the_seq_when_it_was_readable() -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_ws_mutation(b'{"seq": 5, "op": 3}', "c1")
    assert caught.value.seq == 5
    assert json.loads(encode_error(caught.value.detail, caught.value.seq)) == {
        "error": "INVALID_PAYLOAD",
        "detail": "op must be a non-empty string",
        "seq": 5,
    }


def test_http_mutation_needs_a_valid_client_id() -> None:
    ok = parse_http_mutation(b'{"client_id": "u-1.a:b_c", "seq": 2, "op": "incr"}')
    assert ok.client_id == "u-1.a:b_c"
    for body in (b'{"seq": 2, "op": "incr"}', b'{"client_id": "a b", "seq": 2, "op": "incr"}'):
        with pytest.raises(EnvelopeError, match="client_id"):
            parse_http_mutation(body)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        *[("a", True), ("A.b-c_d:9", True), ("x" * 128, True), ("", False), ("x" * 129, False)],
        *[("a b", False), ("é", False), ("a/b", False), (None, False)],
    ],
)
def test_client_id_rule(value: str | None, valid: bool) -> None:
    assert is_valid_client_id(value) is valid


def test_publish_refuses_reserved_names() -> None:
    assert parse_publish(b'{"event": "tick", "data": [1]}').data == [1]
    for name in ("heartbeat", "resync"):
        with pytest.raises(EnvelopeError, match="reserved"):
            parse_publish(json.dumps({"event": name}))


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), ("0", 0), ("42", 42)])
def test_last_event_id(raw: str | None, expected: int | None) -> None:
    assert parse_last_event_id(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "abc", "1.0", "٣", "1" * 17])
def test_bad_last_event_id(raw: str) -> None:
    with pytest.raises(EnvelopeError):
        parse_last_event_id(raw)


@given(seq=st.integers(1, 2**53 - 1), duplicate=st.booleans())
def test_ack_is_the_contracts_json(seq: int, duplicate: bool) -> None:
    expected = {"ack": seq, "status": "ok"} | ({"duplicate": True} if duplicate else {})
    assert json.loads(encode_ack(seq, duplicate=duplicate)) == expected


@given(event_id=st.integers(1, 2**53 - 1), name=names, data=json_values)
def test_event_encodings_carry_the_same_event(event_id: int, name: str, data: object) -> None:
    import orjson

    encoded = encode_event(event_id, name, orjson.dumps(data))
    assert json.loads(encoded.ws_frame) == {"id": event_id, "event": name, "data": data}
    lines = encoded.sse_frame.decode().split("\n")
    # id, event, exactly one data line, then the blank line that dispatches the event
    assert lines[:2] == [f"id: {event_id}", f"event: {name}"]
    assert lines[2].startswith("data: ") and lines[3:] == ["", ""]
    assert json.loads(lines[2][len("data: ") :]) == data


@given(
    event_id=st.integers(1, 2**53 - 1),
    name=st.text(min_size=1, max_size=20).filter(lambda s: not any(c in s for c in "\r\n")),
    data=json_values,
    pretty=st.booleans(),
)
def test_sse_block_is_the_general_encoders(
    event_id: int, name: str, data: object, pretty: bool
) -> None:
    """The one-line block encode_event writes out itself is byte for byte what the general
    SSE encoder makes, and JSON with raw line breaks still becomes one data line per line."""
    import orjson

    data_json = orjson.dumps(data, option=orjson.OPT_INDENT_2 if pretty else 0)
    expected = encode_sse_event(data_json.decode(), event_id=event_id, event=name)
    assert encode_event(event_id, name, data_json).sse_frame == expected


@pytest.mark.parametrize("name", ["a\nb", "a\rb"])
def test_event_name_with_a_line_break_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="event name"):
        encode_event(1, name, b"null")


def test_resync_and_heartbeat_have_no_id() -> None:
    ws_frame, sse_frame = encode_resync(3, 10, 20)
    assert json.loads(ws_frame) == {
        "event": "resync",
        "data": {"after": 3, "oldest": 10, "latest": 20},
    }
    assert sse_frame == b'event: resync\ndata: {"after":3,"oldest":10,"latest":20}\n\n'
    assert json.loads(encode_heartbeat(1234)) == {"event": "heartbeat", "data": {"t": 1234}}
