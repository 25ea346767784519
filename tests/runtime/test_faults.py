"""Faults against a real ``selector serve`` process: SIGKILL and restart with --state
mid-stream, cut connections. No acked mutation may be lost or applied twice, no event lost
with resume, no connection leaked."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.runtime.conftest import UNIT, arun, eventually, serving, subscribe
from tests.runtime.serve_process import ServeProcess

TOTAL = 300
KILL_AT_SEQ = 130
BURST = 20


class Writer:
    """A minimal reconnecting mutation sender: a mutation stays pending until acked and
    pending ones are re-sent in order after every reconnect."""

    def __init__(self, crash: Any) -> None:
        self.next_seq = 1
        self.pending: dict[int, str] = {}
        self.acked: set[int] = set()
        self.duplicates = 0
        self.in_flight_at_crash = 0
        #: The client id's resume secret (from the first ack; it survives the restart).
        self.secret = ""
        self._crash = crash

    async def run(self, url_of: Any) -> None:
        for _ in range(100):
            if len(self.acked) == TOTAL:
                return
            try:
                url = url_of("writer") + (f"&secret={self.secret}" if self.secret else "")
                async with subscribe(url) as ws:
                    for seq in sorted(self.pending):
                        await ws.send(self.pending[seq])
                    await asyncio.gather(self._send(ws), self._read(ws))
            except (ConnectionClosed, OSError):
                await asyncio.sleep(0.05)
        pytest.fail("the writer did not finish")

    async def _send(self, ws: ClientConnection) -> None:
        while self.next_seq <= TOTAL:
            seq = self.next_seq
            self.next_seq += 1
            body = json.dumps({"seq": seq, "op": "incr", "data": {"key": "n"}})
            self.pending[seq] = body
            await ws.send(body)
            if seq == KILL_AT_SEQ:
                # The burst is on the wire and its acks unread: kill the server right now.
                self.in_flight_at_crash = len(self.pending)
                self._crash()
            if seq % BURST == 0:
                await asyncio.sleep(0.02)  # let other clients interleave

    async def _read(self, ws: ClientConnection) -> None:
        while len(self.acked) < TOTAL:
            reply = json.loads(await ws.recv())
            if "ack" in reply:
                self.secret = reply.get("secret", self.secret)
                self.pending.pop(reply["ack"], None)
                self.acked.add(reply["ack"])
                self.duplicates += bool(reply.get("duplicate"))
        await ws.close()


class Reader:
    """Collects stream events, resuming from the last id it saw."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.resyncs = 0

    async def run(self, url_of: Any, done: asyncio.Event) -> None:
        while not done.is_set():
            # From event 0 on the first connection too: the publisher starts at the same
            # time, and an event published before this stream subscribed is only replayed
            # to a stream that asks for it.
            url = url_of("reader") + f"&last_event_id={self.ids[-1] if self.ids else 0}"
            try:
                async with subscribe(url) as ws:
                    while True:
                        message = json.loads(await ws.recv())
                        if "id" in message:
                            self.ids.append(message["id"])
                        elif message.get("event") == "resync":
                            self.resyncs += 1
            except (ConnectionClosed, OSError):
                await asyncio.sleep(0.05)


async def publisher(base_of: Any, acked_ids: list[int], stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as session:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                async with session.post(
                    f"{base_of()}/publish", json={"event": "tick", "data": n}
                ) as r:
                    if r.status == 200:
                        acked_ids.append((await r.json())["id"])
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.01)


