"""The runtime's own clients (``selector.runtime.client``) against the real server: cut
connections, a graceful restart with ``--state``, and exactly-once mutations throughout.

The client half is developed on its own branch; these tests skip until both halves meet.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from selector.runtime.clock import ManualClock
from selector.runtime.protocol.envelope import Publish
from selector.runtime.server.app import running_server
from selector.runtime.server.settings import NO_HEARTBEAT, Heartbeat, ServerSettings
from selector.verify.proxy import FaultProxy
from tests.runtime.conftest import UNIT, arun, eventually, serving

client_module = pytest.importorskip(
    "selector.runtime.client", reason="needs the client half (selector.runtime.client)"
)
backoff_module = pytest.importorskip("selector.runtime.protocol.backoff")


def options(client_id: str) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "backoff": backoff_module.Backoff(base=0.02 * UNIT, cap=0.2 * UNIT),
        "silence_timeout": 5 * UNIT,
    }


def cut(hub: Any, client_id: str) -> None:
    """Drop the client's connection server-side, without a closing handshake."""
    (sub,) = [s for s in hub.subscribers.values() if s.client_id == client_id]
    hub.drop(sub, "test_cut")


@pytest.mark.parametrize("kind", ["ws", "sse"])
def test_a_cut_connection_loses_no_event_and_applies_no_mutation_twice(
    kind: str, tmp_path: Path
) -> None:
    async def scenario() -> tuple[Any, Any]:
        async with serving(state_path=str(tmp_path / "s.db")) as (hub, address):
            if kind == "ws":
                client = client_module.WsClient(f"ws://{address}", **options("c"))
            else:
                client = client_module.SseClient(f"http://{address}", **options("c"))
            async with client:
                await client.wait_connected(5 * UNIT)
                for n in range(10):
                    await client.send("incr", {"key": "n", "by": 1})
                    hub.publish(Publish(event="tick", data=n))
                await client.wait_events(10, 5 * UNIT)
                for _ in range(10):
                    await client.send("incr", {"key": "n", "by": 1})
                cut(hub, "c")  # with mutations in flight
                for n in range(10, 15):
                    hub.publish(Publish(event="tick", data=n))  # while it is away
                await client.wait_acked(10 * UNIT)
                await client.wait_events(15, 10 * UNIT)
                assert client.stats.reconnects >= 1
                events = list(client.events)
            return events, hub.store.view()

    events, view = arun(scenario(), timeout=40)
    assert [e.id for e in events] == list(range(1, 16))
    assert [e.data for e in events] == list(range(15))
    assert view["kv"] == {"n": 20} and view["applied_total"] == 20


def test_ws_client_comes_back_after_a_graceful_restart_with_state(tmp_path: Path) -> None:
    async def scenario() -> tuple[Any, Any]:
        state = str(tmp_path / "s.db")
        first = ServerSettings(port=0, state_path=state, shutdown_retry_after_ms=50)
        async with running_server(first) as (hub, port):
            client = client_module.WsClient(f"ws://127.0.0.1:{port}", **options("r"))
            await client.start()
            await client.wait_connected(5 * UNIT)
            for n in range(5):
                await client.send("incr", {"key": "n", "by": 1})
                hub.publish(Publish(event="tick", data=n))
            await client.wait_acked(5 * UNIT)
            await client.wait_events(5, 5 * UNIT)
        # closed with 1001 + retry_after_ms; the same port, the same state file
        again = ServerSettings(port=port, state_path=state)
        try:
            async with running_server(again) as (hub, _):
                await eventually(lambda: len(hub.subscribers) == 1, timeout=10)
                for n in range(5, 8):
                    hub.publish(Publish(event="tick", data=n))
                await client.send("incr", {"key": "n", "by": 1})
                await client.wait_acked(5 * UNIT)
                await client.wait_events(8, 5 * UNIT)
                view = hub.store.view()
        finally:
            await client.close()
        return list(client.events), view

    events, view = arun(scenario(), timeout=40)
    assert [e.id for e in events] == list(range(1, 9))  # ids continue across the restart
    assert view["kv"] == {"n": 6} and view["applied_total"] == 6


