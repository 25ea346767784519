"""Envelopes of the runtime's wire contract: parse what clients send, pre-encode what we reply.

Pure functions over bytes (orjson), no I/O. Parsing validates the shape of a mutation or a
publish body and raises :class:`EnvelopeError` with a one-line detail the server sends back as
``{"error": "INVALID_PAYLOAD", "detail": ...}``. Replies are built as bytes once, so the hot path
never decodes or re-encodes text (see docs/wire-contract.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from selector.jsonvalue import JsonObject, JsonValue
from selector.runtime.protocol.sse import encode_event as encode_sse_event

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DATA_DEPTH",
    "MAX_NAME_CHARS",
    "RESERVED_EVENT_NAMES",
    "EncodedEvent",
    "EnvelopeError",
    "Mutation",
    "Publish",
    "check_value",
    "encode_ack",
    "encode_error",
    "encode_event",
    "encode_heartbeat",
    "encode_position",
    "encode_resync",
    "is_valid_client_id",
    "parse_http_mutation",
    "parse_http_submission",
    "parse_last_event_id",
    "parse_publish",
    "parse_ws_mutation",
]

#: Longest accepted ``op`` and event name, in characters.
MAX_NAME_CHARS = 128
#: Event names the server itself emits without an id; a publisher cannot use them, because
#: clients never count them as stream events.
#: Event names the runtime sends for itself (control events, never application events).
RESERVED_EVENT_NAMES = frozenset({"heartbeat", "resync", "position"})

_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_FORBIDDEN_IN_NAME = re.compile(r"[\r\n\0]")
# JSON numbers above this lose precision in JavaScript clients (Number.MAX_SAFE_INTEGER).
_MAX_SAFE_INT = 2**53 - 1
#: Deepest nesting of arrays and objects accepted in ``data`` (orjson cannot encode more than
#: 255 levels, so a deeper value, once acked, could never be shown or stored).
MAX_DATA_DEPTH = 32
#: Integers in ``data`` must fit a signed 64-bit integer (what orjson, SQLite and most JSON
#: readers keep exactly).
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class EnvelopeError(ValueError):
    """A message or body that does not follow the wire contract; ``detail`` says why."""

    def __init__(self, detail: str, seq: int | None = None, code: str = "INVALID_PAYLOAD") -> None:
        super().__init__(detail)
        self.detail = detail
        #: The envelope's ``seq`` when it was readable, so a client can match the error.
        self.seq = seq
        #: The machine-readable error code sent as ``"error"``.
        self.code = code


class Mutation(NamedTuple):
    """One client mutation: applied at most once per ``(client_id, seq)``.

    A named tuple rather than a frozen dataclass: it is built once per message on the hot path.
    """

    client_id: str
    seq: int
    op: str
    data: JsonValue = None


@dataclass(frozen=True, slots=True)
class Publish:
    """A server event to broadcast to every subscriber."""

    event: str
    data: JsonValue = None


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """A stream event encoded once for every subscriber: a WS text frame and an SSE block."""

    event_id: int
    ws_frame: bytes
    sse_frame: bytes

    @property
    def size(self) -> int:
        """Bytes this event holds in memory (both encodings), for byte-bounded buffers."""
        return len(self.ws_frame) + len(self.sse_frame)


#: ``tuple.__new__`` looked up once (per message it is a lookup on the type): 33,521 ->
#: 33,290 instructions per ack (bench/ws_ack_instructions.sh).
_new_tuple = tuple.__new__


def is_valid_client_id(value: str | None) -> bool:
    """``client_id`` is 1-128 characters of ``[A-Za-z0-9._:-]``: the server answers 400 to
    anything else, and the client refuses it before connecting."""
    return value is not None and _CLIENT_ID.fullmatch(value) is not None


def parse_last_event_id(value: str | None) -> int | None:
    """A resume position from ``Last-Event-ID`` or ``last_event_id``: a non-negative integer,
    or None when absent or empty. Anything else raises :class:`EnvelopeError`."""
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 16:
        raise EnvelopeError("last_event_id must be a non-negative integer")
    return int(value)


def _load_object(raw: bytes | str) -> JsonObject:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EnvelopeError("expected a JSON object")
    return value


def _positive_int(body: JsonObject, key: str) -> int:
    value = body.get(key)
    # bool is an int subclass in Python; true is not a sequence number.
    if not isinstance(value, int) or isinstance(value, bool):
        raise EnvelopeError(f"{key} must be an integer")
    if not 1 <= value <= _MAX_SAFE_INT:
        raise EnvelopeError(f"{key} must be between 1 and 2**53-1")
    return value


def _name(body: JsonObject, key: str, seq: int | None = None) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise EnvelopeError(f"{key} must be a non-empty string", seq)
    if len(value) > MAX_NAME_CHARS:
        raise EnvelopeError(f"{key} is longer than {MAX_NAME_CHARS} characters", seq)
    if _FORBIDDEN_IN_NAME.search(value):
        raise EnvelopeError(f"{key} cannot contain CR, LF or NUL", seq)
    return value


#: Types :func:`check_value` looks into (strings, floats, bools and null cannot poison).
_CHECKED = frozenset({dict, list, int})


def check_value(value: JsonValue, seq: int | None = None) -> None:
    """Raise :class:`EnvelopeError` (``VALUE_TOO_DEEP`` or ``OUT_OF_RANGE``) for a value
    nested deeper than :data:`MAX_DATA_DEPTH` or holding an integer outside signed 64 bits.

    Iterative, so a hostile value cannot exhaust the Python stack."""
    stack: list[tuple[JsonValue, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        # type(item) called in each test rather than kept in a variable, because mypy narrows
        # ``item`` only on the call itself; with the early exits it costs no more per value
        # (15,211 -> 15,119 instructions per check of small nested payloads, callgrind).
        if type(item) is int:
            if not INT64_MIN <= item <= INT64_MAX:
                raise EnvelopeError(
                    "integers in data must fit in a signed 64-bit integer", seq, "OUT_OF_RANGE"
                )
            continue
        if type(item) is dict:
            children: Iterable[JsonValue] = item.values()
        elif type(item) is list:
            children = item
        else:
            continue
        if depth > MAX_DATA_DEPTH:
            raise EnvelopeError(
                f"data is nested deeper than {MAX_DATA_DEPTH} levels", seq, "VALUE_TOO_DEEP"
            )
        stack.extend((child, depth + 1) for child in children if type(child) in _CHECKED)


def _mutation(body: JsonObject, client_id: str) -> Mutation:
    seq = body.get("seq")
    op = body.get("op")
    data = body.get("data")
    if type(data) in _CHECKED:
        check_value(data, seq if type(seq) is int else None)
    # Fast path for the well-formed case (exact type tests also exclude bool); anything else
    # goes through the checks below, which say what is wrong.
    if (
        type(seq) is int
        and 0 < seq <= _MAX_SAFE_INT
        and type(op) is str
        and 0 < len(op) <= MAX_NAME_CHARS
        # CR, LF and NUL are not printable: the C test clears the usual name without the
        # regular expression.
        and (op.isprintable() or _FORBIDDEN_IN_NAME.search(op) is None)
    ):
        # tuple.__new__ directly: the named tuple's generated __new__ is a Python function,
        # ~870 instructions per WebSocket message (callgrind, bench/ws_ack_instructions.sh).
        return _new_tuple(Mutation, (client_id, seq, op, data))
    seq = _positive_int(body, "seq")
    op = _name(body, "op", seq)
    return Mutation(client_id=client_id, seq=seq, op=op, data=data)


def parse_ws_mutation(raw: bytes | bytearray | str, client_id: str) -> Mutation:
    """A WebSocket mutation ``{"seq": N, "op": NAME, "data": ...}`` from ``client_id``'s
    connection. Unknown keys are ignored (tolerant reader); a ``client_id`` key is ignored too,
    because the connection's identity is fixed at the upgrade."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"invalid JSON: {exc}") from None
    if type(body) is not dict:
        raise EnvelopeError("expected a JSON object")
    # _mutation up to its fast path, inlined: one frame less per WebSocket message, and one
    # type() call instead of up to three for data that needs no check (the test is a set
    # lookup): 36,074 -> 35,445 instructions per ack (bench/ws_ack_instructions.sh). What
    # the fast path does not take goes to _mutation, which says what is wrong.
    try:
        # Subscripts, not three method calls: 33,067 -> 32,792 instructions per ack
        # (bench/ws_ack_instructions.sh).
        seq = body["seq"]
        op = body["op"]
        data = body["data"]
    except KeyError:  # "data" may be left out (a missing seq or op is an error)
        return _mutation(body, client_id)
    if type(data) in _CHECKED:
        check_value(data, seq if type(seq) is int else None)
    if (
        type(seq) is int
        and 0 < seq <= _MAX_SAFE_INT
        and type(op) is str
        and 0 < len(op) <= MAX_NAME_CHARS
        and (op.isprintable() or _FORBIDDEN_IN_NAME.search(op) is None)
    ):
        return _new_tuple(Mutation, (client_id, seq, op, data))
    return _mutation(body, client_id)


