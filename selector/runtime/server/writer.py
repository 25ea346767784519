"""Straight-to-transport writes, one write per subscriber per loop tick, bypassing aiohttp's
writer: SSE chunks here, WebSocket frames through the connection's
:class:`~selector.runtime.server.websocket.WsConnection` (the one module that frames them);
and the slow path that hands a peer which fell behind back to flow control."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from selector.runtime.protocol.envelope import EncodedEvent
from selector.runtime.protocol.wsframe import text_frames
from selector.runtime.server.metrics import Counters
from selector.runtime.server.subscriber import Subscriber
from selector.runtime.server.websocket import WsConnection

__all__ = ["drain_ws", "write_caught_up", "write_stream"]

#: Largest run of WebSocket frames a writer sends before waiting for the transport to drain.
WS_BATCH_BYTES = 64 * 1024


def write_stream(
    sub: Subscriber, cap: int, counters: Counters, loop: asyncio.AbstractEventLoop
) -> None:
    """Write ``sub``'s queued frames straight to its transport: one write per subscriber
    per tick, capped in bytes (WS frames, or HTTP chunks of SSE blocks). A peer that does
    not keep up (data left in its transport buffer) is drained with flow control instead,
    by its SSE handler or a WS writer task, until its queue is empty."""
    if sub.draining:
        return
    transport = sub.transport
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
            ws.send_texts(frames)
        else:
            data = b"".join(frames)
            # aiohttp prepared the response with chunked transfer coding (HTTP/1.1);
            # writing whole chunks here saves a task wake-up per stream per event.
            transport.write(b"%x\r\n%b\r\n" % (len(data), data) if sub.chunked else data)
        counters.messages_out[sub.route] += len(frames)
    if sub.ending:
        sub.signal()


def write_caught_up(
    subscribers: Iterable[Subscriber], events: list[EncodedEvent], cap: int, counters: Counters
) -> list[Subscriber]:
    """Write this tick's ``events`` to every caught-up subscriber (nothing queued, not
    draining or ending, its transport buffer below ``cap``) and return the others, whose
    queues must take them.

    A caught-up subscriber would queue the events and write them at once in one write: it
    gets the same bytes as every other caught-up subscriber, so they are built once per tick
    (SSE blocks, as one HTTP chunk or raw for HTTP/1.0; WebSocket text frames). On
    bench/run.py's SSE fan-out (100 streams) the per-subscriber, per-event queue work was most
    of the server's Python time: CPU per delivery went from 1.26x to 0.92x of the coalescing
    Node server (docs/benchmarks.md). The caller checks that the batch fits the queue bounds and
    ``cap``, so the bytes written are exactly those the queue path would write."""
    sse_block = b"".join([e.sse_frame for e in events])
    sse_chunk = b"%x\r\n%b\r\n" % (len(sse_block), sse_block)
    ws_block = text_frames([e.ws_frame for e in events])
    behind: list[Subscriber] = []
    # Written streams counted once, after the loop, not per subscriber, and the queue's list
    # read without a call to its __len__: with the fan-out path itself server CPU per SSE
    # delivery went 2.20 -> 2.02 µs (bench/sse_writes.sh, two alternating runs).
    sse_written = ws_written = 0
    for sub in subscribers:
        transport = sub.transport
        if (
            sub.queue.frames
            or sub.draining
            or sub.ending
            or transport is None
            or transport.is_closing()
            or transport.get_write_buffer_size() >= cap
        ):
            behind.append(sub)
            continue
        ws = sub.ws
        if ws is None:
            transport.write(sse_chunk if sub.chunked else sse_block)
            sse_written += 1
        elif ws.send_framed(ws_block):
            ws_written += 1
    out = counters.messages_out
    count = len(events)
    out["sse"] += sse_written * count
    out["ws"] += ws_written * count
    return behind


async def drain_ws(sub: Subscriber, ws: WsConnection, counters: Counters) -> None:
    """The slow path of a WebSocket that fell behind: write as the transport drains."""
    out = counters.messages_out
    try:
        while sub.queue and not ws.closed:
            await ws.drain()
            frames = sub.queue.take(WS_BATCH_BYTES)
            ws.send_texts(frames)
            out["ws"] += len(frames)
    except (ConnectionError, RuntimeError):
        pass  # the connection went away; its handler cleans up
    finally:
        sub.writer = None
        sub.draining = False
