"""Graceful shutdown of the live streams: each client gets its own retry delay, spread so they
do not all return at once."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Iterable

from selector.runtime.protocol.sse import encode_retry
from selector.runtime.server.settings import ServerSettings
from selector.runtime.server.subscriber import Subscriber

__all__ = ["close_streams"]


async def close_streams(
    subscribers: Iterable[Subscriber],
    settings: ServerSettings,
    random_ms: Callable[[int], int] | None = None,
) -> None:
    """Close every WebSocket with 1001 and ``retry_after_ms=N``, end every SSE stream after a
    ``retry: N`` hint; N is ``shutdown_retry_after_ms`` plus ``random_ms(spread)``. Returns
    once the closing handshakes are done or ``close_timeout_s`` (+1 s) has passed."""
    spread = random_ms or (lambda top: random.randint(0, top))
    s = settings
    closes: list[asyncio.Future[None]] = []
    for sub in list(subscribers):
        retry_ms = s.shutdown_retry_after_ms + spread(s.shutdown_retry_spread_ms)
        sub.ending = True
        if sub.ws is not None:
            sub.ws.close(1001, f"retry_after_ms={retry_ms}".encode())
            closes.append(sub.ws.done)
        else:
            sub.queue.force(encode_retry(retry_ms))
            sub.draining = True  # its handler writes what is left, then ends the stream
            sub.signal()
    if closes:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(s.close_timeout_s + 1):
                await asyncio.gather(*closes, return_exceptions=True)
