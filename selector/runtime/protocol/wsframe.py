"""WebSocket framing for server-to-client text frames (RFC 6455 section 5.2). Pure.

The server writes the acks a connection earned during one loop tick as one transport write,
which needs the frames as bytes; aiohttp's writer makes one write (one system call) per frame.
Server frames are never masked; the runtime negotiates no extension, so RSV bits stay 0.
"""

from __future__ import annotations

import struct

__all__ = ["text_frame"]

_FIN_TEXT = 0x81
_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame carrying ``payload`` (which must be UTF-8)."""
    length = len(payload)
    if length < 126:
        return _SHORT.pack(_FIN_TEXT, length) + payload
    if length < 65536:
        return _MEDIUM.pack(_FIN_TEXT, 126, length) + payload
    return _LONG.pack(_FIN_TEXT, 127, length) + payload
