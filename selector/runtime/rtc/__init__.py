"""WebRTC in the reference runtime (the ``webrtc`` extra, which brings aiortc).

Only the modules of this package import aiortc, and only when a WebRTC run is asked for:
:func:`require_aiortc` says how to install the extra when it is missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection

__all__ = [
    "INSTALL_HINT",
    "RtcUnavailableError",
    "aiortc_available",
    "close_peer",
    "require_aiortc",
]

INSTALL_HINT = (
    "install the WebRTC extra: pip install 'realtime-protocol-selector[webrtc]' (brings aiortc)"
)


class RtcUnavailableError(RuntimeError):
    """aiortc is not installed, or not at the version the loopback adapter was written for."""


def aiortc_available() -> bool:
    """aiortc can be imported (the extra is installed)."""
    return importlib.util.find_spec("aiortc") is not None


def require_aiortc() -> None:
    """Raise :class:`RtcUnavailableError` with the install hint when aiortc is missing."""
    if not aiortc_available():
        raise RtcUnavailableError(f"aiortc is not installed: {INSTALL_HINT}")


async def close_peer(pc: RTCPeerConnection) -> None:
    """Close ``pc`` in a task of its own that a cancelled caller cannot interrupt.

    aiortc closes a failed connection by itself too, and a second ``close()`` waits on the
    first one's future: cancelling that waiter would cancel the future and make the first
    close fail. Errors of the close are swallowed: the connection is gone either way."""
    closing = asyncio.ensure_future(pc.close())
    closing.add_done_callback(lambda task: task.cancelled() or task.exception())
    await asyncio.shield(closing)
