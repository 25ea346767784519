"""WsClient against the real server on 127.0.0.1, behind the fault proxy where the network
misbehaves; the faults the server itself does not make (an ack lost after the apply, refused
handshakes) still come from the test peer (tests/runtime/peers.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from selector.runtime.client import ClientStoppedError, WsClient
from selector.runtime.protocol.envelope import Publish
from selector.runtime.protocol.outbox import OutboxFullError
from selector.runtime.server.hub import Hub
from selector.runtime.server.settings import Heartbeat
from selector.runtime.server.subscriber import Subscriber
from selector.verify.proxy import FaultProxy

from .conftest import UNIT, StreamOpens, client_options, eventually, serving
from .peers import TestPeer, run_with_peer

Scenario = Callable[[TestPeer], Awaitable[None]]


def _client(peer: TestPeer, **options: object) -> WsClient:
    return WsClient(peer.base_url.replace("http", "ws"), **client_options(**options))  # type: ignore[arg-type]


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
                await ws.close(code=code, message=b"retry_after_ms=150")
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
                await ws.close(code=1008, message=b"policy")
                with pytest.raises(ClientStoppedError):
                    await client.wait_until(lambda: False, 5 * UNIT)
                assert client.failure is not None and "1008" in client.failure
        assert len(log.opens) == 1

    run_with_server(scenario)


def test_a_silent_server_is_declared_dead_and_the_client_comes_back() -> None:
    beat = 0.05 * UNIT

    async def scenario(hub: Hub, address: str) -> None:
        host, port = address.rsplit(":", 1)
        timeout = 0.4 * UNIT
        async with FaultProxy((host, int(port))) as proxy:  # noqa: SIM117 (its port)
            async with _ws(f"127.0.0.1:{proxy.port}", silence_timeout=timeout) as client:
                await client.wait_connected(5 * UNIT)
                hub.publish(Publish("before", 0))
                await client.wait_events(1, 5 * UNIT)
                # Heartbeats keep a quiet link alive: a stream that outlives several silence
                # timeouts without a verdict.
                alive_since = asyncio.get_running_loop().time()
                await client.wait_until(
                    lambda: asyncio.get_running_loop().time() - alive_since > 3 * timeout,
                    10 * UNIT,
                )
                assert client.stats.dead_peers == []
                proxy.blackhole = True  # the "load balancer" drops everything, no FIN, no RST
                hub.publish(Publish("lost in the black hole", 1))
                await client.wait_until(lambda: len(client.stats.dead_peers) >= 1, 5 * UNIT)
                verdict = client.stats.dead_peers[0]
                assert timeout <= verdict.silent_for < timeout + 2 * UNIT
                proxy.blackhole = False
                hub.publish(Publish("after", 2))
                await client.wait_events(3, 5 * UNIT)
        assert [e.id for e in client.events] == [1, 2, 3]  # the dropped one came back on resume
        assert client.stats.reconnects >= 1

    heartbeat = Heartbeat(ping_interval_s=beat, pong_timeout_s=2 * UNIT, sse_comment_s=beat)
    run_with_server(scenario, heartbeat=heartbeat)


def test_resuming_from_an_id_older_than_the_buffer_reports_a_resync() -> None:
    async def scenario(hub: Hub, address: str) -> None:
        async with _ws(address) as client:
            await client.wait_connected(5 * UNIT)
            hub.publish(Publish("tick", 0))
            await client.wait_events(1, 5 * UNIT)
            ws = _only_stream(hub).ws
            assert ws is not None
            await ws.close(code=1001, message=b"retry_after_ms=200")
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
    async def scenario(peer: TestPeer) -> None:
        peer.lose_acks = 2  # the first two mutations are applied, then the link is cut
        async with _client(peer, client_id="c2") as client:
            await client.wait_connected(5 * UNIT)
            for i in range(5):
                await client.send("set", {"key": "k", "value": i})
            await client.wait_acked(10 * UNIT)
        assert [seq for _, seq, _, _ in peer.applied] == [1, 2, 3, 4, 5]
        assert [data["value"] for *_, data in peer.applied] == [0, 1, 2, 3, 4]
        assert client.stats.reconnects >= 2
        assert client.stats.duplicate_acks >= 1  # the server recognised a replay
        assert client.pending == ()

    run_with_peer(TestPeer(), scenario)


def test_mutations_sent_while_disconnected_wait_in_the_outbox() -> None:
    async def scenario(peer: TestPeer) -> None:
        peer.refuse_status = 503  # retryable: the client keeps trying
        async with _client(peer, client_id="c3") as client:
            await client.send("set", {"key": "a", "value": 1})
            await client.send("set", {"key": "b", "value": 2})
            await eventually(lambda: client.state.backoff.attempt >= 2)
            assert [m.seq for m in client.pending] == [1, 2]
            peer.refuse_status = None
            await client.wait_acked(5 * UNIT)
        assert [seq for _, seq, _, _ in peer.applied] == [1, 2]

    run_with_peer(TestPeer(), scenario)


def test_a_4xx_handshake_stops_the_client_with_the_status() -> None:
    async def scenario(peer: TestPeer) -> None:
        peer.refuse_status = 403
        async with _client(peer) as client:
            with pytest.raises(ClientStoppedError):
                await client.wait_connected(5 * UNIT)
            assert client.failure == "handshake refused: HTTP 403"

    run_with_peer(TestPeer(), scenario)


def test_max_consecutive_failures_bounds_the_retries() -> None:
    async def scenario(peer: TestPeer) -> None:
        peer.refuse_status = 503
        async with _client(peer, max_consecutive_failures=3) as client:
            with pytest.raises(ClientStoppedError):
                await client.wait_connected(5 * UNIT)
            assert client.failure is not None and "gave up after 3" in client.failure
            assert len(client.stats.disconnects) == 4

    run_with_peer(TestPeer(), scenario)


def test_sends_interleaved_with_connection_cuts_keep_seq_order_on_every_connection() -> None:
    async def scenario(peer: TestPeer) -> None:
        async with _client(peer, client_id="race") as client:
            await client.wait_connected(5 * UNIT)
            peer.lose_acks = 3

            async def burst(start: int) -> None:
                for i in range(start, start + 10):
                    await client.send("set", {"key": "k", "value": i})
                    await asyncio.sleep(0)

            await asyncio.gather(*(burst(n * 10) for n in range(4)))
            await client.wait_acked(10 * UNIT)
        assert [seq for _, seq, _, _ in peer.applied] == list(range(1, 41))
        assert len(peer.seqs_per_connection) >= 4  # three cuts happened
        for carried in peer.seqs_per_connection:
            assert carried == sorted(carried)  # replay first, then new ones, never reordered

    run_with_peer(TestPeer(), scenario)


def test_a_full_outbox_refuses_new_mutations_while_the_server_is_away() -> None:
    async def scenario(peer: TestPeer) -> None:
        peer.refuse_status = 503
        async with _client(peer, outbox_capacity=2) as client:
            await client.send("a")
            await client.send("b")
            with pytest.raises(OutboxFullError):
                await client.send("c")
            peer.refuse_status = None
            await client.wait_acked(5 * UNIT)
            await client.send("c")  # room again once acked
            await client.wait_acked(5 * UNIT)
        assert [op for _, _, op, _ in peer.applied] == ["a", "b", "c"]

    run_with_peer(TestPeer(), scenario)


def test_the_token_travels_as_a_bearer_header() -> None:
    async def scenario(peer: TestPeer) -> None:
        async with _client(peer, token="s3cret") as client:
            await client.wait_connected(5 * UNIT)
        assert peer.connections[0].authorization == "Bearer s3cret"
        assert peer.connections[0].query_token is None  # not leaked into URLs and logs

    run_with_peer(TestPeer(), scenario)


def test_protocol_pings_count_as_proof_of_life() -> None:
    """Protocol pings alone (no heartbeat events, which the real server always adds) keep a
    quiet link alive: the peer sends only those."""

    async def scenario(peer: TestPeer) -> None:
        async with _client(peer, silence_timeout=0.4 * UNIT) as client:
            await client.wait_connected(5 * UNIT)
            await asyncio.sleep(1.2 * UNIT)  # three silence timeouts of only pings
            assert client.stats.dead_peers == []
            assert client.stats.reconnects == 0

    run_with_peer(TestPeer(protocol_ping_interval=0.05 * UNIT), scenario)