@pytest.mark.parametrize("kind", ["ws", "sse"])
def test_a_client_cut_before_its_first_event_still_resumes(kind: str) -> None:
    """The position a fresh subscriber gets first is an id to resume from: events published
    while it is away are replayed although it never received one before the cut."""

    async def scenario() -> list[int]:
        async with serving() as (hub, address):
            hub.publish(Publish(event="before", data=0))  # the stream is not at 0
            if kind == "ws":
                client = client_module.WsClient(f"ws://{address}", **options("fresh"))
            else:
                client = client_module.SseClient(f"http://{address}", **options("fresh"))
            async with client:
                await client.wait_connected(5 * UNIT)
                await client.wait_until(lambda: client.last_event_id == 1, 5 * UNIT)
                assert not client.events  # the position is not an application event
                cut(hub, "fresh")
                missed = [hub.publish(Publish(event="tick", data=n)) for n in range(3)]
                await client.wait_events(3, 5 * UNIT)
                assert hub.counters.resumes_replayed[kind] == 1
                return missed

    missed = arun(scenario())
    assert missed == [2, 3, 4]


def test_a_mutation_the_server_refuses_leaves_the_ws_outbox() -> None:
    """The server names the refused seq; resending it after a reconnect could only fail again,
    and must not hold up the mutations behind it."""

    async def scenario() -> Any:
        async with serving() as (hub, address):
            client = client_module.WsClient(f"ws://{address}", **options("picky"))
            async with client:
                await client.wait_connected(5 * UNIT)
                await client.send("incr", {"key": "n", "by": "one"})  # refused: not an int
                await client.send("incr", {"key": "n", "by": 2})
                await client.wait_acked(5 * UNIT)
                assert client.pending == ()
                assert [e.seq for e in client.stats.errors] == [1]
                return hub.store.view()

    view = arun(scenario())
    assert view["kv"] == {"n": 2} and view["applied_total"] == 1


def test_an_event_over_the_sse_client_limit_stops_it_instead_of_looping() -> None:
    """Resuming would replay the same oversized event forever: like WebSocket's 1009, stop."""

    async def scenario() -> Any:
        async with serving() as (hub, address):
            client = client_module.SseClient(
                f"http://{address}", max_event_chars=1000, **options("small")
            )
            async with client:
                await client.wait_connected(5 * UNIT)
                hub.publish(Publish(event="big", data="x" * 5000))
                await client.wait_until(lambda: client.failure is not None, 5 * UNIT)
                return client.failure, client.stats.reconnects

    failure, reconnects = arun(scenario())
    assert "1000" in failure and reconnects == 0


