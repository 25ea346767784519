"""Server frames decoded, and client frames encoded, by an independent implementation (the
``websockets`` library)."""

from __future__ import annotations

import pytest
from aiohttp._websocket.helpers import websocket_mask
from hypothesis import given
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from selector.runtime.protocol.wsframe import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameParser,
    Unmasker,
    close_frame,
    control_frame,
    parse_close,
    text_frame,
    unmask_in_place,
)
from selector.runtime.protocol.wsframe import frame as frame_bytes

#: The parser's pure unmasking and aiohttp's C one, which the server passes it.
UNMASKERS = pytest.mark.parametrize(
    "unmask", [unmask_in_place, websocket_mask], ids=["pure", "aiohttp"]
)


def parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        assert reader.at_eof()  # nothing left over: the length field was exact
        return frame
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_lengths_around_the_encoding_boundaries(length: int) -> None:
    payload = b"x" * length
    frame = parse(text_frame(payload))
    assert frame.opcode is Opcode.TEXT and frame.fin and frame.data == payload
    assert not (frame.rsv1 or frame.rsv2 or frame.rsv3)


def test_frames_concatenate_into_one_write() -> None:
    data = text_frame(b'{"ack":1}') + text_frame(b'{"ack":2}')
    reader = StreamReader()
    reader.feed_data(data)
    seen = []
    for _ in range(2):
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            seen.append(done.value.data)
    assert seen == [b'{"ack":1}', b'{"ack":2}']


# -- client frames in, encoded by the independent ``websockets`` library ----------------------


def client(opcode: Opcode, data: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    return Frame(opcode, data, fin).serialize(mask=mask, extensions=[])


@UNMASKERS
def test_masked_messages_parse_in_order_whatever_the_read_boundaries(unmask: Unmasker) -> None:
    wire = (
        client(Opcode.TEXT, b'{"seq":1}')
        + client(Opcode.PING, b"hi")
        + client(Opcode.BINARY, bytes(range(256)) * 300)
        + client(Opcode.TEXT, "é".encode() * 70)
    )
    expected = [
        (OP_TEXT, b'{"seq":1}'),
        (OP_PING, b"hi"),
        (OP_BINARY, bytes(range(256)) * 300),
        (OP_TEXT, "é".encode() * 70),
    ]
    for step in (1, 3, 7, 1000, len(wire)):
        parser = FrameParser(1 << 20, unmask)
        seen = []
        for at in range(0, len(wire), step):
            seen += parser.feed(wire[at : at + step])
        assert seen == expected and parser.failure is None


def test_fragments_are_joined_and_control_frames_may_interleave() -> None:
    wire = (
        client(Opcode.TEXT, b"ab", fin=False)
        + client(Opcode.PONG, b"")
        + client(Opcode.CONT, b"cd", fin=False)
        + client(Opcode.CONT, b"ef")
    )
    parser = FrameParser(limit=6)
    assert parser.feed(wire) == [(OP_PONG, b""), (OP_TEXT, b"abcdef")]
    assert parser.failure is None


def test_unmasked_client_frame_fails_with_1002() -> None:
    parser = FrameParser(limit=1024)
    ok = client(Opcode.TEXT, b"first")
    assert parser.feed(ok + client(Opcode.TEXT, b"bare", mask=False)) == [(OP_TEXT, b"first")]
    assert parser.failure is not None and parser.failure[0] == 1002
    assert parser.feed(ok) == []  # nothing more is read


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (bytes([0xC1, 0x80, 0, 0, 0, 0]), 1002),  # RSV1 without an extension
        (bytes([0x83, 0x80, 0, 0, 0, 0]), 1002),  # reserved data opcode
        (bytes([0x8B, 0x80, 0, 0, 0, 0]), 1002),  # reserved control opcode
        (client(Opcode.CONT, b"x"), 1002),  # continuation of nothing
        (client(Opcode.TEXT, b"a", fin=False) + client(Opcode.TEXT, b"b"), 1002),  # interleaved
        # a ping of 126 bytes, and a fragmented ping (zero masks: websockets refuses both)
        (bytes([0x89, 0xFE, 0, 126, 0, 0, 0, 0]) + b"x" * 126, 1002),
        (bytes([0x09, 0x81, 0, 0, 0, 0]) + b"x", 1002),
        (client(Opcode.TEXT, b"x" * 101), 1009),  # over the limit
        (client(Opcode.TEXT, b"x" * 60, fin=False) + client(Opcode.CONT, b"x" * 41), 1009),
    ],
)
def test_framing_violations_fail_the_connection(wire: bytes, code: int) -> None:
    parser = FrameParser(limit=100)
    parser.feed(wire)
    assert parser.failure is not None and parser.failure[0] == code


