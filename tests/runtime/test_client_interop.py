"""WsClient against an independent WebSocket implementation: the ``websockets`` library.

The peer here is a few lines of a different stack (its own framing, close handshake and
pings), so the client is not only tested against aiohttp talking to aiohttp.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve

from selector.runtime.client import WsClient
from selector.runtime.protocol.backoff import Backoff

from .conftest import UNIT


def test_websockets_peer_close_1012_pings_and_resume() -> None:
    queries: list[dict[str, list[str]]] = []

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        query = parse_qs(urlsplit(ws.request.path).query)
        queries.append(query)
        if len(queries) == 1:
            for event_id in (1, 2):
                await ws.send(json.dumps({"id": event_id, "event": "tick", "data": event_id}))
            await asyncio.sleep(0.5 * UNIT)  # only library pings in this quiet period
            await ws.close(1012, "service restart; retry_after_ms=100")
        else:
            await ws.send(json.dumps({"id": 3, "event": "tick", "data": 3}))
            message = json.loads(await ws.recv())
            await ws.send(json.dumps({"ack": message["seq"], "status": "ok"}))
            await ws.wait_closed()

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, ping_interval=0.05 * UNIT) as server:
            port = server.sockets[0].getsockname()[1]
            client = WsClient(
                f"ws://127.0.0.1:{port}",
                client_id="interop",
                silence_timeout=0.3 * UNIT,  # shorter than the quiet period: pings must count
                backoff=Backoff(base=0.02 * UNIT, cap=0.1 * UNIT),
            )
            async with asyncio.timeout(20 * UNIT), client:
                await client.wait_events(3, 5 * UNIT)
                await client.send("set", {"key": "a", "value": 1})
                await client.wait_acked(5 * UNIT)
            assert [e.id for e in client.events] == [1, 2, 3]
            assert client.stats.dead_peers == []
            assert client.stats.reconnects == 1
            assert client.stats.disconnects[0].startswith("closed by server: 1012")
            secret = queries[0].pop("secret")  # the id's resume secret, the same on resume
            assert queries[0] == {"client_id": ["interop"]}
            assert queries[1] == {
                "client_id": ["interop"],
                "secret": secret,
                "last_event_id": ["2"],
            }

    asyncio.run(main())
