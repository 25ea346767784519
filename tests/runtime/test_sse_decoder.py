"""The incremental SSE decoder against the WHATWG parsing rules.

Cases are derived from the spec text and from the behaviours exercised by the
web-platform-tests ``eventsource/format-*`` cases and the ``eventsource-parser`` fixtures,
re-expressed as (stream bytes -> events) data. Each case runs whole and byte by byte.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selector.runtime.protocol.sse import (
    SseDecoder,
    SseEvent,
    SseLimitError,
    encode_comment,
    encode_event,
    encode_retry,
)

LONG = "x" * 2048

# (case id, stream, expected events as (event type, data, last event id))
CASES: list[tuple[str, bytes, list[tuple[str, str, str]]]] = [
    ("simple", b"data: hello\n\n", [("message", "hello", "")]),
    ("multi-line data joined with LF", b"data: a\ndata: b\n\n", [("message", "a\nb", "")]),
    ("CR line ends", b"data:a\rdata:b\r\r", [("message", "a\nb", "")]),
    ("CRLF line ends", b"data:a\r\ndata:b\r\n\r\n", [("message", "a\nb", "")]),
    (
        "mixed line ends, field without colon appends an empty line",
        b"data:test\r\ndata\ndata:test\r\n\r",
        [("message", "test\n\ntest", "")],
    ),
    (
        "field names are case-sensitive and exact; NUL is data",
        (
            b"data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\n"
            b"data:3\rdata:\r\n data:32\ndata:4\n\n"
        ),
        [("message", "\0\n 2\n1\n3\n\n4", "")],
    ),
    (
        "comments anywhere, with any line end, never dispatch",
        (f"data:1\r:\0\n:\r\ndata:2\n:{LONG}\rdata:3\n:data:fail\r:{LONG}\ndata:4\n\n").encode(),
        [("message", "1\n2\n3\n4", "")],
    ),
    ("one leading BOM is stripped", b"\xef\xbb\xbfdata:1\n\n", [("message", "1", "")]),
    (
        "a second BOM is part of the first field name",
        b"\xef\xbb\xbf\xef\xbb\xbfdata:1\n\ndata:2\n\ndata:3\n\n",
        [("message", "2", ""), ("message", "3", "")],
    ),
    (
        "a BOM later in the stream is not stripped",
        b"data:1\n\n\xef\xbb\xbfdata:2\n\ndata:3\n\n",
        [("message", "1", ""), ("message", "3", "")],
    ),
    ("NUL in data is kept", b"data:\x00\n\n", [("message", "\x00", "")]),
    (
        "id with NUL is ignored, the previous id survives",
        b"id: 123\nid: bad\x00id\ndata: hello\n\n",
        [("message", "hello", "123")],
    ),
    (
        "last event id persists across events",
        b"id: 1\ndata: a\n\ndata: b\n\n",
        [("message", "a", "1"), ("message", "b", "1")],
    ),
    (
        "an empty id resets the last event id",
        b"id: 1\ndata:a\n\nid\ndata:b\n\n",
        [("message", "a", "1"), ("message", "b", "")],
    ),
    (
        "an id in a block without data applies to later events",
        b"id: 42\n\ndata: x\n\n",
        [("message", "x", "42")],
    ),
    ("event name", b"event: tick\ndata: x\n\n", [("tick", "x", "")]),
    ("empty event name means message", b"event:\ndata:x\n\n", [("message", "x", "")]),
    (
        "event name does not persist",
        b"event: a\ndata:1\n\ndata:2\n\n",
        [("a", "1", ""), ("message", "2", "")],
    ),
    ("empty data line dispatches an empty event", b"data:\n\n", [("message", "", "")]),
    ("two data lines without colon", b"data\ndata\n\n", [("message", "\n", "")]),
    ("a block without data dispatches nothing", b"event: x\nid: 7\n\n", []),
    ("no blank line, no dispatch", b"data: 1\n", []),
    ("no line end at all, no dispatch", b"data: 1", []),
    ("only one leading space is removed", b"data:  two\n\n", [("message", " two", "")]),
    ("no space after the colon", b"data:x\n\n", [("message", "x", "")]),
    ("colon in the value is kept", b"data: a:b: c\n\n", [("message", "a:b: c", "")]),
    ("unknown fields are ignored", b"foo: bar\nretr: 1\ndata: x\n\n", [("message", "x", "")]),
    ("UTF-8 text", "data: 我現在都看實況\n\n".encode(), [("message", "我現在都看實況", "")]),
    ("invalid UTF-8 is replaced", b"data: \xff!\n\n", [("message", "\ufffd!", "")]),
    ("CR CR is a line end then a blank line", b"data: A\r\r", [("message", "A", "")]),
    (
        "vertical tab and U+2028 are not line ends",
        "data: a\x0bb\u2028c\n\n".encode(),
        [("message", "a\x0bb\u2028c", "")],
    ),
]

# (case id, stream, expected retry_ms)
RETRY_CASES: list[tuple[str, bytes, int | None]] = [
    ("digits", b"retry: 3000\n\n", 3000),
    ("leading zeros are decimal", b"retry: 03000\n\n", 3000),
    ("trailing garbage ignored, previous kept", b"retry: 3000\nretry: 1000x\n\n", 3000),
    ("empty value ignored", b"retry\nretry:\n\n", None),
    ("negative ignored", b"retry: -1\n\n", None),
    ("fraction ignored", b"retry: 1.5\n\n", None),
    ("non-ASCII digits ignored", "retry: ３\n\n".encode(), None),
    ("two spaces: the value starts with a space", b"retry:  10\n\n", None),
    ("applies without a blank line", b"retry: 10\n", 10),
    ("thousands of digits are clamped, not a crash", b"retry: " + b"9" * 5000 + b"\n", 10**12),
]


def _as_tuples(events: list[SseEvent]) -> list[tuple[str, str, str]]:
    return [(e.event, e.data, e.last_event_id) for e in events]


def _feed_all(chunks: list[bytes]) -> tuple[list[SseEvent], SseDecoder]:
    decoder = SseDecoder()
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events, decoder


def _bytewise(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


@pytest.mark.parametrize(("stream", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_spec_cases_whole_and_byte_by_byte(
    stream: bytes, expected: list[tuple[str, str, str]]
) -> None:
    whole, _ = _feed_all([stream])
    assert _as_tuples(whole) == expected
    split, _ = _feed_all(_bytewise(stream))
    assert _as_tuples(split) == expected


@pytest.mark.parametrize(
    ("stream", "expected"), [c[1:] for c in RETRY_CASES], ids=[c[0] for c in RETRY_CASES]
)
def test_retry_only_when_all_ascii_digits(stream: bytes, expected: int | None) -> None:
    _, decoder = _feed_all(_bytewise(stream))
    assert decoder.retry_ms == expected


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    decoder = SseDecoder()
    events: list[SseEvent] = []
    for chunk in (b"data: A\r\n", b"data: B\r", b"\n", b"data: C\r\n", b"\n"):
        events.extend(decoder.feed(chunk))
    assert _as_tuples(events) == [("message", "A\nB\nC", "")]


def test_bom_split_across_chunks_is_stripped_once() -> None:
    events, _ = _feed_all([b"\xef", b"\xbb", b"\xbfdata: 1\n\n\xef\xbb\xbfdata: 2\n\n"])
    assert [e.data for e in events] == ["1"]


def test_last_event_id_is_reported_after_a_block_without_data() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b"id: 42\n") == []
    assert decoder.last_event_id == ""  # only a blank line commits the id
    assert decoder.feed(b"\n") == []
    assert decoder.last_event_id == "42"


def test_initial_last_event_id_is_carried_by_events_without_id() -> None:
    decoder = SseDecoder(last_event_id="9")
    assert _as_tuples(decoder.feed(b"data: x\n\n")) == [("message", "x", "9")]


def test_a_line_without_end_beyond_the_limit_raises() -> None:
    decoder = SseDecoder(max_event_chars=100)
    decoder.feed(b"data: " + b"y" * 90)
    with pytest.raises(SseLimitError):
        decoder.feed(b"y" * 20)


def test_event_data_beyond_the_limit_raises() -> None:
    decoder = SseDecoder(max_event_chars=100)
    with pytest.raises(SseLimitError):
        decoder.feed(b"data: 0123456789\n" * 12)


# ---- properties ------------------------------------------------------------------------

# Pieces that exercise every rule: field names, colons, spaces, all line ends, BOM, NUL,
# digits, multi-byte characters (so splits fall inside UTF-8 sequences).
_PIECES = st.sampled_from(
    [
        "data",
        "id",
        "event",
        "retry",
        ":",
        " ",
        "\r",
        "\n",
        "\r\n",
        "\ufeff",
        "\0",
        "7",
        "42",
        "x",
        "é",
        "我",
        "🥌",
    ]
)
_STREAMS = st.lists(_PIECES, max_size=60).map(lambda parts: "".join(parts).encode())


def _splits(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(stream)) for c in cuts})
    chunks, start = [], 0
    for point in points:
        chunks.append(stream[start:point])
        start = point
    chunks.append(stream[start:])
    return chunks


@settings(deadline=None)  # shared CI cores: no per-example deadline
@given(stream=_STREAMS, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_any_chunking_gives_the_same_events(stream: bytes, cuts: list[int]) -> None:
    whole, whole_decoder = _feed_all([stream])
    split, split_decoder = _feed_all(_splits(stream, cuts))
    assert split == whole
    assert split_decoder.retry_ms == whole_decoder.retry_ms
    assert split_decoder.last_event_id == whole_decoder.last_event_id


@settings(deadline=None)  # shared CI cores: no per-example deadline
@given(stream=st.binary(max_size=200), cuts=st.lists(st.integers(0, 200), max_size=8))
def test_any_chunking_of_arbitrary_bytes_gives_the_same_events(
    stream: bytes, cuts: list[int]
) -> None:
    whole, _ = _feed_all([stream])
    assert _feed_all(_splits(stream, cuts))[0] == whole


_NO_LINE_BREAK = st.text().filter(lambda s: not any(c in s for c in "\r\n"))
_EVENT_IDS = st.one_of(
    st.none(), st.integers(min_value=0), _NO_LINE_BREAK.filter(lambda s: "\0" not in s)
)
_EVENTS = st.tuples(st.text(), _EVENT_IDS, st.one_of(st.none(), _NO_LINE_BREAK))


@settings(deadline=None)  # shared CI cores: no per-example deadline
@given(
    events=st.lists(_EVENTS, min_size=1, max_size=8),
    retry=st.one_of(st.none(), st.integers(min_value=0, max_value=10**9)),
    cuts=st.lists(st.integers(0, 2000), max_size=10),
)
def test_encoder_decoder_round_trip(
    events: list[tuple[str, int | str | None, str | None]],
    retry: int | None,
    cuts: list[int],
) -> None:
    stream = encode_retry(retry) if retry is not None else b""
    for data, event_id, name in events:
        stream += encode_comment("hb") + encode_event(data, event_id=event_id, event=name)
    decoded, decoder = _feed_all(_splits(stream, cuts))

    expected: list[tuple[str, str, str]] = []
    last_id = ""
    for data, event_id, name in events:
        if event_id is not None:
            last_id = str(event_id)
        normalized = data.replace("\r\n", "\n").replace("\r", "\n")
        expected.append((name or "message", normalized, last_id))
    assert _as_tuples(decoded) == expected
    assert decoder.retry_ms == retry
