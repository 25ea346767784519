"""WsClient against the real server on 127.0.0.1, behind the fault proxy where the network
misbehaves; the faults a healthy server does not make (an ack lost after the apply, refused
handshakes, pings without heartbeat events) are switched on with the hub's fault hooks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import pytest

from selector.runtime.client import ClientStoppedError, WsClient
from selector.runtime.protocol.envelope import Publish
from selector.runtime.protocol.outbox import OutboxFullError
from selector.runtime.server.hub import Hub
from selector.runtime.server.settings import Heartbeat
from selector.runtime.server.subscriber import Subscriber
from selector.verify.proxy import FaultProxy

from .conftest import UNIT, StreamOpens, client_options, eventually, serving


def _ws(address: str, **options: object) -> WsClient:
    return WsClient(f"ws://{address}", **client_options(**options))  # type: ignore[arg-type]


def _only_stream(hub: Hub) -> Subscriber:
    (sub,) = hub.subscribers.values()
    return sub


def run_with_server(scenario: Callable[[Hub, str], Awaitable[None]], **settings: object) -> None:
    """Run ``scenario(hub, "host:port")`` against a real server (bounded to 20 units)."""

    async def main() -> None:
        async with serving(**settings) as (hub, address), asyncio.timeout(20 * UNIT):
            hub.applied_log = []
            await scenario(hub, address)

    asyncio.run(main())


def test_events_arrive_in_order_and_mutations_are_applied_once_and_acked() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        seen: list[int] = []
        client = _ws(address, client_id="c1", on_event=lambda e: seen.append(e.id))
        async with client:
            await client.wait_connected(5 * UNIT)
            for i in range(3):
                hub.publish(Publish("tick", {"n": i}))
            await client.wait_events(3, 5 * UNIT)
            for i in range(4):
                await client.send("incr", {"key": "k", "by": i})
            await client.wait_acked(5 * UNIT)
        assert [(e.id, e.event, e.data) for e in client.events] == [
            (1, "tick", {"n": 0}),
            (2, "tick", {"n": 1}),
            (3, "tick", {"n": 2}),
        ]
        assert seen == [1, 2, 3]
        assert hub.applied_log == [("c1", i + 1) for i in range(4)]
        assert hub.store.view()["kv"] == {"k": 0 + 1 + 2 + 3}
        assert client.stats.acks == 4
        assert client.stats.reconnects == 0

    run_with_server(scenario)


def test_close_leaves_no_task_and_no_connection_behind() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        client = _ws(address)
        await client.start()
        await client.wait_connected(5 * UNIT)
        http = client._http
        assert http is not None
        await client.close()
        names = {t.get_name() for t in asyncio.all_tasks()}
        assert not any(name.startswith("WsClient") for name in names)
        assert http.closed
        await eventually(lambda: not hub.subscribers)
        with pytest.raises(ClientStoppedError):
            await client.send("set", {})

    run_with_server(scenario)


@pytest.mark.parametrize("code", [1000, 1001, 1012])
def test_clean_server_close_reconnects_and_resumes_after_the_last_event(code: int) -> None:
    async def scenario(hub: Hub, address: str) -> None:
        with StreamOpens() as log:
            async with _ws(address) as client:
                await client.wait_connected(5 * UNIT)
                for i in range(3):
                    hub.publish(Publish("tick", i))
                await client.wait_events(3, 5 * UNIT)
                ws = _only_stream(hub).ws
                assert ws is not None
                closing_at = asyncio.get_running_loop().time()  # the client's close is later
                ws.close(code, b"retry_after_ms=150")
                await eventually(lambda: not client.connected)
                hub.publish(Publish("tick", 3))  # missed while away
                hub.publish(Publish("tick", 4))
                await client.wait_events(5, 5 * UNIT)
        assert [e.id for e in client.events] == [1, 2, 3, 4, 5]
        assert client.stats.duplicate_events == 0
        assert [line["last_event_id"] for _, line in log.opens] == [None, 3]
        # retry_after_ms is a floor: the reconnect came no sooner than 150 ms after the close
        assert log.opens[1][0] - closing_at >= 0.15

    run_with_server(scenario)


def test_a_close_code_that_a_retry_cannot_fix_stops_the_client() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        with StreamOpens() as log:
            async with _ws(address) as client:
                await client.wait_connected(5 * UNIT)
                ws = _only_stream(hub).ws
                assert ws is not None
                ws.close(1008, b"policy")
                with pytest.raises(ClientStoppedError):
                    await client.wait_until(lambda: False, 5 * UNIT)
                assert client.failure is not None and "1008" in client.failure
        assert len(log.opens) == 1

    run_with_server(scenario)


def test_resuming_from_an_id_older_than_the_buffer_reports_a_resync() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        async with _ws(address) as client:
            await client.wait_connected(5 * UNIT)
            hub.publish(Publish("tick", 0))
            await client.wait_events(1, 5 * UNIT)
            ws = _only_stream(hub).ws
            assert ws is not None
            ws.close(1001, b"retry_after_ms=200")
            await eventually(lambda: not client.connected)
            for i in range(5):
                hub.publish(Publish("tick", i + 1))  # ids 2..6; only 5 and 6 are retained
            await client.wait_until(lambda: client.stats.resyncs != [], 5 * UNIT)
            hub.publish(Publish("tick", 6))
            await client.wait_events(2, 5 * UNIT)
        resync = client.stats.resyncs[0]
        assert (resync.after, resync.oldest, resync.latest) == (1, 5, 6)
        assert [e.id for e in client.events] == [1, 7]
        assert client.stats.missed_ids == 0  # the gap was announced, not silently skipped

    run_with_server(scenario, replay_max_events=2)


def test_data_that_json_cannot_carry_is_refused_before_it_is_queued() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        async with _ws(address) as client:
            await client.wait_connected(5 * UNIT)
            with pytest.raises(ValueError, match="not JSON-serializable"):
                await client.send("set", {"when": object()})
            with pytest.raises(ValueError, match="non-empty"):
                await client.send("", {})
            assert client.pending == ()
            await client.send("set", {"key": "a", "value": 1})
            await client.wait_acked(5 * UNIT)
        assert [seq for _, seq in hub.applied_log or []] == [1]

    run_with_server(scenario)


def test_an_oversized_server_frame_closes_with_1009_and_stops() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        async with _ws(address, max_message_size=1024) as client:
            await client.wait_connected(5 * UNIT)
            hub.publish(Publish("big", "x" * 4096))
            with pytest.raises(ClientStoppedError):
                await client.wait_until(lambda: False, 5 * UNIT)
        assert client.failure is not None
        assert client.failure.startswith("protocol error, closed with 1009")
        assert client.stats.events == 0

    run_with_server(scenario)


def test_a_mutation_whose_ack_was_lost_is_replayed_in_order_and_applied_once() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        hub.faults.cut_after_apply = 2  # the first two mutations are applied, then the link is cut
        async with _ws(address, client_id="c2") as client:
            await client.wait_connected(5 * UNIT)
            for i in range(5):
                await client.send("incr", {"key": "k", "by": 2**i})
            await client.wait_acked(10 * UNIT)
        assert hub.applied_log == [("c2", seq) for seq in range(1, 6)]
        assert hub.store.view()["kv"] == {"k": 31}  # each power of two added exactly once
        assert client.stats.reconnects >= 2
        assert client.stats.duplicate_acks >= 1  # the server recognised a replay
        assert client.pending == ()

    run_with_server(scenario)


def test_mutations_sent_while_disconnected_wait_in_the_outbox() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        hub.faults.refuse_streams = HTTPStatus.SERVICE_UNAVAILABLE  # retryable: it keeps trying
        async with _ws(address, client_id="c3") as client:
            await client.send("set", {"key": "a", "value": 1})
            await client.send("set", {"key": "b", "value": 2})
            await eventually(lambda: client.state.backoff.attempt >= 2)
            assert [m.seq for m in client.pending] == [1, 2]
            assert hub.applied_log == []
            hub.faults.refuse_streams = None
            await client.wait_acked(5 * UNIT)
        assert hub.applied_log == [("c3", 1), ("c3", 2)]

    run_with_server(scenario)


def test_a_4xx_handshake_stops_the_client_with_the_status() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        hub.faults.refuse_streams = HTTPStatus.FORBIDDEN
        with StreamOpens() as log:
            async with _ws(address) as client:
                with pytest.raises(ClientStoppedError):
                    await client.wait_connected(5 * UNIT)
                assert client.failure == "handshake refused: HTTP 403"
        assert log.opens == []

    run_with_server(scenario)


def test_max_consecutive_failures_bounds_the_retries() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        hub.faults.refuse_streams = HTTPStatus.SERVICE_UNAVAILABLE
        async with _ws(address, max_consecutive_failures=3) as client:
            with pytest.raises(ClientStoppedError):
                await client.wait_connected(5 * UNIT)
            assert client.failure is not None and "gave up after 3" in client.failure
            assert len(client.stats.disconnects) == 4
        assert hub.counters.rejected_connections["fault_injected"] == 4

    run_with_server(scenario)


def test_sends_interleaved_with_connection_cuts_keep_seq_order_on_every_connection() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        with StreamOpens() as log:
            async with _ws(address, client_id="race") as client:
                await client.wait_connected(5 * UNIT)
                hub.faults.cut_after_apply = 3

                async def burst(start: int) -> None:
                    for i in range(start, start + 10):
                        await client.send("set", {"key": "k", "value": i})
                        await asyncio.sleep(0)  # let the sends interleave with the cuts

                await asyncio.gather(*(burst(n * 10) for n in range(4)))
                await client.wait_acked(10 * UNIT)
        # The server applies a client's seqs only in order (a later seq first would turn the
        # earlier one into a "duplicate" never applied): every seq applied, once, in order,
        # means every connection carried replays first, then new ones, never reordered.
        assert hub.applied_log == [("race", seq) for seq in range(1, 41)]
        assert len(log.opens) >= 4  # three cuts happened

    run_with_server(scenario)


def test_a_full_outbox_refuses_new_mutations_while_the_server_is_away() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        hub.faults.refuse_streams = HTTPStatus.SERVICE_UNAVAILABLE
        async with _ws(address, client_id="full", outbox_capacity=2) as client:
            await client.send("a")
            await client.send("b")
            with pytest.raises(OutboxFullError):
                await client.send("c")
            hub.faults.refuse_streams = None
            await client.wait_acked(5 * UNIT)
            await client.send("c")  # room again once acked
            await client.wait_acked(5 * UNIT)
        assert hub.applied_log == [("full", 1), ("full", 2), ("full", 3)]

    run_with_server(scenario)


def test_the_token_travels_as_a_bearer_header() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        host, port = address.rsplit(":", 1)
        async with FaultProxy((host, int(port))) as proxy:  # noqa: SIM117 (its port)
            async with _ws(f"127.0.0.1:{proxy.port}", token="s3cret") as client:
                await client.wait_connected(5 * UNIT)
        (head,) = proxy.stats.request_heads
        request_line, *headers = head.split(b"\r\n")
        assert request_line.startswith(b"GET /ws?")
        assert b"Authorization: Bearer s3cret" in headers
        assert b"s3cret" not in request_line  # not leaked into URLs and logs

    run_with_server(scenario, tokens=("s3cret",))


def test_protocol_pings_count_as_proof_of_life() -> None:
    """Protocol pings alone (no heartbeat events, which the server normally adds to each)
    keep a quiet link alive."""
    beat = 0.05 * UNIT

    async def scenario(hub: Hub, address: str) -> None:
        hub.faults.pings_only = True
        timeout = 0.4 * UNIT
        async with _ws(address, silence_timeout=timeout) as client:
            await client.wait_connected(5 * UNIT)
            loop = asyncio.get_running_loop()
            alive_since = loop.time()
            # Three silence timeouts of only pings (a ping wakes no waiter of the client, so
            # this polls): a dead-peer verdict, if any, would have come by then.
            await eventually(lambda: loop.time() - alive_since > 3 * timeout, 10)
            assert client.stats.dead_peers == []
            assert client.stats.reconnects == 0
            # No heartbeat event arrived: the pings alone kept it alive.
            assert client.stats.heartbeats == 0 and client.stats.events == 0

    heartbeat = Heartbeat(ping_interval_s=beat, pong_timeout_s=2 * UNIT, sse_comment_s=None)
    run_with_server(scenario, heartbeat=heartbeat)
