"""Silent drop for real: a proxy that stops forwarding but keeps both sockets open.

The real server on 127.0.0.1 behind the fault proxy: even the close handshake and new
connection attempts vanish, so detection, the bounded close and the connect timeout all run
for real.
"""

from __future__ import annotations

import asyncio

import pytest

from selector.runtime.client import SseClient, WsClient
from selector.runtime.protocol.backoff import Backoff
from selector.runtime.protocol.envelope import Publish
from selector.runtime.server.hub import Hub
from selector.runtime.server.settings import Heartbeat
from selector.verify.proxy import FaultProxy
from tests.runtime.conftest import UNIT, serving


@pytest.mark.parametrize("client_class", [WsClient, SseClient])
def test_black_hole_is_detected_by_silence_and_the_stream_resumes_after_it(
    client_class: type[WsClient] | type[SseClient],
) -> None:
    silence = 0.4 * UNIT

    async def main() -> None:
        beat = 0.05 * UNIT
        heartbeat = Heartbeat(ping_interval_s=beat, pong_timeout_s=2 * UNIT, sse_comment_s=beat)
        async with serving(heartbeat=heartbeat) as (hub, address):
            hub.applied_log = []
            host, upstream_port = address.rsplit(":", 1)
            async with FaultProxy((host, int(upstream_port))) as proxy:
                await scenario(hub, proxy)

    async def scenario(hub: Hub, proxy: FaultProxy) -> None:
        port = proxy.port
        options: dict[str, object] = {
            "silence_timeout": silence,
            "connect_timeout": 0.3 * UNIT,
            "backoff": Backoff(base=0.02 * UNIT, cap=0.1 * UNIT),
        }
        if client_class is WsClient:
            options["close_timeout"] = 0.2 * UNIT
        client = client_class(f"http://127.0.0.1:{port}", **options)  # type: ignore[arg-type]
        async with asyncio.timeout(20 * UNIT), client:
            await client.wait_connected(5 * UNIT)
            hub.publish(Publish("tick", 1))
            await client.wait_events(1, 5 * UNIT)
            await client.send("set", {"key": "a", "value": 1})
            await client.wait_acked(5 * UNIT)

            proxy.blackhole = True
            hub.publish(Publish("tick", 2))  # swallowed
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
        # Each mutation applied exactly once, in order, though the second was re-sent.
        assert hub.applied_log == [(client.client_id, 1), (client.client_id, 2)]
        assert hub.store.view()["kv"] == {"a": 1, "b": 2}

    asyncio.run(main())
