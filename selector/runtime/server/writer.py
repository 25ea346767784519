"""Raw frame writes: the one place the server writes WebSocket frames and SSE chunks straight
to a transport, bypassing aiohttp's writer (one write per subscriber per loop tick), and the
slow path that hands a peer which fell behind back to aiohttp's flow control."""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from selector.runtime.protocol.wsframe import text_frame
from selector.runtime.server.metrics import Counters
from selector.runtime.server.subscriber import Subscriber

__all__ = ["drain_ws", "write_replies", "write_stream"]

#: Largest run of WebSocket frames a writer sends before yielding to the loop.
WS_BATCH_BYTES = 64 * 1024


def write_replies(sub: Subscriber, counters: Counters, max_buffered: int) -> bool:
    """Write the acks and errors ``sub`` earned this tick in one write. Returns False when
    the peer does not read them (more than ``max_buffered`` bytes unsent): drop it."""
    replies, sub.replies = sub.replies, []
    transport = sub.request.transport
    if transport is None or transport.is_closing():
        return True
    if sub.ws is None or sub.ws.closed:
        return True
    transport.write(b"".join([text_frame(reply) for reply in replies]))
    counters.messages_out["ws"] += len(replies)
    # False: the client sends mutations but reads none of its acks.
    return transport.get_write_buffer_size() <= max_buffered


def write_stream(
    sub: Subscriber, cap: int, counters: Counters, loop: asyncio.AbstractEventLoop
) -> None:
    """Write ``sub``'s queued frames straight to its transport: one write per subscriber
    per tick, capped in bytes (WS frames, or HTTP chunks of SSE blocks). A peer that does
    not keep up (data left in its transport buffer) is drained with aiohttp's flow control
    instead, by its SSE handler or a WS writer task, until its queue is empty."""
    if sub.draining:
        return
    transport = sub.request.transport
    if transport is None or transport.is_closing():
        return
    ws = sub.ws
    if ws is not None and ws.closed:
        return  # nothing may follow a close frame
    queue = sub.queue
    while queue:
        if transport.get_write_buffer_size() >= cap:
            sub.draining = True
            if ws is None:
                sub.signal()
            else:
                sub.writer = loop.create_task(drain_ws(sub, ws, counters))
            return
        frames = queue.take(cap)
        if ws is not None:
            transport.write(b"".join([text_frame(frame) for frame in frames]))
        else:
            data = b"".join(frames)
            # aiohttp prepared the response with chunked transfer coding (HTTP/1.1);
            # writing whole chunks here saves a task wake-up per stream per event.
            transport.write(b"%x\r\n%b\r\n" % (len(data), data) if sub.chunked else data)
        counters.messages_out[sub.protocol] += len(frames)
    if sub.ending:
        sub.signal()


async def drain_ws(sub: Subscriber, ws: web.WebSocketResponse, counters: Counters) -> None:
    """The slow path of a WebSocket that fell behind: aiohttp's writer waits for drain."""
    out = counters.messages_out
    try:
        while sub.queue and not ws.closed:
            for frame in sub.queue.take(WS_BATCH_BYTES):
                await ws.send_frame(frame, WSMsgType.TEXT)
                out["ws"] += 1
    except (ConnectionError, RuntimeError):
        pass  # the connection went away; its handler cleans up
    finally:
        sub.writer = None
        sub.draining = False
