"""SseClient against the real server on 127.0.0.1 (behind the fault proxy for a silent link);
the faults the server does not make (ending streams on demand, losing a response after the
apply) and the exact request headers still come from the test peer (tests/runtime/peers.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from selector.runtime.client import ClientStoppedError, SseClient
from selector.runtime.protocol.envelope import Publish
from selector.runtime.server.hub import Hub
from selector.runtime.server.settings import Heartbeat
from selector.verify.proxy import FaultProxy

from .conftest import UNIT, client_options, eventually, serving
from .peers import TestPeer, run_with_peer


def _client(peer: TestPeer, **options: object) -> SseClient:
    return SseClient(peer.base_url, **client_options(**options))  # type: ignore[arg-type]


def _sse(address: str, **options: object) -> SseClient:
    return SseClient(f"http://{address}", **client_options(**options))  # type: ignore[arg-type]


def run_with_server(scenario: Callable[[Hub, str], Awaitable[None]], **settings: object) -> None:
    """Run ``scenario(hub, "host:port")`` against a real server (bounded to 20 units)."""

    async def main() -> None:
        async with serving(**settings) as (hub, address), asyncio.timeout(20 * UNIT):
            hub.applied_log = []
            await scenario(hub, address)

    asyncio.run(main())


def test_events_stream_in_and_mutations_go_up_by_post() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        async with _sse(address, client_id="s1") as client:
            await client.wait_connected(5 * UNIT)
            for i in range(3):
                hub.publish(Publish("tick", {"n": i}))
            await client.wait_events(3, 5 * UNIT)
            for i in range(3):
                await client.send("incr", {"key": "k", "by": i})
            await client.wait_acked(5 * UNIT)
        assert [(e.id, e.data) for e in client.events] == [
            (1, {"n": 0}),
            (2, {"n": 1}),
            (3, {"n": 2}),
        ]
        assert hub.applied_log == [("s1", i + 1) for i in range(3)]
        assert hub.store.view()["kv"] == {"k": 3}
        assert client.state.server_retry == 0.05  # the server's retry: 50

    run_with_server(scenario, sse_retry_ms=50)


def test_a_silent_stream_is_declared_dead_and_reopened() -> None:
    beat = 0.05 * UNIT

    async def scenario(hub: Hub, address: str) -> None:
        host, port = address.rsplit(":", 1)
        timeout = 0.4 * UNIT
        async with FaultProxy((host, int(port))) as proxy:  # noqa: SIM117 (its port)
            async with _sse(f"127.0.0.1:{proxy.port}", silence_timeout=timeout) as client:
                await client.wait_connected(5 * UNIT)
                hub.publish(Publish("tick", 0))
                await client.wait_events(1, 5 * UNIT)
                # Comment heartbeats keep it alive past several silence timeouts.
                alive_since = asyncio.get_running_loop().time()
                await client.wait_until(
                    lambda: asyncio.get_running_loop().time() - alive_since > 3 * timeout,
                    10 * UNIT,
                )
                assert client.stats.dead_peers == []
                proxy.blackhole = True
                hub.publish(Publish("tick", 1))  # dropped on the way
                await client.wait_until(lambda: client.stats.dead_peers != [], 5 * UNIT)
                assert client.stats.dead_peers[0].silent_for >= timeout
                proxy.blackhole = False
                await client.wait_events(2, 5 * UNIT)  # recovered on resume
        assert [e.id for e in client.events] == [1, 2]

    heartbeat = Heartbeat(ping_interval_s=beat, pong_timeout_s=2 * UNIT, sse_comment_s=beat)
    run_with_server(scenario, heartbeat=heartbeat)


def test_a_refused_mutation_is_dropped_not_retried_forever() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        async with _sse(address) as client:
            await client.send("incr", {"key": "a", "by": "two"})  # the server refuses it
            await client.send("set", {"key": "b", "value": 1})
            await client.wait_acked(5 * UNIT)
            assert [m.seq for m in client.state.outbox.rejected] == [1]
            assert client.stats.errors[0].code == "INVALID_PAYLOAD"
        assert [seq for _, seq in hub.applied_log or []] == [2]

    run_with_server(scenario)


def test_close_leaves_no_task_and_no_stream_behind() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        client = _sse(address)
        await client.start()
        await client.wait_connected(5 * UNIT)
        await client.close()
        assert not any(t.get_name().startswith("SseClient") for t in asyncio.all_tasks())
        await eventually(lambda: not hub.subscribers)

    run_with_server(scenario)


def test_ended_stream_reconnects_after_retry_and_resumes_with_last_event_id() -> None:
    async def scenario(peer: TestPeer) -> None:
        async with _client(peer) as client:
            await client.wait_connected(5 * UNIT)
            await peer.publish("tick", 0)
            await peer.publish("tick", 1)
            await client.wait_events(2, 5 * UNIT)
            peer.end_sse_streams(retry_ms=150)
            ended_at = asyncio.get_running_loop().time()
            await eventually(lambda: not client.connected)
            await peer.publish("tick", 2)
            await client.wait_events(3, 5 * UNIT)
        assert [e.id for e in client.events] == [1, 2, 3]
        assert [c.last_event_id for c in peer.connections] == [None, "2"]
        assert peer.connections[1].at - ended_at >= 0.15  # retry: 150 is the floor

    run_with_peer(TestPeer(), scenario)


def test_post_whose_response_was_lost_is_retried_in_order_and_applied_once() -> None:
    async def scenario(peer: TestPeer) -> None:
        peer.lose_acks = 2
        async with _client(peer, client_id="s2") as client:
            for i in range(4):
                await client.send("set", {"key": "k", "value": i})
            await client.wait_acked(10 * UNIT)
        assert [(seq, data["value"]) for _, seq, _, data in peer.applied] == [
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 3),
        ]
        assert client.stats.duplicate_acks >= 1

    run_with_peer(TestPeer(), scenario)


@pytest.mark.parametrize(
    ("status", "content_type", "failure"),
    [
        (204, None, "HTTP 204: server asked to stop"),
        (200, "text/plain", "not an event stream: text/plain"),
        (404, None, "HTTP 404"),
    ],
)
def test_responses_that_are_not_streams_stop_the_client(
    status: int, content_type: str | None, failure: str
) -> None:
    async def main() -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=status, content_type=content_type)

        app = web.Application()
        app.router.add_get("/sse", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        try:
            async with SseClient(f"http://{host}:{port}") as client:
                with pytest.raises(ClientStoppedError):
                    await client.wait_connected(5 * UNIT)
                assert client.failure == failure
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_the_token_goes_in_the_query_for_the_stream_and_as_a_header_for_posts() -> None:
    async def scenario(peer: TestPeer) -> None:
        async with _client(peer, token="s3cret") as client:
            await client.wait_connected(5 * UNIT)
            await client.send("set", {"key": "a"})
            await client.wait_acked(5 * UNIT)
        assert peer.connections[0].query_token == "s3cret"  # what EventSource can send
        assert peer.post_authorizations == ["Bearer s3cret"]

    run_with_peer(TestPeer(), scenario)
