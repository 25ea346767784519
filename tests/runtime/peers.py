"""A TEST PEER: the smallest aiohttp server that speaks the runtime's wire contract.

The client tests run against the real server (``selector.runtime.server.app``) and the fault
proxy; this peer only serves the faults the real server does not make. It is deliberately
naive (no limits, no metrics, no coalescing, state in plain lists, no ``position`` notice)
and carries fault switches the tests flip:

- ``silent``: stop sending anything (events, acks, heartbeats) without closing, and ignore
  what arrives, like a load balancer that dropped the connection without FIN or RST;
- ``lose_acks``: apply the next N mutations, then cut the connection before the ack leaves;
- ``refuse_status``: answer every new connection with this HTTP status;
- ``refuse_op``: answer ``POST /mutations`` carrying this op with 400 INVALID_PAYLOAD;
- ``close_websockets(code, reason)`` / ``end_sse_streams(retry_ms)``: clean server closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from selector.runtime.protocol.sse import encode_comment, encode_event, encode_retry
from tests.runtime.conftest import UNIT  # the one timeout unit of the runtime tests


@dataclass
class Connection:
    """What a client asked for when it connected."""

    path: str
    client_id: str | None
    last_event_id: str | None
    at: float
    authorization: str | None = None
    query_token: str | None = None


@dataclass
class TestPeer:
    heartbeat_interval: float | None = None  # application heartbeats / SSE comments
    protocol_ping_interval: float | None = None  # WebSocket pings only (aiohttp heartbeat=)
    sse_retry_ms: int = 50
    replay_limit: int = 1000
    silent: bool = False
    lose_acks: int = 0
    refuse_status: int | None = None
    refuse_op: str | None = None
    #: The Authorization header of every POST /mutations.
    post_authorizations: list[str | None] = field(default_factory=list)
    events: list[tuple[int, str, Any]] = field(default_factory=list)
    applied: list[tuple[str, int, str, Any]] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    #: The seqs each WebSocket connection carried, in arrival order (one list per connection).
    seqs_per_connection: list[list[int]] = field(default_factory=list)
    _hwm: dict[str, int] = field(default_factory=dict)
    _websockets: set[web.WebSocketResponse] = field(default_factory=set)
    _sse_queues: set[asyncio.Queue[bytes | None]] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    base_url: str = ""

    __test__ = False  # not a pytest test class

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/sse", self._sse)
        app.router.add_post("/mutations", self._post)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        for ws in list(self._websockets):
            await ws.close(code=1001)
        for queue in list(self._sse_queues):
            queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def open_connections(self) -> int:
        return len(self._websockets) + len(self._sse_queues)

    # -- test controls ------------------------------------------------------------------

    async def publish(self, event: str, data: Any) -> int:
        event_id = len(self.events) + 1
        self.events.append((event_id, event, data))
        if not self.silent:
            frame = json.dumps({"id": event_id, "event": event, "data": data})
            for ws in list(self._websockets):
                with contextlib.suppress(ConnectionError):
                    await ws.send_str(frame)
            chunk = encode_event(json.dumps(data), event_id=event_id, event=event)
            for queue in self._sse_queues:
                queue.put_nowait(chunk)
        return event_id

    async def close_websockets(self, code: int, reason: str = "") -> None:
        for ws in list(self._websockets):
            await ws.close(code=code, message=reason.encode())

    def end_sse_streams(self, retry_ms: int | None = None) -> None:
        for queue in self._sse_queues:
            if retry_ms is not None:
                queue.put_nowait(encode_retry(retry_ms))
            queue.put_nowait(None)

    # -- shared logic -------------------------------------------------------------------

    def _connected(self, request: web.Request, last_event_id: str | None) -> None:
        self.connections.append(
            Connection(
                request.path,
                request.query.get("client_id"),
                last_event_id,
                asyncio.get_running_loop().time(),
                request.headers.get("Authorization"),
                request.query.get("token"),
            )
        )

    def _backlog(self, last_event_id: str | None) -> tuple[dict[str, Any] | None, list[Any]]:
        """(resync notice or None, events to replay) for a resuming client."""
        if last_event_id is None:
            return None, []
        after = int(last_event_id)
        retained = self.events[-self.replay_limit :]
        oldest = retained[0][0] if retained else len(self.events) + 1
        if after < oldest - 1:
            notice = {"after": after, "oldest": oldest, "latest": len(self.events)}
            return notice, []
        return None, [e for e in retained if e[0] > after]

    def _apply(self, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        seq = body["seq"]
        if seq <= self._hwm.get(client_id, 0):
            return {"ack": seq, "status": "ok", "duplicate": True}
        self._hwm[client_id] = seq
        self.applied.append((client_id, seq, body["op"], body.get("data")))
        return {"ack": seq, "status": "ok"}

    # -- handlers -----------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_status is not None:
            return web.Response(status=self.refuse_status)
        client_id = request.query.get("client_id")
        if not client_id:
            return web.Response(status=400)
        last_event_id = request.query.get("last_event_id")
        self._connected(request, last_event_id)
        ws = web.WebSocketResponse(heartbeat=self.protocol_ping_interval)
        await ws.prepare(request)
        notice, backlog = self._backlog(last_event_id)
        if notice is not None:
            await ws.send_str(json.dumps({"event": "resync", "data": notice}))
        for event_id, name, data in backlog:
            await ws.send_str(json.dumps({"id": event_id, "event": name, "data": data}))
        self._websockets.add(ws)
        beats = asyncio.create_task(self._ws_heartbeats(ws))
        carried: list[int] = []
        self.seqs_per_connection.append(carried)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT or self.silent:
                    continue
                body = json.loads(msg.data)
                carried.append(body["seq"])
                reply = self._apply(client_id, body)
                if self.lose_acks > 0:
                    self.lose_acks -= 1
                    assert request.transport is not None
                    request.transport.abort()  # applied, but the ack never leaves
                    break
                await ws.send_str(json.dumps(reply))
        finally:
            self._websockets.discard(ws)
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
        return ws

    async def _ws_heartbeats(self, ws: web.WebSocketResponse) -> None:
        if self.heartbeat_interval is None:
            return
        while not ws.closed:
            await asyncio.sleep(self.heartbeat_interval)
            if not self.silent:
                with contextlib.suppress(ConnectionError):
                    await ws.send_str('{"event": "heartbeat", "data": {"t": 0}}')

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_status is not None:
            return web.Response(status=self.refuse_status)
        last_event_id = request.headers.get("Last-Event-ID", request.query.get("last_event_id"))
        self._connected(request, last_event_id)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        await response.write(encode_retry(self.sse_retry_ms))
        notice, backlog = self._backlog(last_event_id)
        if notice is not None:
            await response.write(encode_event(json.dumps(notice), event="resync"))
        for event_id, name, data in backlog:
            await response.write(encode_event(json.dumps(data), event_id=event_id, event=name))
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._sse_queues.add(queue)
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(queue.get(), self.heartbeat_interval)
                except TimeoutError:
                    if not self.silent:
                        await response.write(encode_comment("hb"))
                    continue
                if chunk is None:
                    break
                await response.write(chunk)
        except ConnectionError:
            pass
        finally:
            self._sse_queues.discard(queue)
        return response

    async def _post(self, request: web.Request) -> web.StreamResponse:
        self.post_authorizations.append(request.headers.get("Authorization"))
        body = await request.json()
        if not isinstance(body.get("seq"), int) or body.get("op") in ("", None, self.refuse_op):
            return web.json_response(
                {"error": "INVALID_PAYLOAD", "detail": "seq and op required"}, status=400
            )
        reply = self._apply(body["client_id"], body)
        if self.lose_acks > 0:
            self.lose_acks -= 1
            assert request.transport is not None
            request.transport.abort()
        return web.json_response(reply)


def run_with_peer(peer: TestPeer, scenario: Callable[[TestPeer], Awaitable[None]]) -> None:
    """Start ``peer``, run ``scenario`` against it (bounded to 20 units), stop the peer."""

    async def main() -> None:
        await peer.start()
        try:
            async with asyncio.timeout(20 * UNIT):
                await scenario(peer)
        finally:
            await peer.stop()

    asyncio.run(main())
