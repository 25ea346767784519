"""The client's side of the wire contract: server messages parsed, mutations encoded.

Server -> client (WebSocket text frames, the same JSON in SSE ``data:`` lines and in the
``POST /mutations`` response body):

- event ``{"id": N, "event": NAME, "data": ...}`` (ids strictly increasing over the stream);
- ack ``{"ack": N, "status": "ok"}``, with ``"duplicate": true`` when already applied;
- error ``{"error": CODE, "detail": ..., "seq": N}`` (``seq`` when readable; the connection
  stays open);
- resync ``{"event": "resync", "data": {"after", "oldest", "latest"}}``, no ``id``;
- heartbeat ``{"event": "heartbeat", "data": {"t": SERVER_MS}}``, no ``id``;
- position ``{"event": "position", "data": {"latest": N}}``, first to a fresh subscriber
  (in SSE with ``id: N`` so EventSource resumes from it).

Anything else parses to :class:`Malformed` rather than raising: a client must survive a
server (or a proxy) that sends garbage, and count it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

import orjson

from selector.jsonvalue import JsonObject, JsonValue
from selector.runtime.protocol.envelope import RESERVED_EVENT_NAMES, is_valid_client_id
from selector.runtime.protocol.outbox import OutgoingMutation
from selector.runtime.protocol.sse import SseEvent

__all__ = [
    "Ack",
    "HeartbeatMessage",
    "Malformed",
    "Position",
    "Resync",
    "ServerError",
    "ServerEvent",
    "ServerMessage",
    "encode_mutation",
    "encode_mutation_post",
    "is_valid_client_id",
    "parse_server_message",
    "retry_after_from_close_reason",
    "server_message_from_sse",
]


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """A stream event with its id (what resume and dedupe work on)."""

    id: int
    event: str
    data: JsonValue = None


@dataclass(frozen=True, slots=True)
class Ack:
    """The server applied (or had already applied, ``duplicate``) mutation ``seq``."""

    seq: int
    duplicate: bool = False
    #: The client id's resume secret, issued on the id's first ack: present it from now on.
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class ServerError:
    """The server refused a message (``INVALID_PAYLOAD``...); the connection stays open.

    ``seq`` names the refused mutation when the server could read it: that mutation was not
    applied, and sending it again would be refused again."""

    code: str
    detail: str = ""
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Resync:
    """Events after ``after`` up to ``oldest - 1`` are gone from the replay buffer: the
    application must reload its state; live events continue after ``latest``."""

    after: int | None
    oldest: int | None
    latest: int | None


@dataclass(frozen=True, slots=True)
class Position:
    """Where the stream stood when a fresh subscription began: resume after ``latest``."""

    latest: int | None


@dataclass(frozen=True, slots=True)
class HeartbeatMessage:
    """Application heartbeat (proof of life for clients that cannot see pings)."""

    server_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Malformed:
    """A message that does not follow the contract (kept for diagnostics)."""

    reason: str
    raw: str = ""


ServerMessage = ServerEvent | Ack | ServerError | Resync | Position | HeartbeatMessage | Malformed

_MAX_RAW_KEPT = 200
_RETRY_AFTER = re.compile(r"(?:^|[\s;,])retry_after_ms=(\d{1,9})(?:$|[\s;,])")


def _is_int(value: JsonValue) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_int(value: JsonValue) -> int | None:
    return value if _is_int(value) else None


def _malformed(reason: str, raw: bytes | str) -> Malformed:
    text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
    return Malformed(reason, text[:_MAX_RAW_KEPT])


def parse_server_message(raw: bytes | str) -> ServerMessage:
    """Parse one WebSocket text frame (or an ack response body) from the server."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _malformed("not JSON", raw)
    if not isinstance(obj, dict):
        return _malformed("not a JSON object", raw)
    return _from_object(obj, raw)


def _from_object(obj: JsonObject, raw: bytes | str) -> ServerMessage:
    if "ack" in obj:
        seq = obj["ack"]
        if not _is_int(seq) or obj.get("status") != "ok":
            return _malformed("ack without an integer seq and status ok", raw)
        secret = obj.get("secret")
        return Ack(
            seq,
            duplicate=obj.get("duplicate") is True,
            secret=secret if isinstance(secret, str) else None,
        )
    if "error" in obj:
        detail = obj.get("detail", "")
        return ServerError(
            str(obj["error"]),
            detail if isinstance(detail, str) else str(detail),
            _optional_int(obj.get("seq")),
        )
    name = obj.get("event")
    if not isinstance(name, str):
        return _malformed("neither event, ack nor error", raw)
    if name in RESERVED_EVENT_NAMES:
        return _control_event(name, obj.get("data"), raw)
    if "id" in obj:
        event_id = obj["id"]
        if not _is_int(event_id):
            return _malformed("event id is not an integer", raw)
        return ServerEvent(event_id, name, obj.get("data"))
    return _control_event(name, obj.get("data"), raw)


def _control_event(name: str, data: JsonValue, raw: bytes | str) -> ServerMessage:
    """The control events, recognised by name: heartbeat, resync and position."""
    fields = data if isinstance(data, dict) else {}
    if name == "heartbeat":
        return HeartbeatMessage(_optional_int(fields.get("t")))
    if name == "position":
        return Position(_optional_int(fields.get("latest")))
    if name == "resync":
        return Resync(
            after=_optional_int(fields.get("after")),
            oldest=_optional_int(fields.get("oldest")),
            latest=_optional_int(fields.get("latest")),
        )
    return _malformed(f"event {name!r} without an id", raw)


def server_message_from_sse(event: SseEvent) -> ServerMessage:
    """Interpret a decoded SSE event under the contract (``data`` is one JSON document).

    The control events are recognised by name: ``resync`` and ``heartbeat`` carry no ``id:``
    line (the SSE last event ID persists across events, so theirs is a stale one), and
    ``position`` carries its id only for EventSource's sake.
    """
    try:
        data = orjson.loads(event.data) if event.data else None
    except orjson.JSONDecodeError:
        return _malformed("SSE data is not JSON", event.data)
    if event.event in RESERVED_EVENT_NAMES:
        return _control_event(event.event, data, event.data)
    if not (event.last_event_id.isascii() and event.last_event_id.isdigit()):
        return _malformed("SSE id is not an integer", event.last_event_id)
    return ServerEvent(int(event.last_event_id), event.event, data)


def encode_mutation(mutation: OutgoingMutation) -> bytes:
    """The WebSocket frame for a mutation: ``{"seq", "op", "data"}`` (compact JSON)."""
    return orjson.dumps({"seq": mutation.seq, "op": mutation.op, "data": mutation.data})


def encode_mutation_post(
    client_id: str, mutation: OutgoingMutation, secret: str | None = None
) -> bytes:
    """The ``POST /mutations`` body: the WebSocket frame plus the ``client_id`` (and its
    resume ``secret`` once the server issued one)."""
    body: JsonObject = {
        "client_id": client_id,
        "seq": mutation.seq,
        "op": mutation.op,
        "data": mutation.data,
    }
    if secret is not None:
        body["secret"] = secret
    return orjson.dumps(body)


def retry_after_from_close_reason(reason: str) -> float | None:
    """Seconds from a close reason containing ``retry_after_ms=NNN``, else None."""
    match = _RETRY_AFTER.search(reason or "")
    return int(match.group(1)) / 1000.0 if match else None