def parse_http_mutation(raw: bytes | str) -> Mutation:
    """A ``POST /mutations`` body ``{"client_id": ID, "seq": N, "op": NAME, "data": ...}``."""
    return parse_http_submission(raw)[0]


def parse_http_submission(raw: bytes | str) -> tuple[Mutation, str | None]:
    """A ``POST /mutations`` body and its ``secret`` (the client id's resume secret, absent
    on first contact)."""
    body = _load_object(raw)
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not is_valid_client_id(client_id):
        raise EnvelopeError("client_id must be 1-128 characters of [A-Za-z0-9._:-]")
    secret = body.get("secret")
    if secret is not None and (type(secret) is not str or len(secret) > MAX_NAME_CHARS):
        raise EnvelopeError("secret must be a string of at most 128 characters")
    return _mutation(body, client_id), secret


def parse_publish(raw: bytes | str) -> Publish:
    """A ``POST /publish`` body ``{"event": NAME, "data": ...}``; reserved names are refused."""
    body = _load_object(raw)
    event = _name(body, "event")
    if event in RESERVED_EVENT_NAMES:
        raise EnvelopeError(f"event name {event!r} is reserved for the server")
    data = body.get("data")
    check_value(data)
    return Publish(event=event, data=data)


#: ``{"ack": N, "status": "ok"}`` for ``% seq``: the common ack, formatted by
#: :meth:`~selector.runtime.protocol.commit.Acked.encode` without a call to :func:`encode_ack`.
ACK_FORMAT = b'{"ack":%d,"status":"ok"}'