@pytest.mark.parametrize("kind", ["ws", "sse"])
def test_a_silent_server_is_declared_dead_and_the_client_comes_back(kind: str) -> None:
    """Heartbeats (WS pings and events, SSE comments) keep a quiet link alive; a link that
    goes dark (no FIN, no RST) is declared dead after the silence timeout and reopened, and
    what was dropped on the way comes back on resume."""
    beat = 0.05 * UNIT
    timeout = 0.4 * UNIT
    heartbeat = Heartbeat(ping_interval_s=beat, pong_timeout_s=2 * UNIT, sse_comment_s=beat)

    async def scenario() -> Any:
        async with serving(heartbeat=heartbeat) as (hub, address):
            host, port = address.rsplit(":", 1)
            async with FaultProxy((host, int(port))) as proxy:
                url = f"{'ws' if kind == 'ws' else 'http'}://127.0.0.1:{proxy.port}"
                client_class = client_module.WsClient if kind == "ws" else client_module.SseClient
                opts = {**options("quiet"), "silence_timeout": timeout}
                async with client_class(url, **opts) as client:
                    await client.wait_connected(5 * UNIT)
                    hub.publish(Publish("before", 0))
                    await client.wait_events(1, 5 * UNIT)
                    # A stream that outlives several silence timeouts without a verdict.
                    alive_since = asyncio.get_running_loop().time()
                    await client.wait_until(
                        lambda: asyncio.get_running_loop().time() - alive_since > 3 * timeout,
                        10 * UNIT,
                    )
                    assert client.stats.dead_peers == []
                    proxy.blackhole = True  # the "load balancer" drops everything silently
                    hub.publish(Publish("lost in the black hole", 1))
                    await client.wait_until(lambda: client.stats.dead_peers != [], 5 * UNIT)
                    verdict = client.stats.dead_peers[0]
                    assert timeout <= verdict.silent_for < timeout + 2 * UNIT
                    proxy.blackhole = False
                    hub.publish(Publish("after", 2))
                    await client.wait_events(3, 5 * UNIT)
                return client

    client = arun(scenario())
    assert [e.id for e in client.events] == [1, 2, 3]  # the dropped one came back on resume
    assert client.stats.reconnects >= 1


@pytest.mark.parametrize("kind", ["ws", "sse"])
def test_the_silence_verdict_and_the_reconnect_delay_follow_the_client_clock(kind: str) -> None:
    """A 30 s silence timeout on a clock the test moves: no verdict at 29.5 s, one at 30.5 s
    saying exactly that, and no reconnect until the backoff delay has passed on that clock."""
    clock = ManualClock()

    async def scenario() -> Any:
        async with serving(heartbeat=NO_HEARTBEAT) as (_, address):  # a quiet link
            url = f"{'ws' if kind == 'ws' else 'http'}://{address}"
            client_class = client_module.WsClient if kind == "ws" else client_module.SseClient
            opts = {**options("clocked"), "silence_timeout": 30, "clock": clock}
            async with client_class(url, **opts) as client:
                await client.wait_connected(5 * UNIT)
                await eventually(lambda: clock.sleepers == 1)  # the read's silence deadline
                clock.advance(29.5)
                await eventually(lambda: clock.sleepers == 1)
                assert client.stats.dead_peers == [] and client.connected
                clock.advance(1)
                await eventually(lambda: client.stats.dead_peers != [])
                assert client.stats.dead_peers[0].silent_for == 30.5
                await eventually(lambda: clock.sleepers == 1)  # the backoff delay
                assert not client.connected
                # Past the test backoff (at most 0.2 units) and, for SSE, the server's
                # ``retry: 2000`` floor.
                clock.advance(2.5)
                await client.wait_connected(5 * UNIT)
                return client

    client = arun(scenario())
    assert client.stats.reconnects == 1


def test_wait_until_times_out_on_the_client_clock() -> None:
    """``wait_until``'s timeout is a deadline of the client like the silence timeout: on a
    clock the test moves, a 1000 s wait ends when the clock passes 1000 s, not before."""
    from selector.runtime.client import WsClient

    clock = ManualClock()

    async def scenario() -> None:
        async with serving(heartbeat=NO_HEARTBEAT) as (_, address):
            opts = {**options("waiting"), "silence_timeout": 10_000, "clock": clock}
            async with WsClient(f"ws://{address}", **opts) as client:
                await client.wait_connected(5 * UNIT)
                base = clock.sleepers  # the read's silence deadline
                waiting = asyncio.create_task(client.wait_until(lambda: False, 1000))
                await eventually(lambda: clock.sleepers == base + 1)
                clock.advance(999)
                await eventually(lambda: clock.sleepers == base + 1)
                assert not waiting.done()
                clock.advance(2)
                await eventually(waiting.done)
                with pytest.raises(TimeoutError):
                    waiting.result()

    arun(scenario())
