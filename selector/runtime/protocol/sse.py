"""Server-Sent Events wire format (WHATWG HTML, "Server-sent events"): encoder.

Pure functions over bytes; no I/O. The encoder never emits a bare CR or LF inside a field, so a
payload cannot inject extra fields or events.
"""

from __future__ import annotations

__all__ = ["encode_comment", "encode_event", "encode_retry"]


def encode_event(
    data: str, *, event_id: int | str | None = None, event: str | None = None
) -> bytes:
    """One event: optional ``id:`` and ``event:`` lines, one ``data:`` line per line of
    ``data`` (CR, LF and CRLF all split lines), then the blank line that dispatches it."""
    parts: list[str] = []
    if event_id is not None:
        text_id = str(event_id)
        if any(c in text_id for c in "\r\n\0"):
            raise ValueError("an SSE id cannot contain CR, LF or NUL")
        parts.append(f"id: {text_id}\n")
    if event is not None:
        if any(c in event for c in "\r\n"):
            raise ValueError("an SSE event name cannot contain CR or LF")
        parts.append(f"event: {event}\n")
    for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        parts.append(f"data: {line}\n")
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def encode_comment(text: str = "") -> bytes:
    """A comment line (``:`` prefix), used as a heartbeat that keeps proxies from idling out."""
    safe = text.replace("\r", " ").replace("\n", " ")
    return f": {safe}\n\n".encode() if safe else b":\n\n"


def encode_retry(milliseconds: int) -> bytes:
    """A ``retry:`` field telling the client how long to wait before reconnecting."""
    if milliseconds < 0:
        raise ValueError("retry must be >= 0 ms")
    return f"retry: {milliseconds}\n\n".encode()
