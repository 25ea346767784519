"""Server text frames, decoded by an independent parser (the ``websockets`` library)."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from selector.runtime.protocol.wsframe import text_frame


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
