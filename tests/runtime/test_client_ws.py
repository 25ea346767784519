"""WsClient against a real aiohttp peer on 127.0.0.1 (tests/runtime/peers.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from selector.runtime.client import ClientStoppedError, WsClient
from selector.runtime.protocol.outbox import OutboxFullError

from .conftest import eventually
from .peers import UNIT, TestPeer, client_options, run_with_peer

Scenario = Callable[[TestPeer], Awaitable[None]]


def _client(peer: TestPeer, **options: object) -> WsClient:
    return WsClient(peer.base_url.replace("http", "ws"), **client_options(**options))  # type: ignore[arg-type]


def test_events_arrive_in_order_and_mutations_are_applied_once_and_acked() -> None:
    async def scenario(peer: TestPeer) -> None:
        seen: list[int] = []
        client = _client(peer, client_id="c1", on_event=lambda e: seen.append(e.id))
        async with client:
            await client.wait_connected(5 * UNIT)
            for i in range(3):
                await peer.publish("tick", {"n": i})
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
        assert peer.applied == [("c1", i + 1, "incr", {"key": "k", "by": i}) for i in range(4)]
        assert client.stats.acks == 4
        assert client.stats.reconnects == 0

    run_with_peer(TestPeer(), scenario)


def test_close_leaves_no_task_and_no_connection_behind() -> None:
    async def scenario(peer: TestPeer) -> None:
        client = _client(peer)
        await client.start()
        await client.wait_connected(5 * UNIT)
        http = client._http
        assert http is not None
        await client.close()
        names = {t.get_name() for t in asyncio.all_tasks()}
        assert not any(name.startswith("WsClient") for name in names)
        assert http.closed
        await eventually(lambda: peer.open_connections == 0)
        with pytest.raises(ClientStoppedError):
            await client.send("set", {})

    run_with_peer(TestPeer(), scenario)


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


@pytest.mark.parametrize("code", [1000, 1001, 1012])
def test_clean_server_close_reconnects_and_resumes_after_the_last_event(code: int) -> None:
    async def scenario(peer: TestPeer) -> None:
        async with _client(peer) as client:
            await client.wait_connected(5 * UNIT)
            for i in range(3):
                await peer.publish("tick", i)
            await client.wait_events(3, 5 * UNIT)
            closing_at = asyncio.get_running_loop().time()  # the client's close is later
            await peer.close_websockets(code, "retry_after_ms=150")
            await eventually(lambda: not client.connected)
            await peer.publish("tick", 3)  # missed while away
            await peer.publish("tick", 4)
            await client.wait_events(5, 5 * UNIT)
        assert [e.id for e in client.events] == [1, 2, 3, 4, 5]
        assert client.stats.duplicate_events == 0
        assert [c.last_event_id for c in peer.connections] == [None, "3"]
        # retry_after_ms is a floor: the reconnect came no sooner than 150 ms after the close
        assert peer.connections[1].at - closing_at >= 0.15

    run_with_peer(TestPeer(), scenario)


def test_a_close_code_that_a_retry_cannot_fix_stops_the_client() -> None:
    async def scenario(peer: TestPeer) -> None:
        async with _client(peer) as client:
            await client.wait_connected(5 * UNIT)
            await peer.close_websockets(1008, "policy")
            with pytest.raises(ClientStoppedError):
                await client.wait_until(lambda: False, 5 * UNIT)
            assert client.failure is not None and "1008" in client.failure
        assert len(peer.connections) == 1

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


def test_a_silent_server_is_declared_dead_and_the_client_comes_back() -> None:
    async def scenario(peer: TestPeer) -> None:
        timeout = 0.4 * UNIT
        async with _client(peer, silence_timeout=timeout) as client:
            await client.wait_connected(5 * UNIT)
            await peer.publish("before", 0)
            await asyncio.sleep(3 * timeout)  # heartbeats keep a quiet link alive
            assert client.stats.dead_peers == []
            peer.silent = True  # the "load balancer" drops everything, no FIN, no RST
            await peer.publish("lost in the black hole", 1)
            await client.wait_until(lambda: len(client.stats.dead_peers) >= 1, 5 * UNIT)
            verdict = client.stats.dead_peers[0]
            assert timeout <= verdict.silent_for < timeout + 2 * UNIT
            peer.silent = False
            await peer.publish("after", 2)
            await client.wait_events(3, 5 * UNIT)
        assert [e.id for e in client.events] == [1, 2, 3]  # the dropped one came back on resume
        assert client.stats.reconnects >= 1

    run_with_peer(TestPeer(heartbeat_interval=0.05 * UNIT), scenario)


def test_protocol_pings_count_as_proof_of_life() -> None:
    async def scenario(peer: TestPeer) -> None:
        async with _client(peer, silence_timeout=0.4 * UNIT) as client:
            await client.wait_connected(5 * UNIT)
            await asyncio.sleep(1.2 * UNIT)
            assert client.stats.dead_peers == []
            assert client.stats.reconnects == 0

    run_with_peer(TestPeer(protocol_ping_interval=0.05 * UNIT), scenario)


def test_resuming_from_an_id_older_than_the_buffer_reports_a_resync() -> None:
    async def scenario(peer: TestPeer) -> None:
        async with _client(peer) as client:
            await client.wait_connected(5 * UNIT)
            await peer.publish("tick", 0)
            await client.wait_events(1, 5 * UNIT)
            await peer.close_websockets(1001, "retry_after_ms=200")
            await eventually(lambda: not client.connected)
            for i in range(5):
                await peer.publish("tick", i + 1)  # ids 2..6; only 5 and 6 are retained
            await client.wait_until(lambda: client.stats.resyncs != [], 5 * UNIT)
            await peer.publish("tick", 6)
            await client.wait_events(2, 5 * UNIT)
        resync = client.stats.resyncs[0]
        assert (resync.after, resync.oldest, resync.latest) == (1, 5, 6)
        assert [e.id for e in client.events] == [1, 7]
        assert client.stats.missed_ids == 0  # the gap was announced, not silently skipped

    run_with_peer(TestPeer(replay_limit=2), scenario)


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


def test_data_that_json_cannot_carry_is_refused_before_it_is_queued() -> None:
    async def scenario(peer: TestPeer) -> None:
        async with _client(peer) as client:
            await client.wait_connected(5 * UNIT)
            with pytest.raises(ValueError, match="not JSON-serializable"):
                await client.send("set", {"when": object()})
            with pytest.raises(ValueError, match="non-empty"):
                await client.send("", {})
            assert client.pending == ()
            await client.send("set", {"key": "a"})
            await client.wait_acked(5 * UNIT)
        assert [seq for _, seq, _, _ in peer.applied] == [1]

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


def test_an_oversized_server_frame_closes_with_1009_and_stops() -> None:
    async def scenario(peer: TestPeer) -> None:
        async with _client(peer, max_message_size=1024) as client:
            await client.wait_connected(5 * UNIT)
            await peer.publish("big", "x" * 4096)
            with pytest.raises(ClientStoppedError):
                await client.wait_until(lambda: False, 5 * UNIT)
        assert client.failure is not None
        assert client.failure.startswith("protocol error, closed with 1009")
        assert client.stats.events == 0

    run_with_peer(TestPeer(), scenario)