def test_a_message_of_exactly_the_limit_is_accepted() -> None:
    parser = FrameParser(limit=100)
    assert parser.feed(client(Opcode.TEXT, b"x" * 100)) == [(OP_TEXT, b"x" * 100)]


def test_an_oversized_frame_fails_from_its_header_without_buffering_the_body() -> None:
    parser = FrameParser(limit=100)
    header = client(Opcode.BINARY, b"x" * 70000)[:14]
    assert parser.feed(header) == []
    assert parser.failure is not None and parser.failure[0] == 1009


def test_nothing_after_a_close_frame_is_read() -> None:
    parser = FrameParser(limit=100)
    close = client(Opcode.CLOSE, (1000).to_bytes(2, "big") + b"bye")
    assert parser.feed(close + client(Opcode.TEXT, b"late")) == [(OP_CLOSE, close_payload())]


def close_payload() -> bytes:
    return (1000).to_bytes(2, "big") + b"bye"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", (None, None)),
        (b"\x03", (None, 1002)),
        ((1000).to_bytes(2, "big") + b"ok", (1000, None)),
        ((4999).to_bytes(2, "big"), (4999, None)),
        ((1004).to_bytes(2, "big"), (1004, 1002)),
        ((1005).to_bytes(2, "big"), (1005, 1002)),
        ((999).to_bytes(2, "big"), (999, 1002)),
        ((1000).to_bytes(2, "big") + b"\xff", (1000, 1007)),
    ],
)
def test_close_payloads(payload: bytes, expected: tuple[int | None, int | None]) -> None:
    assert parse_close(payload) == expected


def test_server_control_frames_parse_with_an_independent_parser() -> None:
    frame = parse(close_frame(1001, b"retry_after_ms=500"))
    assert frame.opcode is Opcode.CLOSE and frame.data == b"\x03\xe9retry_after_ms=500"
    assert parse(control_frame(OP_PONG, b"p" * 200)).data == b"p" * 125
    assert parse(frame_bytes(OP_BINARY, b"\x00\x01")).opcode is Opcode.BINARY


@UNMASKERS
@pytest.mark.parametrize("length", range(126))
def test_single_text_unmasks_every_short_length_as_feed_does(length: int, unmask: Unmasker) -> None:
    # Random masks (websockets draws one per frame), and the zero mask and all-ones one.
    payload = bytes((i * 37 + 11) % 256 for i in range(length))
    for wire in [
        client(Opcode.TEXT, payload),
        client(Opcode.TEXT, payload),
        bytes([0x81, 0x80 | length]) + b"\x00\x00\x00\x00" + payload,
        bytes([0x81, 0x80 | length, 255, 255, 255, 255]) + bytes(b ^ 255 for b in payload),
    ]:
        assert FrameParser(200, unmask).single_text(wire) == payload
        assert FrameParser(200, unmask).feed(wire) == [(OP_TEXT, payload)]


def test_single_text_fast_path_takes_only_what_feed_would_return_alone() -> None:
    parser = FrameParser(limit=100)
    one = client(Opcode.TEXT, b'{"seq":1}')
    assert parser.single_text(one) == b'{"seq":1}'
    assert parser.single_text(one + one) is None  # two frames: feed parses them
    assert parser.single_text(client(Opcode.TEXT, b"x", fin=False)) is None
    assert parser.single_text(client(Opcode.TEXT, b"x", mask=False) + b"1234") is None
    assert parser.single_text(client(Opcode.TEXT, b"x" * 126)) is None  # extended length
    assert FrameParser(limit=3).single_text(client(Opcode.TEXT, b"four")) is None
    parser.feed(client(Opcode.TEXT, b"ab", fin=False))  # a fragmented message in progress
    assert parser.single_text(one) is None


@given(st.binary(min_size=4, max_size=4), st.binary(max_size=2000))
def test_both_unmaskers_xor_with_the_mask_repeated(mask: bytes, data: bytes) -> None:
    expected = bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))
    for unmask in (unmask_in_place, websocket_mask):
        payload = bytearray(data)
        unmask(mask, payload)
        assert payload == expected
