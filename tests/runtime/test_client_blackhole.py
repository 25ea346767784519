"""Silent drop for real: a proxy that stops forwarding but keeps both sockets open.

Unlike the peer's ``silent`` switch, here even the close handshake and new connection
attempts vanish, so detection, the bounded close and the connect timeout all run for real.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from selector.runtime.client import SseClient, WsClient
from selector.runtime.protocol.backoff import Backoff
from selector.verify.proxy import FaultProxy

from .peers import UNIT, TestPeer


@pytest.mark.parametrize("client_class", [WsClient, SseClient])
def test_black_hole_is_detected_by_silence_and_the_stream_resumes_after_it(
    client_class: type[WsClient] | type[SseClient],
) -> None:
    silence = 0.4 * UNIT

    async def main() -> None:
        peer = TestPeer(heartbeat_interval=0.05 * UNIT)
        upstream = urlsplit(await peer.start())
        assert upstream.hostname is not None and upstream.port is not None
        proxy = await FaultProxy((upstream.hostname, upstream.port)).start()
        port = proxy.port
        options: dict[str, object] = {
            "silence_timeout": silence,
            "connect_timeout": 0.3 * UNIT,
            "backoff": Backoff(base=0.02 * UNIT, cap=0.1 * UNIT),
        }
        if client_class is WsClient:
            options["close_timeout"] = 0.2 * UNIT
        client = client_class(f"http://127.0.0.1:{port}", **options)  # type: ignore[arg-type]
        try:
            async with asyncio.timeout(20 * UNIT), client:
                await client.wait_connected(5 * UNIT)
                await peer.publish("tick", 1)
                await client.wait_events(1, 5 * UNIT)
                await client.send("set", {"key": "a", "value": 1})
                await client.wait_acked(5 * UNIT)

                proxy.blackhole = True
                await peer.publish("tick", 2)  # swallowed
                await client.send("set", {"key": "b", "value": 2})  # swallowed too
                await client.wait_until(lambda: client.stats.dead_peers != [], 5 * UNIT)
                verdict = client.stats.dead_peers[0]
                assert silence <= verdict.silent_for < silence + 2 * UNIT
                # While the hole lasts, new attempts hang and time out; none succeeds.
                await client.wait_until(
                    lambda: any(r.startswith("connect failed") for r in client.stats.disconnects),
                    5 * UNIT,
                )
                assert not client.connected

                proxy.blackhole = False
                await client.wait_events(2, 5 * UNIT)  # event 2 replayed on resume
                await client.wait_acked(5 * UNIT)  # mutation 2 replayed until acked
            assert [e.id for e in client.events] == [1, 2]
            assert proxy.stats.faults["forced:silent_drop"] >= 1
            assert proxy.stats.faults["forced:ignored_connect"] >= 1
            assert [(seq, data) for _, seq, _, data in peer.applied] == [
                (1, {"key": "a", "value": 1}),
                (2, {"key": "b", "value": 2}),
            ]
        finally:
            await proxy.close()
            await peer.stop()

    asyncio.run(main())
