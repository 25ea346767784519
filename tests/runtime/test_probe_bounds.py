"""``selector probe`` against hostile or clock-driven endpoints: what it reads from a WebSocket
endpoint is bounded (frame length, Pings in a row), and the SSE probe waits on the clock it
reads. Real aiohttp servers on 127.0.0.1; the verify-side probe tests are in
tests/verify/test_probe.py."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from selector.runtime.clock import ManualClock
from selector.verify.idlesearch import first_durations
from selector.verify.probe import (
    MAX_CONTROL_FRAMES,
    MAX_FRAME_BYTES,
    ProbeError,
    ProbeSettings,
    probe_idle_timeout,
)
from selector.verify.sseprobe import probe_sse_idle_timeout

from .conftest import UNIT, arun, eventually, serving

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: One connection, one short round: the hostile bytes arrive right after the handshake.
_SETTINGS = ProbeSettings(
    max_idle_s=2 * UNIT, precision_s=1, connections=1, reply_timeout_s=1 * UNIT, max_rounds=1
)


@asynccontextmanager
async def hostile_endpoint(sent_after_handshake: bytes) -> AsyncIterator[str]:
    """A WebSocket endpoint that accepts the handshake, writes ``sent_after_handshake`` and
    then stays silent; yields its ``ws://`` URL."""

    async def handler(request: web.Request) -> web.StreamResponse:
        key = request.headers["Sec-WebSocket-Key"].encode()
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
        response = web.StreamResponse(
            status=101,
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Accept": accept,
            },
        )
        await response.prepare(request)
        assert request.transport is not None
        request.transport.write(sent_after_handshake)
        await asyncio.get_running_loop().create_future()  # held until the server stops
        return response

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        await runner.cleanup()


def test_a_frame_longer_than_the_probe_reads_is_refused_with_a_clear_error() -> None:
    """A binary frame claiming 2**40 bytes: refused at its header, not waited for (the old
    reader asked for all of it and sat until the idle deadline)."""
    header = bytes([0x82, 127]) + struct.pack("!Q", 2**40)

    async def scenario() -> None:
        async with hostile_endpoint(header) as url:
            with pytest.raises(
                ProbeError, match=f"frame of {2**40} bytes.*at most {MAX_FRAME_BYTES}"
            ):
                await probe_idle_timeout(url, _SETTINGS)

    arun(scenario())


def test_a_flood_of_pings_is_answered_only_up_to_the_cap() -> None:
    """More Pings in a row than :data:`MAX_CONTROL_FRAMES`: the probe stops answering and says
    so, rather than writing Pongs for as long as the endpoint sends Pings."""
    pings = bytes([0x89, 0x00]) * (MAX_CONTROL_FRAMES + 1)

    async def scenario() -> None:
        async with hostile_endpoint(pings) as url:
            with pytest.raises(ProbeError, match=f"more than {MAX_CONTROL_FRAMES} Pings"):
                await probe_idle_timeout(url, _SETTINGS)

    arun(scenario())


def test_the_sse_probe_waits_on_the_clock_it_reads() -> None:
    """A 600 s round on a clock the test moves: every wait of the round (the streams opening
    at their time, the publish at the end) is on that clock, so moving it 600 s ends the
    round at once and every stream survived (nothing drops on 127.0.0.1)."""
    clock = ManualClock()
    settings = ProbeSettings(max_idle_s=600, precision_s=1, connections=2, max_rounds=1)
    durations = first_durations(settings.max_idle_s, settings.precision_s, settings.connections)

    async def scenario() -> None:
        async with serving() as (_hub, address):
            probing = asyncio.create_task(
                probe_sse_idle_timeout(f"http://{address}/sse?client_id=p", settings, clock=clock)
            )
            # Each stream's wait (to open, or its read deadline) and the round's own.
            await eventually(lambda: clock.sleepers == len(durations) + 1)
            clock.advance(settings.max_idle_s)
            result = await asyncio.wait_for(probing, 5 * UNIT)
            assert [h.outcome for h in result.held] == ["survived"] * len(durations)
            assert (result.rounds, result.idle_timeout_s, result.drop) == (1, None, "none")

    arun(scenario())
