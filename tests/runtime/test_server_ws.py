"""/ws against an independent WebSocket implementation (the ``websockets`` library), and the
connection's state machine driven in process."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from selector.runtime.protocol.machine import InvalidTransition
from selector.runtime.server.websocket import (
    TRANSITIONS,
    WsConnection,
    WsEvent,
    WsHandlers,
    WsState,
)
from tests.runtime.conftest import (
    UNIT,
    RecordingTransport,
    arun,
    eventually,
    serving,
    subscribe,
)


async def recv_json(ws: ClientConnection) -> Any:
    async with asyncio.timeout(5 * UNIT):
        return json.loads(await ws.recv())


async def mutate(ws: ClientConnection, seq: int, op: str = "incr", data: Any = None) -> Any:
    await ws.send(json.dumps({"seq": seq, "op": op, "data": data or {"key": "n"}}))
    return await recv_json(ws)


async def publish(address: str, event: str, data: Any) -> int:
    body = {"event": event, "data": data}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://{address}/publish", json=body) as response,
    ):
        assert response.status == 200
        return int((await response.json())["id"])


async def state(address: str) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{address}/state") as response,
    ):
        return await response.json()


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "sqlite"])
def test_mutations_are_acked_and_applied_once_across_reconnects(durable: bool, tmp_path) -> None:
    async def scenario() -> None:
        path = str(tmp_path / "s.db") if durable else None
        async with serving(state_path=path) as (_, address):
            url = f"ws://{address}/ws?client_id=alice"
            async with subscribe(url) as ws:
                first = await mutate(ws, 1)
                secret = first.pop("secret")  # first contact issues the id's secret
                assert first == {"ack": 1, "status": "ok"}
                assert await mutate(ws, 4, data={"key": "n", "by": 10}) == {
                    "ack": 4,
                    "status": "ok",
                }
            url += f"&secret={secret}"
            async with subscribe(url) as ws:  # reconnect, re-send everything unacked-looking
                dup = {"ack": 4, "status": "ok", "duplicate": True}
                assert await mutate(ws, 4, data={"key": "n", "by": 10}) == dup
                assert (await mutate(ws, 1))["duplicate"] is True
                assert await mutate(ws, 5) == {"ack": 5, "status": "ok"}
            async with subscribe(f"ws://{address}/ws?client_id=bob") as ws:
                assert (await mutate(ws, 1))["ack"] == 1  # separate marks
                assert "duplicate" not in await mutate(ws, 2)
            view = await state(address)
            assert view["kv"] == {"n": 14} and view["applied_total"] == 5

    arun(scenario())


def test_invalid_payload_keeps_the_connection_open() -> None:
    async def scenario() -> None:
        async with serving() as (_, address), subscribe(f"ws://{address}/ws?client_id=a") as ws:
            await ws.send("{not json")
            error = await recv_json(ws)
            assert error["error"] == "INVALID_PAYLOAD" and "JSON" in error["detail"]
            await ws.send(json.dumps({"seq": 2, "op": "incr", "data": {"key": "k", "by": "x"}}))
            rejected = await recv_json(ws)
            assert rejected["error"] == "INVALID_PAYLOAD" and rejected["seq"] == 2
            retried = await mutate(ws, 2)  # not recorded: retry works
            assert retried["ack"] == 2 and "duplicate" not in retried

    arun(scenario())


def test_a_message_over_the_limit_closes_with_1009() -> None:
    async def scenario() -> None:
        async with serving(max_message_bytes=1024) as (hub, address):
            async with subscribe(f"ws://{address}/ws?client_id=a") as ws:
                await ws.send(json.dumps({"seq": 1, "op": "x", "data": "y" * 2000}))
                with pytest.raises(ConnectionClosed) as closed:
                    await recv_json(ws)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            await eventually(lambda: not hub.subscribers)

    arun(scenario())


def test_events_reach_ws_with_stream_ids_and_resume_replays_the_gap() -> None:
    async def scenario() -> None:
        async with serving() as (_, address):
            url = f"ws://{address}/ws?client_id=reader"
            async with subscribe(url) as ws:
                first = await publish(address, "tick", {"n": 1})
                assert await recv_json(ws) == {"id": first, "event": "tick", "data": {"n": 1}}
            missed = [await publish(address, "tick", {"n": n}) for n in (2, 3)]
            async with subscribe(f"{url}&last_event_id={first}") as ws:
                replayed = [await recv_json(ws) for _ in missed]
                assert [e["id"] for e in replayed] == missed
                assert [e["data"]["n"] for e in replayed] == [2, 3]
                live = await publish(address, "tick", {"n": 4})
                assert (await recv_json(ws))["id"] == live == missed[-1] + 1

    arun(scenario())


def test_a_gap_older_than_the_buffer_gets_an_explicit_resync() -> None:
    async def scenario() -> None:
        async with serving(replay_max_events=2) as (_, address):
            ids = [await publish(address, "tick", n) for n in range(5)]
            url = f"ws://{address}/ws?client_id=r&last_event_id={ids[0]}"
            async with subscribe(url) as ws:
                notice = await recv_json(ws)
                assert notice == {
                    "event": "resync",
                    "data": {"after": ids[0], "oldest": ids[3], "latest": ids[4]},
                }
                live = await publish(address, "tick", 99)
                assert (await recv_json(ws))["id"] == live

    arun(scenario())


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("", {}, 400),
        ("client_id=a%20b", {}, 400),
        ("client_id=a&last_event_id=x", {}, 400),
        ("client_id=a", {"Origin": "https://evil.example"}, 403),
    ],
)
def test_refused_before_upgrade(query: str, headers: dict[str, str], status: int) -> None:
    async def scenario() -> None:
        async with serving() as (_, address):
            with pytest.raises(InvalidStatus) as refused:
                async with subscribe(f"ws://{address}/ws?{query}", additional_headers=headers):
                    pass
            assert refused.value.response.status_code == status

    arun(scenario())


def test_origin_rules() -> None:
    async def scenario() -> None:
        allowed = ("https://app.example",)
        async with serving(allowed_origins=allowed) as (_, address):
            good = (f"http://{address}", "https://app.example", "https://APP.example:443")
            for n, origin in enumerate(good):
                async with subscribe(
                    f"ws://{address}/ws?client_id=a{n}", additional_headers={"Origin": origin}
                ) as ws:
                    assert await mutate(ws, 1)  # admitted
            for origin in ("https://app.example:8443", "http://127.0.0.1:1", "null"):
                with pytest.raises(InvalidStatus):
                    async with subscribe(
                        f"ws://{address}/ws?client_id=a", additional_headers={"Origin": origin}
                    ):
                        pass

    arun(scenario())


def test_bearer_token_header_or_query() -> None:
    async def scenario() -> None:
        async with serving(tokens=("s3cret",)) as (_, address):
            with pytest.raises(InvalidStatus) as refused:
                async with subscribe(f"ws://{address}/ws?client_id=a"):
                    pass
            assert refused.value.response.status_code == 401
            auth = {"Authorization": "Bearer s3cret"}
            async with subscribe(f"ws://{address}/ws?client_id=a", additional_headers=auth) as ws:
                assert await mutate(ws, 1)
            async with subscribe(f"ws://{address}/ws?client_id=b&token=s3cret") as ws:
                assert await mutate(ws, 2)

    arun(scenario())


def test_per_ip_connection_limit() -> None:
    async def scenario() -> None:
        async with serving(max_connections_per_ip=2) as (hub, address):

            def url(client: str) -> str:
                return f"ws://{address}/ws?client_id={client}"

            async with subscribe(url("a")), subscribe(url("b")):
                with pytest.raises(InvalidStatus) as refused:
                    async with subscribe(url("c")):
                        pass
                assert refused.value.response.status_code == 429
            await eventually(lambda: not hub.registry.connections_by_ip)
            async with subscribe(url("a")) as ws:
                assert await mutate(ws, 1)

    arun(scenario())


def test_a_peer_that_never_answers_pings_is_reaped() -> None:
    """The default 20 s ping interval and 10 s pong timeout, on a clock the test moves."""
    from selector.runtime.clock import ManualClock
    from selector.runtime.server.settings import Heartbeat

    clock = ManualClock()
    heartbeat = Heartbeat(ping_interval_s=20, pong_timeout_s=10, sse_comment_s=None)

    async def scenario() -> None:
        async with (
            serving(clock, heartbeat=heartbeat) as (hub, address),
            # websockets answers pings itself: it must survive several rounds
            subscribe(f"ws://{address}/ws?client_id=alive") as alive,
            aiohttp.ClientSession() as session,
        ):

            def rtt_count() -> float:
                samples = hub.metrics.heartbeat_rtt.collect()[0].samples
                return next(s.value for s in samples if s.name.endswith("_count"))

            async def advance(seconds: float) -> None:
                # The heartbeat task sleeps in steps of at most 5 s: move once it is asleep.
                await eventually(lambda: clock.sleepers == 1)
                clock.advance(seconds)

            # aiohttp's client with autoping=False ignores pings: a silent peer
            dead = await session.ws_connect(f"http://{address}/ws?client_id=dead", autoping=False)
            await eventually(lambda: len(hub.subscribers) == 2)
            await advance(20)  # the first ping round
            await eventually(lambda: rtt_count() == 1)  # the live peer answered
            assert hub.counters.reaped == 0
            await advance(11)  # past the pong deadline
            await eventually(lambda: hub.counters.reaped == 1)
            ended = (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)
            for _ in range(100):  # buffered pings and heartbeats, then the end
                if (await dead.receive()).type in ended:
                    break
            else:
                pytest.fail("the reaped connection was not closed")
            await dead.close()
            await advance(9)  # the second ping round
            beats = [await recv_json(alive) for _ in range(2)]
            assert all(b["event"] == "heartbeat" and "id" not in b for b in beats)
            # stamped with the hub's clock: 20 s apart
            assert beats[1]["data"]["t"] - beats[0]["data"]["t"] == 20_000
            await eventually(lambda: rtt_count() == 2)
            assert len(hub.subscribers) == 1

    arun(scenario())


def test_graceful_shutdown_closes_with_1001_and_a_retry_hint() -> None:
    async def scenario() -> None:
        async with serving(shutdown_retry_after_ms=500, shutdown_retry_spread_ms=100) as (
            hub,
            address,
        ):
            ws = await subscribe(f"ws://{address}/ws?client_id=a")
            await mutate(ws, 1)
            await hub.shutdown()
            with pytest.raises(ConnectionClosed) as closed:
                await recv_json(ws)
            frame = closed.value.rcvd
            assert frame is not None and frame.code == 1001
            retry_ms = int(frame.reason.removeprefix("retry_after_ms="))
            assert 500 <= retry_ms <= 600
            await ws.close()

    arun(scenario())


def test_metrics_and_health() -> None:
    async def scenario() -> None:
        async with serving() as (_, address), subscribe(f"ws://{address}/ws?client_id=m") as ws:
            await mutate(ws, 1)
            await mutate(ws, 1)
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://{address}/healthz") as response:
                    assert response.status == 200
                async with session.get(f"http://{address}/metrics") as response:
                    text = await response.text()
            lines = set(text.splitlines())
            assert "ws_connections_active 1.0" in lines
            assert 'acks_total{protocol="ws"} 2.0' in lines
            assert 'duplicates_total{protocol="ws"} 1.0' in lines
            assert "connections_leaked 0.0" in lines
            assert "heartbeat_rtt_seconds_count 0.0" in lines

    arun(scenario())


def test_a_connection_s_own_counts_outlive_it_in_metrics() -> None:
    # A WebSocket counts its messages, acks and replies on itself while it lives: /metrics
    # adds the live ones, and they are folded into the totals when it ends.
    async def scenario() -> None:
        async with serving() as (hub, address):
            for client_id in ("a", "b"):
                async with subscribe(f"ws://{address}/ws?client_id={client_id}") as ws:
                    await mutate(ws, 1)
                    await mutate(ws, 2)
                    await ws.send('{"seq": "x", "op": "noop"}')  # answered with an error
                    assert (await recv_json(ws))["error"] == "INVALID_PAYLOAD"
                    live = hub.counters_now()
                    assert live.messages_in["ws"] in (3, 6) and live.acks["ws"] in (2, 4)
            await eventually(lambda: not hub.subscribers)
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://{address}/metrics") as response,
            ):
                lines = set((await response.text()).splitlines())
            assert 'messages_total{direction="in",protocol="ws"} 6.0' in lines
            assert 'acks_total{protocol="ws"} 4.0' in lines
            # each connection: its position frame, two acks and the error
            assert 'messages_total{direction="out",protocol="ws"} 8.0' in lines

    arun(scenario())


def test_events_of_one_tick_arrive_in_order_at_every_subscriber() -> None:
    from selector.runtime.protocol.envelope import Publish

    async def scenario() -> None:
        async with (
            serving() as (hub, address),
            subscribe(f"ws://{address}/ws?client_id=a") as first,
            subscribe(f"ws://{address}/ws?client_id=b") as second,
        ):
            await eventually(lambda: len(hub.subscribers) == 2)
            # published in one tick: one coalesced write per subscriber at its end
            ids = [hub.publish(Publish(event="burst", data=n)) for n in range(50)]
            for ws in (first, second):
                got = [await recv_json(ws) for _ in ids]
                assert [e["id"] for e in got] == ids
                assert [e["data"] for e in got] == list(range(50))
            # 50 events each, plus the position frame each got when it subscribed
            assert hub.counters_now().messages_out["ws"] == 102

    arun(scenario())


def test_without_heartbeat_a_silent_peer_stays_and_nothing_is_sent() -> None:
    from selector.runtime.server.settings import NO_HEARTBEAT

    async def scenario() -> None:
        async with (
            serving(heartbeat=NO_HEARTBEAT) as (hub, address),
            aiohttp.ClientSession() as session,
        ):
            silent = await session.ws_connect(
                f"http://{address}/ws?client_id=silent", autoping=False
            )
            first = await silent.receive(timeout=5 * UNIT)
            assert json.loads(first.data)["event"] == "position"
            with pytest.raises(TimeoutError):  # no ping, no heartbeat event
                async with asyncio.timeout(0.5 * UNIT):
                    await silent.receive()
            assert hub.counters.reaped == 0 and len(hub.subscribers) == 1
            await silent.close()

    arun(scenario())


def test_a_restart_without_state_tells_resuming_clients_to_resync() -> None:
    async def scenario() -> None:
        async with serving() as (_, address):
            ids = [await publish(address, "tick", n) for n in range(3)]
        async with serving() as (_, address):  # a new life: memory only, ids start again
            url = f"ws://{address}/ws?client_id=r&last_event_id={ids[-1]}"
            async with subscribe(url) as ws:
                notice = await recv_json(ws)
                assert notice == {
                    "event": "resync",
                    "data": {"after": ids[-1], "oldest": 1, "latest": 0},
                }
                assert (await publish(address, "tick", 9)) == 1

    arun(scenario())


def test_a_reconnecting_client_supersedes_its_old_stream() -> None:
    """A client id holds one stream: its new connection ends the old one, which behind a
    load balancer that dropped it silently would otherwise stay registered for good."""

    async def scenario() -> None:
        async with serving() as (hub, address):
            url = f"ws://{address}/ws?client_id=same"
            async with subscribe(url) as old:
                secret = (await mutate(old, 1))["secret"]  # the id is now claimed
                for stranger in (url, f"{url}&secret=guess"):
                    with pytest.raises(InvalidStatus) as refused:
                        async with subscribe(stranger):
                            pass
                    assert refused.value.response.status_code == 403
                assert len(hub.subscribers) == 1  # the owner's stream lives on
                async with subscribe(f"{url}&secret={secret}") as new:
                    await eventually(lambda: len(hub.subscribers) == 1)
                    with pytest.raises(ConnectionClosed):
                        await asyncio.wait_for(old.recv(), 5)
                    assert await mutate(new, 2)
                async with subscribe(f"ws://{address}/ws?client_id=other"):
                    await eventually(lambda: len(hub.subscribers) == 1)

    arun(scenario())


class _ClosableTransport(RecordingTransport):
    """A recording transport that also takes ``close()`` (what failing and closing call)."""

    def close(self) -> None:
        self.aborted = True


def _masked_close(code: int) -> bytes:
    """A client's close frame with ``code`` (an all-zero mask leaves the payload as is)."""
    return bytes([0x88, 0x82]) + b"\0\0\0\0" + code.to_bytes(2, "big")


