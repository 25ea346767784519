"""Server-Sent Events wire format (WHATWG HTML, "Server-sent events"): encoder and decoder.

Pure code over bytes; no I/O. The encoder never emits a bare CR or LF inside a field, so a
payload cannot inject extra fields or events. The decoder is incremental: it accepts the byte
stream cut at any point (inside a CRLF, inside a UTF-8 sequence) and yields the same events.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MAX_EVENT_CHARS",
    "SseDecoder",
    "SseEvent",
    "SseLimitError",
    "encode_comment",
    "encode_event",
    "encode_retry",
]


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


# --------------------------------------------------------------------------------------------
# Decoder
# --------------------------------------------------------------------------------------------

#: A line ends at CRLF, a lone LF or a lone CR (WHATWG "Server-sent events", parsing rules).
#: ``str.splitlines`` is not usable: it also splits on VT, FF, U+2028 and friends.
_LINE_END = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"

#: Default bound on the text the decoder holds (an unfinished line plus the data of the event
#: being built): a stream that never sends a line end cannot grow the client's memory forever.
DEFAULT_MAX_EVENT_CHARS = 1 << 20
_MAX_RETRY_MS = 10**12


class SseLimitError(ValueError):
    """The stream sent a line or an event larger than the decoder's ``max_event_chars``."""


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched event, as an ``EventSource`` would expose it.

    ``last_event_id`` is the stream's last event ID at dispatch time: it persists across
    events, so an event without an ``id:`` line carries the previous one (spec behaviour).
    """

    data: str
    event: str = "message"
    last_event_id: str = ""


class SseDecoder:
    """Incremental ``text/event-stream`` parser: bytes in (any chunking), events out.

    Follows the WHATWG parsing rules: UTF-8 decoding with replacement and one leading BOM
    stripped; CR, LF and CRLF line ends (also a CRLF split across chunks); comments; fields
    without a colon; one leading space after the colon removed; ``data`` lines joined with LF;
    ``id`` ignored when it contains NUL; ``retry`` only when it is all ASCII digits; an event
    dispatched only at a blank line (an unterminated event at the end of the stream is
    dropped, as the spec requires).

    After :meth:`feed`, :attr:`retry_ms` holds the latest valid reconnection time and
    :attr:`last_event_id` the ID to send as ``Last-Event-ID`` when reconnecting.
    """

    def __init__(
        self, *, last_event_id: str = "", max_event_chars: int = DEFAULT_MAX_EVENT_CHARS
    ) -> None:
        self._text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._at_stream_start = True
        self._pending = ""  # text after the last line end
        self._skip_lf = False  # the previous chunk ended with CR: a leading LF completes CRLF
        self._data: list[str] = []
        self._data_chars = 0
        self._event_type = ""
        self._id_buffer = last_event_id
        self._max_chars = max_event_chars
        #: The last event ID string of the stream (what ``Last-Event-ID`` resumes from).
        self.last_event_id = last_event_id
        #: The reconnection time the server asked for with ``retry:``, if any.
        self.retry_ms: int | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Parse the next chunk of the byte stream; return the events it completed."""
        text = self._text_decoder.decode(chunk)
        if self._at_stream_start and text:
            self._at_stream_start = False
            if text.startswith(_BOM):
                text = text[1:]
        if self._skip_lf and text:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        events: list[SseEvent] = []
        if not _LINE_END.search(text):
            # No line ends: just extend the unfinished line (no rescan of what is pending).
            self._pending += text
            self._check_size()
            return events
        buffer = self._pending + text
        start = 0
        for match in _LINE_END.finditer(buffer):
            self._process_line(buffer[start : match.start()], events)
            start = match.end()
        # A CR that ends the buffer may be the first half of a CRLF split across chunks.
        self._skip_lf = buffer.endswith("\r")
        self._pending = buffer[start:]
        self._check_size()
        return events

    def _check_size(self) -> None:
        if len(self._pending) + self._data_chars > self._max_chars:
            raise SseLimitError(
                f"SSE line or event exceeds {self._max_chars} characters without a line end"
            )

    def _process_line(self, line: str, events: list[SseEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line[0] == ":":
            return  # comment (heartbeats are comments)
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_chars += len(value) + 1
            self._check_size()
        elif name == "event":
            self._event_type = value
        elif name == "id" and "\0" not in value:
            self._id_buffer = value
        elif name == "retry" and value.isascii() and value.isdigit():
            # Clamped before int(): Python refuses to convert thousands of digits, and no
            # reconnection time needs more than 12 of them (30 years in milliseconds).
            self.retry_ms = int(value) if len(value) <= 12 else _MAX_RETRY_MS
        # any other field name is ignored, as are an id with NUL and a retry with non-digits

    def _dispatch(self, events: list[SseEvent]) -> None:
        self.last_event_id = self._id_buffer
        if self._data:
            events.append(
                SseEvent(
                    data="\n".join(self._data),
                    event=self._event_type or "message",
                    last_event_id=self.last_event_id,
                )
            )
        self._data = []
        self._data_chars = 0
        self._event_type = ""
