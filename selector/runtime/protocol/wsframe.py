"""WebSocket framing (RFC 6455 section 5): the server's frames out, the client's frames in. Pure.

Out: the server writes the acks a connection earned during one loop tick as one transport
write, which needs the frames as bytes (aiohttp's writer makes one write, one system call, per
frame). Server frames are never masked; the runtime negotiates no extension, so RSV bits stay 0.

In: :class:`FrameParser` turns the bytes a client sent into whole messages and control frames,
and says how to fail the connection when the client breaks the framing rules (section 5 and
7.4): unmasked frames, reserved bits or opcodes, fragmented or oversized control frames, a
continuation with nothing to continue, a message over the size limit (1009), an invalid close
code or close reason. The runtime parses frames itself instead of through aiohttp's reader,
which acks unmasked frames and holds a reader, a queue and a writer per connection (idle
memory per WebSocket 17.4 KB -> 12.6 KB, docs/benchmarks.md). On the one-in-flight ack load
this Python parser costs about what aiohttp's C parser plus its task wake-up did.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "SHORT_TEXT_HEADS",
    "FrameParser",
    "Payload",
    "Unmasker",
    "close_frame",
    "control_frame",
    "frame",
    "is_valid_close_code",
    "parse_close",
    "text_frame",
    "text_frames",
    "unmask_in_place",
]

#: A message's payload as the parser hands it over: unmasked in place, so a bytearray.
Payload = bytes | bytearray

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

_FIN_TEXT = 0x81
_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")
#: Largest control frame payload (section 5.5).
_MAX_CONTROL = 125


def frame(opcode: int, payload: Payload) -> bytes:
    """One final, unmasked frame of ``opcode`` carrying ``payload``."""
    length = len(payload)
    first = 0x80 | opcode
    if length < 126:
        return _SHORT.pack(first, length) + payload
    if length < 65536:
        return _MEDIUM.pack(first, 126, length) + payload
    return _LONG.pack(first, 127, length) + payload


#: The two-byte head of a final, unmasked text frame, by payload length (under 126): one
#: list index instead of a ``struct.pack`` per ack.
SHORT_TEXT_HEADS = [bytes((_FIN_TEXT, length)) for length in range(126)]


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame carrying ``payload`` (which must be UTF-8)."""
    length = len(payload)
    if length < 126:
        return SHORT_TEXT_HEADS[length] + payload
    return frame(OP_TEXT, payload)


def text_frames(payloads: list[bytes]) -> bytes:
    """Final text frames carrying ``payloads``, concatenated for one write."""
    return b"".join([text_frame(p) for p in payloads])


def control_frame(opcode: int, payload: Payload) -> bytes:
    """A ping, pong or close frame; the payload is cut to the 125 bytes a control frame holds."""
    return frame(opcode, payload[:_MAX_CONTROL])


def close_frame(code: int | None, reason: bytes = b"") -> bytes:
    """A close frame with ``code`` (none: an empty close) and a reason cut to fit."""
    if code is None:
        return frame(OP_CLOSE, b"")
    return frame(OP_CLOSE, code.to_bytes(2, "big") + reason[: _MAX_CONTROL - 2])