def test_the_websocket_table_refuses_only_a_second_close_frame() -> None:
    refused = set(itertools.product(WsState, WsEvent)) - set(TRANSITIONS)
    assert refused == {(WsState.CLOSING, WsEvent.SEND_CLOSE), (WsState.CLOSED, WsEvent.SEND_CLOSE)}


def test_a_closing_handshake_then_late_losses_and_failures_keep_it_closed() -> None:
    async def scenario() -> None:
        transport = _ClosableTransport()
        request = make_mocked_request("GET", "/ws", transport=transport)
        conn = WsConnection(
            request, transport, WsHandlers(), max_message_bytes=1024, close_timeout_s=5 * UNIT
        )
        conn.close(1001, b"going away")
        assert conn.state is WsState.CLOSING and conn.close_code == 1001
        conn.close(1000)  # a second close sends nothing: only the first close frame counts
        assert len(transport.written) == 1
        conn.feed_data(_masked_close(1001))  # the client's answer
        assert conn.state is WsState.CLOSED and conn.done.done()
        # The rest of an ending connection arrives after it and changes nothing.
        conn.feed_eof()
        conn.connection_lost(None)
        conn.fail(1002, "late")
        conn.abort()
        assert conn.state is WsState.CLOSED and len(transport.written) == 1
        with pytest.raises(InvalidTransition, match="send_close in state closed"):
            conn._to(WsEvent.SEND_CLOSE)
        assert conn.state is WsState.CLOSED

    arun(scenario())


def test_a_close_frame_behind_a_message_that_failed_the_connection_is_ignored() -> None:
    # The route fails the connection from its text handler (app.py: invalid UTF-8); a close
    # frame in the same read still reaches the parser's loop after that.
    class Failing(WsHandlers):
        def on_text(self, conn: WsConnection, payload: object) -> None:
            conn.fail(1007, "invalid UTF-8")

    async def scenario() -> None:
        transport = _ClosableTransport()
        request = make_mocked_request("GET", "/ws", transport=transport)
        conn = WsConnection(
            request, transport, Failing(), max_message_bytes=1024, close_timeout_s=5 * UNIT
        )
        text = bytes([0x81, 0x82]) + b"\0\0\0\0" + b"hi"
        conn.feed_data(text + _masked_close(1000))
        assert conn.state is WsState.CLOSED and conn.done.done()
        assert (conn.close_code, conn.reason) == (1007, "invalid_utf8")
        assert len(transport.written) == 1  # the one close frame of the failure

    arun(scenario())