def encode_ack(seq: int, *, duplicate: bool = False, secret: str | None = None) -> bytes:
    """``{"ack": N, "status": "ok"}``, with ``"duplicate": true`` for a re-sent mutation and
    ``"secret"`` when this ack is the client id's first contact (the secret it must present
    from now on)."""
    if secret is not None:
        body: JsonObject = {"ack": seq, "status": "ok", "secret": secret}
        if duplicate:
            body["duplicate"] = True
        return orjson.dumps(body)
    if duplicate:
        return b'{"ack":%d,"status":"ok","duplicate":true}' % seq
    return ACK_FORMAT % seq


def encode_error(detail: str, seq: int | None = None, *, code: str = "INVALID_PAYLOAD") -> bytes:
    """``{"error": CODE, "detail": ...}``, plus ``"seq"`` when it was readable."""
    body: JsonObject = {"error": code, "detail": detail}
    if seq is not None:
        body["seq"] = seq
    return orjson.dumps(body)


def encode_event(event_id: int, event: str, data_json: bytes) -> EncodedEvent:
    """Encode one stream event for both transports at once, from its JSON payload.

    ``data_json`` must be compact JSON without raw newlines (orjson output is), so it fits
    the single ``data:`` line the contract promises for SSE.
    """
    name_json = orjson.dumps(event)
    ws_frame = b'{"id":%d,"event":%b,"data":%b}' % (event_id, name_json, data_json)
    name = event.encode()
    if b"\n" in data_json or b"\r" in data_json or b"\n" in name or b"\r" in name:
        # Several data lines, or a name the encoder refuses: the general encoder decides.
        sse_frame = encode_sse_event(data_json.decode(), event_id=event_id, event=event)
    else:
        # One data line (what a publish gives): the block written out directly is the same
        # bytes (a property test compares them) without splitting, joining and re-encoding,
        # ~3 % of a POST /publish (server CPU 85.8 -> 83.3 µs, bench/sse_writes.sh publish).
        sse_frame = b"id: %d\nevent: %b\ndata: %b\n\n" % (event_id, name, data_json)
    return EncodedEvent(event_id=event_id, ws_frame=ws_frame, sse_frame=sse_frame)


def encode_resync(after: int, oldest: int, latest: int) -> tuple[bytes, bytes]:
    """The resync notice (no id) as ``(ws_frame, sse_frame)``."""
    data = b'{"after":%d,"oldest":%d,"latest":%d}' % (after, oldest, latest)
    ws_frame = b'{"event":"resync","data":%b}' % data
    return ws_frame, encode_sse_event(data.decode(), event="resync")


def encode_position(latest: int) -> tuple[bytes, bytes]:
    """The stream position a fresh subscriber starts from, as ``(ws_frame, sse_frame)``.

    A client that connects without a resume id would otherwise have no id to resume from
    until its first event, and would miss whatever is published while it is away. The SSE
    block carries ``id:`` too, so a browser's EventSource (and any spec-following client)
    sends it back as ``Last-Event-ID``; the event name keeps it out of ``onmessage``.
    """
    data = b'{"latest":%d}' % latest
    ws_frame = b'{"event":"position","data":%b}' % data
    return ws_frame, encode_sse_event(data.decode(), event_id=latest, event="position")


def encode_heartbeat(server_ms: int) -> bytes:
    """The WS application heartbeat (no id) browser JavaScript can see, unlike a ping."""
    return b'{"event":"heartbeat","data":{"t":%d}}' % server_ms