def is_valid_close_code(code: int) -> bool:
    """Close codes a peer may send (RFC 6455 section 7.4 and the IANA registry)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def parse_close(payload: Payload) -> tuple[int | None, int | None]:
    """``(code, failure)`` of a close frame's payload: ``code`` None for an empty close;
    ``failure`` the close code to fail the connection with (1002 for a malformed or reserved
    code, 1007 for a reason that is not UTF-8), else None."""
    if not payload:
        return None, None
    if len(payload) == 1:
        return None, 1002
    code = int.from_bytes(payload[:2], "big")
    if not is_valid_close_code(code):
        return code, 1002
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return code, 1007
    return code, None


#: Unmasks ``data`` in place with the 4-byte ``mask`` repeated (RFC 6455 section 5.3). The
#: server passes aiohttp's C function; :func:`unmask_in_place` is the pure one.
Unmasker = Callable[[bytes, bytearray], None]


def unmask_in_place(mask: bytes, data: bytearray) -> None:
    """XOR ``data`` with the 4-byte ``mask`` repeated, as one big-integer XOR: no per-byte
    Python loop (a 40-byte payload ~0.7 µs, 16 MiB ~100 ms; aiohttp's C one ~1.4 ms)."""
    length = len(data)
    if length:
        key = (mask * ((length >> 2) + 1))[:length]
        data[:] = (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(
            length, "little"
        )


class FrameParser:
    """Client-to-server frames in, ``(opcode, payload)`` out: whole messages (fragments
    joined; ``OP_TEXT`` or ``OP_BINARY``) and control frames (``OP_PING``, ``OP_PONG``,
    ``OP_CLOSE``) in arrival order. Text is not checked for UTF-8 here: the reader checks it
    where it decodes it anyway.

    After a violation :attr:`failure` holds ``(close_code, reason)`` and the parser takes no
    more input; the frames before it are still returned."""

    __slots__ = (
        "_buffer",
        "_fragments",
        "_fragments_size",
        "_message_opcode",
        "_need",
        "_unmask",
        "failure",
        "limit",
    )

    def __init__(self, limit: int, unmask: Unmasker = unmask_in_place) -> None:
        #: Largest message (all its fragments together) in bytes, inclusive.
        self.limit = limit
        self._unmask = unmask
        self.failure: tuple[int, str] | None = None
        self._buffer = bytearray()
        #: Bytes the buffered frame needs before parsing is worth trying again: a large frame
        #: arriving in many reads is copied once, not once per read.
        self._need = 0
        self._message_opcode = 0  # of the fragmented message in progress, 0 when none
        self._fragments: list[Payload] = []
        self._fragments_size = 0

    def _fail(self, code: int, reason: str) -> None:
        self.failure = (code, reason)
        self._buffer.clear()
        self._fragments.clear()

    def single_text(self, data: bytes) -> Payload | None:
        """The payload when ``data`` is exactly one small, final, masked text frame and
        nothing is buffered (the common read under a one-in-flight load); else None and
        :meth:`feed` must parse ``data``. Saves the list and the loop of :meth:`feed`."""
        size = len(data) - 6
        if (
            0 <= size < 126
            and data[0] == _FIN_TEXT
            and data[1] == 0x80 | size
            and size <= self.limit
            and not self._buffer
            and not self._message_opcode
            and self.failure is None
        ):
            if not size:
                return b""
            payload = bytearray(data[6:])
            self._unmask(data[2:6], payload)
            return payload
        return None

    def feed(self, data: bytes) -> list[tuple[int, Payload]]:
        """Parse ``data`` (with whatever an earlier call left incomplete)."""
        out: list[tuple[int, Payload]] = []
        if self.failure is not None:
            return out
        buffer = self._buffer
        if buffer:
            buffer += data
            if len(buffer) < self._need:
                return out
            data = bytes(buffer)
            buffer.clear()
        size = len(data)
        pos = 0
        need = 2
        while size - pos >= 2:
            first = data[pos]
            second = data[pos + 1]
            if first & 0x70:
                self._fail(1002, "reserved bits set without an extension")
                return out
            if not second & 0x80:
                # Section 5.1: a server MUST close the connection on an unmasked client frame.
                self._fail(1002, "client frames must be masked")
                return out
            opcode = first & 0x0F
            length = second & 0x7F
            head = pos + 2
            if length == 126:
                if size - head < 2:
                    need = 4
                    break
                length = int.from_bytes(data[head : head + 2], "big")
                head += 2
            elif length == 127:
                if size - head < 8:
                    need = 10
                    break
                length = int.from_bytes(data[head : head + 8], "big")
                if length >> 63:
                    self._fail(1002, "frame length has the top bit set")
                    return out
                head += 8
            if opcode & 0x8:
                if length > _MAX_CONTROL or not first & 0x80:
                    self._fail(1002, "control frames must be final and at most 125 bytes")
                    return out
            elif (opcode and self._message_opcode) or (not opcode and not self._message_opcode):
                self._fail(1002, "fragments interleaved or a continuation of nothing")
                return out
            elif self._fragments_size + length > self.limit:
                self._fail(1009, f"message exceeds {self.limit} bytes")
                return out
            end = head + 4 + length
            if end > size:
                need = end - pos
                break
            payload = bytearray(data[head + 4 : end])
            self._unmask(data[head : head + 4], payload)
            pos = end
            if opcode in (OP_TEXT, OP_BINARY):
                if first & 0x80:
                    out.append((opcode, payload))
                else:
                    self._message_opcode = opcode
                    self._fragments.append(payload)
                    self._fragments_size = length
            elif not opcode:
                self._fragments.append(payload)
                self._fragments_size += length
                if first & 0x80:
                    out.append((self._message_opcode, b"".join(self._fragments)))
                    self._message_opcode = 0
                    self._fragments.clear()
                    self._fragments_size = 0
            elif opcode in (OP_PING, OP_PONG):
                out.append((opcode, payload))
            elif opcode == OP_CLOSE:
                out.append((opcode, payload))
                return out  # nothing after a close frame is read (section 5.5.1)
            else:
                self._fail(1002, f"reserved opcode {opcode:#x}")
                return out
        if pos < size:
            buffer += data[pos:] if pos else data
            self._need = need
        return out
