"""SseClient against the real server on 127.0.0.1, behind the fault proxy where the request
heads matter; a response lost after the apply comes from the hub's fault hooks. The silence
timeout is tested for both clients in tests/runtime/test_client_server.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from selector.runtime.client import ClientStoppedError, SseClient
from selector.runtime.protocol.envelope import Publish
from selector.runtime.server.hub import Hub
from selector.runtime.server.shutdown import close_streams
from selector.verify.proxy import FaultProxy

from .conftest import UNIT, StreamOpens, client_options, eventually, serving


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
    async def scenario(hub: Hub, address: str) -> None:
        with StreamOpens() as log:
            async with _sse(address) as client:
                await client.wait_connected(5 * UNIT)
                hub.publish(Publish("tick", 0))
                hub.publish(Publish("tick", 1))
                await client.wait_events(2, 5 * UNIT)
                # The server's graceful end of one stream: ``retry: 150``, then the end.
                ended_at = asyncio.get_running_loop().time()
                await close_streams(list(hub.subscribers.values()), hub.settings)
                await eventually(lambda: not client.connected)
                hub.publish(Publish("tick", 2))
                await client.wait_events(3, 5 * UNIT)
        assert [e.id for e in client.events] == [1, 2, 3]
        assert [line["last_event_id"] for _, line in log.opens] == [None, 2]
        assert log.opens[1][0] - ended_at >= 0.15  # retry: 150 is the floor

    run_with_server(
        scenario, sse_retry_ms=50, shutdown_retry_after_ms=150, shutdown_retry_spread_ms=0
    )


def test_post_whose_response_was_lost_is_retried_in_order_and_applied_once() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        hub.faults.cut_after_apply = 2  # two responses lost after the apply
        async with _sse(address, client_id="s2") as client:
            for i in range(4):
                await client.send("incr", {"key": "k", "by": 2**i})
            await client.wait_acked(10 * UNIT)
        assert hub.applied_log == [("s2", seq) for seq in range(1, 5)]
        assert hub.store.view()["kv"] == {"k": 15}  # each power of two added exactly once
        assert client.stats.duplicate_acks >= 1

    run_with_server(scenario)


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
    async def scenario(hub: Hub, address: str) -> None:
        host, port = address.rsplit(":", 1)
        async with FaultProxy((host, int(port))) as proxy:  # noqa: SIM117 (its port)
            async with _sse(f"127.0.0.1:{proxy.port}", token="s3cret") as client:
                await client.wait_connected(5 * UNIT)
                await client.send("set", {"key": "a"})
                await client.wait_acked(5 * UNIT)
        heads = [head.split(b"\r\n") for head in proxy.stats.request_heads]
        (stream,) = [lines for lines in heads if lines[0].startswith(b"GET /sse?")]
        (post,) = [lines for lines in heads if lines[0].startswith(b"POST /mutations")]
        assert b"token=s3cret" in stream[0]  # what EventSource can send
        assert b"Authorization: Bearer s3cret" in post[1:]
        assert b"s3cret" not in post[0]

    run_with_server(scenario, tokens=("s3cret",))


def test_posts_that_keep_failing_stop_the_client_at_max_consecutive_failures() -> None:
    """The stream is up but every POST /mutations fails (404 is retried, as any status that
    does not refuse the mutation itself): the POST sender gives up after the same number of
    consecutive failures as the reconnect loop, instead of retrying for ever, and the waiters
    see why."""

    async def scenario(hub: Hub, address: str) -> None:
        client = _sse(
            address,
            mutations_url=f"http://{address}/nowhere",
            max_consecutive_failures=2,
        )
        async with client:
            await client.wait_connected(5 * UNIT)
            await client.send("noop")
            with pytest.raises(ClientStoppedError, match="gave up after 2 failed POST"):
                await client.wait_acked(5 * UNIT)
            assert client.failure == "gave up after 2 failed POST attempts: POST answered HTTP 404"
            assert not client.connected and len(client.pending) == 1
            with pytest.raises(ClientStoppedError):
                await client.send("noop")
        assert hub.applied_log == []

    run_with_server(scenario)