@pytest.mark.slow
def test_sigkill_and_restart_with_state_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path,
) -> None:
    server = ServeProcess(tmp_path / "serve.log", "--state", str(tmp_path / "state.db"))
    port = server.start()

    def url_of(client_id: str) -> str:
        return f"ws://127.0.0.1:{port}/ws?client_id={client_id}"

    def base_of() -> str:
        return f"http://127.0.0.1:{port}"

    def committed_mark() -> int:
        with urllib.request.urlopen(f"{base_of()}/state?client_id=writer", timeout=UNIT) as r:
            return int(json.load(r)["high_water"])

    def crash() -> None:
        # Blocks this client's loop until the server has applied and committed the burst,
        # while its acks stay unread: after the restart those re-sent mutations must come
        # back as duplicates. (Blocking, not ``eventually``: the loop must not read acks.)
        deadline = time.monotonic() + 10 * UNIT
        while committed_mark() < KILL_AT_SEQ:
            assert time.monotonic() < deadline, "the server did not commit the burst"
            time.sleep(0.01)
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL  # mid-stream, no goodbye
        server.start()  # same port, same state file

    async def scenario() -> dict[str, Any]:
        writer, reader = Writer(crash), Reader()
        all_done = asyncio.Event()
        published: list[int] = []
        read_task = asyncio.create_task(reader.run(url_of, all_done))
        publish_task = asyncio.create_task(publisher(base_of, published, all_done))
        await writer.run(url_of)
        after_writer = len(published)
        await eventually(lambda: len(published) >= after_writer + 5)  # a few more events
        all_done.set()
        await publish_task
        last_published = published[-1]
        await eventually(lambda: reader.ids and reader.ids[-1] >= last_published, timeout=10)
        read_task.cancel()
        await asyncio.gather(read_task, return_exceptions=True)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base_of()}/state") as response,
        ):
            view = await response.json()
        return {"writer": writer, "reader": reader, "published": published, "view": view}

    try:
        result = arun(scenario(), timeout=90)
    finally:
        server.stop()
    writer, reader, view = result["writer"], result["reader"], result["view"]
    assert writer.in_flight_at_crash > 0, "the kill must hit unacked mutations to bite"
    assert writer.duplicates > 0, "some committed but unacked mutations were re-sent"
    assert writer.acked == set(range(1, TOTAL + 1)) and not writer.pending
    # every acked mutation applied, none twice, even those re-sent after the kill
    assert view["kv"]["n"] == TOTAL and view["applied_total"] == TOTAL
    # events: ids continue across the restart, and the reader missed none and saw none twice
    ids = reader.ids
    assert ids == sorted(set(ids)) and ids == list(range(ids[0], ids[-1] + 1))
    assert set(result["published"]) <= set(ids) and reader.resyncs == 0
    assert ids[0] == 1


def test_cut_connections_leave_no_leak_and_resume_fills_the_gap() -> None:
    async def scenario() -> None:
        async with serving() as (hub, address), aiohttp.ClientSession() as session:

            async def publish(n: int) -> int:
                async with session.post(
                    f"http://{address}/publish", json={"event": "t", "data": n}
                ) as r:
                    return int((await r.json())["id"])

            ws = await subscribe(f"ws://{address}/ws?client_id=cut")
            sse = await session.get(f"http://{address}/sse?client_id=cut-sse")
            await eventually(lambda: len(hub.subscribers) == 2)
            first = await publish(1)
            assert json.loads(await ws.recv())["id"] == first
            # cut both connections abruptly: no close frame, no FIN handshake at app level
            ws.transport.abort()
            sse.connection.transport.abort()  # type: ignore[union-attr]
            await eventually(lambda: not hub.subscribers)
            assert (
                not hub.registry.connections_by_ip
                and hub.registry.gauges()["connections_leaked"] == 0
            )
            missed = [await publish(n) for n in (2, 3)]
            async with subscribe(f"ws://{address}/ws?client_id=cut&last_event_id={first}") as again:
                got = [json.loads(await again.recv())["id"] for _ in missed]
                assert got == missed
            sse.close()

    arun(scenario())


def test_a_failing_store_acks_nothing_and_stops_the_server(tmp_path: Path) -> None:
    import sqlite3

    async def scenario() -> None:
        async with serving(state_path=str(tmp_path / "s.db")) as (hub, address):
            hub.store.fail_commit = sqlite3.OperationalError("disk I/O error")  # type: ignore[attr-defined]
            async with aiohttp.ClientSession() as session:
                body = {"client_id": "c", "seq": 1, "op": "incr", "data": {"key": "n"}}
                async with session.post(f"http://{address}/mutations", json=body) as response:
                    assert response.status == 503
                    assert (await response.json())["error"] == "STORE_FAILED"
            assert hub.failed.is_set()  # selector serve stops with exit code 1 on this
            async with subscribe(f"ws://{address}/ws?client_id=w") as ws:
                await ws.send(json.dumps({"seq": 1, "op": "incr", "data": {"key": "n"}}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 5 * UNIT))
                # Refused, never acked: the mutation is not on disk.
                assert reply["error"] == "STORE_FAILED" and "ack" not in reply

    arun(scenario())
