"""The heartbeat task: pings every WebSocket, reaps those that miss their pong deadline,
writes SSE comment heartbeats (:class:`~selector.runtime.protocol.liveness.Liveness` says
when), sweeps leaked connections and evicts idle client ids."""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from typing import Protocol

from selector.runtime.clock import Clock
from selector.runtime.protocol.envelope import encode_heartbeat
from selector.runtime.protocol.liveness import Liveness
from selector.runtime.protocol.sse import encode_comment
from selector.runtime.server.faults import FaultHooks
from selector.runtime.server.logs import log_transition
from selector.runtime.server.metrics import Counters, MetricsExporter
from selector.runtime.server.registry import Registry
from selector.runtime.server.subscriber import Subscriber

__all__ = ["Heartbeat", "HeartbeatHost"]

#: A WebSocket whose transport holds this much unsent data is not pinged: the ping would only
#: add to a stalled peer's backlog. It misses its pong and is reaped.
_PING_SKIP_BUFFERED = 16 * 1024
_SSE_HEARTBEAT = encode_comment("hb")
#: The heartbeat task also sweeps leaked connections; it wakes at least this often for it,
#: heartbeats disabled or not.
_SWEEP_INTERVAL_S = 5.0


class HeartbeatHost(Protocol):
    """What the heartbeat drives (the hub)."""

    @property
    def registry(self) -> Registry: ...
    @property
    def counters(self) -> Counters: ...
    @property
    def faults(self) -> FaultHooks: ...
    def offer(self, sub: Subscriber, frame: bytes) -> None: ...
    def drop(self, sub: Subscriber, reason: str) -> None: ...
    def unsubscribe(self, sub: Subscriber, reason: str) -> None: ...
    def evict_idle(self) -> list[str]: ...


class Heartbeat:
    """Owns the liveness bookkeeping and the task that acts on it."""

    __slots__ = ("_task", "clock", "host", "liveness", "loop", "metrics")

    def __init__(
        self,
        host: HeartbeatHost,
        liveness: Liveness[int],
        metrics: MetricsExporter,
        loop: asyncio.AbstractEventLoop,
        clock: Clock,
    ) -> None:
        self.host = host
        self.clock = clock
        self.liveness = liveness
        self.metrics = metrics
        self.loop = loop
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the heartbeat task (call once the server is listening)."""
        if self._task is None:
            self._task = self.loop.create_task(self._loop())

    async def stop(self) -> None:
        """Cancel the heartbeat task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def on_pong(self, sub: Subscriber) -> None:
        """Record a pong and its round-trip time."""
        rtt = self.liveness.pong(sub.conn_id, self.clock.monotonic())
        if rtt is not None:
            self.metrics.heartbeat_rtt.observe(rtt)

    async def _loop(self) -> None:
        while True:
            try:
                await self._round()
            except Exception as exc:  # a bug here must not silently stop all reaping
                log_transition("heartbeat.error", error=repr(exc), traceback=traceback.format_exc())
            wait = self.liveness.next_wakeup() - self.clock.monotonic()
            await self.clock.sleep(min(max(0.0, wait), _SWEEP_INTERVAL_S))

    async def _round(self) -> None:
        host = self.host
        subscribers = host.registry.subscribers
        due = self.liveness.due(self.clock.monotonic())
        for conn_id in due.reap:
            sub = subscribers.get(conn_id)
            if sub is not None:
                host.counters.reaped += 1
                host.drop(sub, "pong_timeout")
        if due.ping_round:
            beat = encode_heartbeat(int(self.clock.wall() * 1000))
            for conn_id in due.ping:
                sub = subscribers.get(conn_id)
                if sub is not None and sub.ws is not None:
                    self._ping(sub, beat)
        if due.sse_comment:
            for sub in list(subscribers.values()):
                if sub.route == "sse":
                    host.offer(sub, _SSE_HEARTBEAT)
        for sub in host.registry.leaked():
            host.unsubscribe(sub, "transport_closed")
        host.evict_idle()

    def _ping(self, sub: Subscriber, beat: bytes) -> None:
        ws = sub.ws
        assert ws is not None
        if ws.buffered >= _PING_SKIP_BUFFERED:
            return
        ws.ping()
        if not self.host.faults.pings_only:
            self.host.offer(sub, beat)
