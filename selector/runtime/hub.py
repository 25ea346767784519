"""The server's shared state and its asyncio glue: subscribers, acks, fan-out, heartbeats.

The decisions live in the sans-I/O core (:mod:`selector.runtime.protocol`); the hub wires them
to the event loop:

- a mutation is classified by the :class:`Ledger`, applied by the store, and acked; with a
  durable store the ack waits for the group commit at the end of the loop tick;
- a published event gets the next id, is committed (durable store), then appended to the
  :class:`ReplayBuffer` and offered to every subscriber's :class:`FanoutQueue`, all at the end
  of the tick, so a burst of events costs one commit and one write per subscriber;
- one heartbeat task pings every WebSocket, reaps those that miss their pong deadline, and
  writes SSE comment heartbeats (:class:`Liveness` says when).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
import traceback
from collections.abc import Callable
from typing import Any, Literal

import orjson
from aiohttp import WSMsgType, web

from selector.runtime.metrics import Counters, MetricsExporter
from selector.runtime.protocol.activity import ClientActivity
from selector.runtime.protocol.commit import (
    STORE_FAILED,
    Acked,
    CommitSession,
    Duplicate,
    Rejected,
    SubmitResult,
)
from selector.runtime.protocol.envelope import (
    EncodedEvent,
    Mutation,
    Publish,
    encode_event,
    encode_heartbeat,
    encode_position,
    encode_resync,
)
from selector.runtime.protocol.fanout import FanoutQueue, Offer
from selector.runtime.protocol.identity import Claim, Identities, Proof
from selector.runtime.protocol.ledger import Ledger
from selector.runtime.protocol.liveness import Liveness
from selector.runtime.protocol.replay import ReplayBuffer, Resync
from selector.runtime.protocol.sse import encode_comment, encode_retry
from selector.runtime.protocol.wsframe import text_frame
from selector.runtime.settings import ServerSettings
from selector.runtime.store import MemoryStore, OpRejected

__all__ = ["OWNER_KEY", "Hub", "Subscriber"]

log = logging.getLogger("selector.runtime")
#: Per-connection transitions have their own logger so ``serve --quiet`` can silence them
#: while keeping server-level lines (listening, stopped, store failures).
connection_log = logging.getLogger("selector.runtime.connection")

Protocol = Literal["ws", "sse"]

#: Request key under which admission leaves the token owner a stream acts for.
OWNER_KEY = web.RequestKey("owner", str)

#: Largest run of WebSocket frames a writer sends before yielding to the loop.
_WS_BATCH_BYTES = 64 * 1024
#: A WebSocket whose transport holds this much unsent data is not pinged: awaiting the ping
#: could block the heartbeat task behind one stalled peer. It misses its pong and is reaped.
_PING_SKIP_BUFFERED = 16 * 1024
_SSE_HEARTBEAT = encode_comment("hb")
#: The heartbeat task also sweeps leaked connections; it wakes at least this often for it,
#: heartbeats disabled or not.
_SWEEP_INTERVAL_S = 5.0


def log_transition(event: str, **fields: Any) -> None:
    """One structured JSON log line for a connection or server state transition."""
    logger = connection_log if event.startswith(("ws.", "sse.")) else log
    if logger.isEnabledFor(logging.INFO):
        logger.info(orjson.dumps({"ts": round(time.time(), 3), "event": event, **fields}).decode())


class Subscriber:
    """One WebSocket connection or SSE stream receiving the event stream."""

    __slots__ = (
        "chunked",
        "client_id",
        "conn_id",
        "draining",
        "ending",
        "owner",
        "peer",
        "protocol",
        "queue",
        "replies",
        "request",
        "secret",
        "wake",
        "writer",
        "ws",
    )

    def __init__(
        self,
        *,
        conn_id: int,
        protocol: Protocol,
        client_id: str,
        request: web.Request,
        queue: FanoutQueue,
        ws: web.WebSocketResponse | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.protocol: Protocol = protocol
        self.client_id = client_id
        self.request = request
        self.peer = request.remote or ""
        self.queue = queue
        self.ws = ws
        #: The client id's resume secret as this connection proved it (``secret=`` query), or
        #: as the server issued it on this connection's first ack.
        self.secret: str | None = request.query.get("secret") or None
        #: Digest of the token the stream was admitted with ("" without tokens).
        self.owner: str = request.get(OWNER_KEY, "")
        #: SSE only (an idle WebSocket should not pay for an Event): set when the handler
        #: must drain a backlog or end.
        self.wake: asyncio.Event | None = asyncio.Event() if protocol == "sse" else None
        #: SSE: whether the response uses chunked transfer coding (HTTP/1.1).
        self.chunked = request.version >= (1, 1)
        #: The peer is slow: its SSE handler or WS writer task owns writing until the queue
        #: is empty.
        self.draining = False
        #: WS: the task draining a backlog, if any (none while the peer keeps up).
        self.writer: asyncio.Task[None] | None = None
        #: Set on graceful shutdown: write what is queued, then end.
        self.ending = False
        #: WS: acks and errors earned this tick, written together at the end of the tick.
        self.replies: list[bytes] = []

    @property
    def transport_open(self) -> bool:
        """Whether the underlying TCP transport is still open."""
        transport = self.request.transport
        return transport is not None and not transport.is_closing()

    def abort(self) -> None:
        """Drop the connection now, without a closing handshake (the peer may be gone)."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        self.signal()

    def signal(self) -> None:
        """Wake the SSE handler (no-op for a WebSocket)."""
        if self.wake is not None:
            self.wake.set()


def _refusal(proof: Proof, seq: int | None) -> Rejected | None:
    """The refusal for acting as a client id without proof it is the sender's."""
    if proof is Proof.STRANGER:
        return Rejected(
            "CLIENT_ID_TAKEN",
            "this client_id belongs to another client: send its secret, or use a new id",
            seq,
            403,
        )
    if proof is Proof.OTHER_TOKEN:
        return Rejected(
            "CLIENT_ID_BOUND",
            "this client_id was claimed under another token: use a new id",
            seq,
            403,
        )
    return None


class Hub:
    """Everything the request handlers share. Create it inside the running loop."""

    def __init__(self, settings: ServerSettings, store: MemoryStore) -> None:
        self.settings = settings
        self.store = store
        self.loop = asyncio.get_running_loop()
        self.session = CommitSession(Ledger())
        self.activity = ClientActivity(settings.max_client_ids, settings.client_idle_s)
        self.replay: ReplayBuffer[EncodedEvent] = ReplayBuffer(
            settings.replay_max_events, settings.replay_max_bytes
        )
        self._last_event_id = 0
        self._load()
        hb = settings.heartbeat
        self.liveness: Liveness[int] = Liveness(
            ping_interval=hb.ping_interval_s,
            pong_timeout=hb.pong_timeout_s,
            sse_comment_interval=hb.sse_comment_s,
            now=self.loop.time(),
        )
        self.subscribers: dict[int, Subscriber] = {}
        #: The live stream of each client id: a client holds one stream at a time.
        self._stream_of_client: dict[str, Subscriber] = {}
        self.counters = Counters()
        self.metrics = MetricsExporter(self.counters, self._gauges)
        self.connections_by_ip: dict[str, int] = {}
        self.closing = False
        #: Set when the store failed to commit: the server must stop (fail-stop keeps the
        #: durable state and what was acked consistent).
        self.failed = asyncio.Event()
        self._next_conn_id = 0
        self._group: asyncio.Future[None] | None = None
        self._reply_subs: list[Subscriber] = []
        self._pending_events: list[tuple[EncodedEvent, str, bytes]] = []
        self._dirty: dict[int, Subscriber] = {}
        self._in_flush = False
        self._flush_handle: asyncio.Handle | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        #: When a list, every applied mutation is appended as ``(client_id, seq)`` in apply
        #: order: set by a verification harness that judges exactly-once and ordering.
        self.applied_log: list[tuple[str, int]] | None = None

    def _load(self) -> tuple[Ledger, Identities]:
        """Load marks, secrets and the event log tail from the store."""
        recovered = self.store.recover()
        ledger = Ledger(recovered.marks)
        identities = Identities(recovered.claims)
        self.activity = ClientActivity(self.settings.max_client_ids, self.settings.client_idle_s)
        self.activity.seed_ids({*recovered.marks, *recovered.claims}, self.loop.time())
        first = recovered.events[0][0] - 1 if recovered.events else recovered.latest_event_id
        self.replay = ReplayBuffer(
            self.settings.replay_max_events, self.settings.replay_max_bytes, latest=first
        )
        for event_id, name, data_json in recovered.events:
            encoded = encode_event(event_id, name, data_json)
            self.replay.append(event_id, encoded, encoded.size)
        self._last_event_id = self.replay.latest
        self.session.ledger = ledger
        self.session.identities = identities
        return ledger, identities

    @property
    def ledger(self) -> Ledger:
        """The committed per-client high-water marks."""
        return self.session.ledger

    def rebuild(self) -> None:
        """Leave FAILED: reload everything from what the store holds, then accept mutations
        again. Raises the store's error (and stays FAILED) when it cannot be read."""
        self.session.rebuilt(*self._load())
        self.failed.clear()
        log_transition("store.rebuilt", latest=self.replay.latest, clients=len(self.ledger))

    # -- connections ---------------------------------------------------------------------

    def new_conn_id(self) -> int:
        """A process-unique connection number for logs and bookkeeping."""
        self._next_conn_id += 1
        return self._next_conn_id

    def try_acquire_ip(self, ip: str) -> bool:
        """Count a connection against its IP's limit; False (and nothing counted) when full."""
        count = self.connections_by_ip.get(ip, 0)
        if count >= self.settings.max_connections_per_ip:
            return False
        self.connections_by_ip[ip] = count + 1
        return True

    def release_ip(self, ip: str) -> None:
        """Undo :meth:`try_acquire_ip`."""
        count = self.connections_by_ip.get(ip, 0) - 1
        if count > 0:
            self.connections_by_ip[ip] = count
        else:
            self.connections_by_ip.pop(ip, None)

    def new_queue(self) -> FanoutQueue:
        """An outbound queue with the configured bounds and delivery mode."""
        s = self.settings
        return FanoutQueue(s.queue_max_frames, s.queue_max_bytes, s.delivery)

    def subscribe(self, sub: Subscriber, last_event_id: int | None) -> None:
        """Register ``sub`` and queue what it missed (or a resync notice) before live events.

        Runs without awaiting, so no event can slip between the replay and the registration.
        """
        plan = self.replay.resume(last_event_id)
        if isinstance(plan, Resync):
            ws_frame, sse_frame = encode_resync(plan.after, plan.oldest, plan.latest)
            sub.queue.force(ws_frame if sub.protocol == "ws" else sse_frame)
            self.counters.resumes_resync[sub.protocol] += 1
            outcome: dict[str, Any] = {"resync": True, "oldest": plan.oldest}
        elif last_event_id is None:
            # A fresh subscriber learns where the stream stands, so it can resume from there
            # even if it drops before its first event.
            ws_frame, sse_frame = encode_position(self.replay.latest)
            sub.queue.force(ws_frame if sub.protocol == "ws" else sse_frame)
            outcome = {"position": self.replay.latest}
        else:
            for encoded in plan.items:
                sub.queue.force(encoded.ws_frame if sub.protocol == "ws" else encoded.sse_frame)
            self.counters.resumes_replayed[sub.protocol] += 1
            outcome = {"replayed": len(plan.items)}
        previous = self._stream_of_client.get(sub.client_id)
        # Only a client that proved the id is its own gives the old stream up; an unclaimed
        # id proves nothing, so a stranger opening it must not end someone else's stream.
        proof = self.session.identities.prove(sub.client_id, sub.secret, sub.owner)
        if previous is not None and proof is Proof.OWNER:
            # A client that reconnects has given its old stream up. Behind a load balancer
            # that dropped the old connection silently, nothing else would ever end it on an
            # SSE stream (no pong to miss), so it is ended here.
            self.drop(previous, "superseded")
        self._stream_of_client[sub.client_id] = sub
        self.subscribers[sub.conn_id] = sub
        if sub.protocol == "ws":
            self.liveness.add(sub.conn_id)
        log_transition(
            f"{sub.protocol}.open",
            conn=sub.conn_id,
            client_id=sub.client_id,
            peer=sub.peer,
            last_event_id=last_event_id,
            latest=self.replay.latest,
            **outcome,
        )
        self._notify(sub)

    def unsubscribe(self, sub: Subscriber, reason: str, **fields: Any) -> None:
        """Forget ``sub`` (idempotent) and log why it ended."""
        if self.subscribers.pop(sub.conn_id, None) is None:
            return
        if self._stream_of_client.get(sub.client_id) is sub:
            del self._stream_of_client[sub.client_id]
        self.liveness.remove(sub.conn_id)
        sub.queue.closed = True
        sub.signal()
        log_transition(
            f"{sub.protocol}.closed",
            conn=sub.conn_id,
            client_id=sub.client_id,
            peer=sub.peer,
            reason=reason,
            **fields,
        )

    def drop(self, sub: Subscriber, reason: str) -> None:
        """Terminate ``sub``'s connection now (slow consumer, missed pong)."""
        self.unsubscribe(sub, reason)
        sub.abort()

    def _gauges(self) -> dict[str, int]:
        ws = sse = leaked = 0
        for sub in self.subscribers.values():
            if sub.protocol == "ws":
                ws += 1
            else:
                sse += 1
            if not sub.transport_open:
                leaked += 1
        return {
            "ws_connections_active": ws,
            "sse_connections_active": sse,
            "connections_leaked": leaked,
        }

    # -- mutations -----------------------------------------------------------------------

    def open_stream_claim(
        self, client_id: str, offered: str | None, owner: str, *, claim: bool = True
    ) -> Rejected | None:
        """Whether a stream may be opened as ``client_id`` with the ``offered`` secret under
        ``owner``'s token; None admits it. A claimed id needs its secret (and its token), so
        no one else can end (supersede) its stream; an unclaimed id opened with a secret is
        claimed now, so it cannot be taken over before its first mutation."""
        proof = self.session.identities.prove(client_id, offered, owner)
        refused = _refusal(proof, None)
        if refused is not None:
            return refused
        self._touch(client_id)
        if claim and proof is Proof.UNCLAIMED and offered is not None and not self.session.failed:
            self._claim(client_id, Claim(offered, owner))
        return None

    def _claim(self, client_id: str, claim: Claim) -> None:
        """Claim ``client_id``, committed with the open group."""
        self.session.claim(client_id, claim)
        self.store.record_claim(client_id, claim)
        if self.store.durable:
            self._current_group()
        else:
            self._schedule_flush()

    def _touch(self, client_id: str) -> None:
        """Record activity of ``client_id``; forget ids past the ledger's bounds."""
        activity = self.activity
        known = client_id in activity
        activity.touch(client_id, self.loop.time())
        if not known and len(activity) > activity.max_ids:
            self.evict_idle()

    def evict_idle(self) -> list[str]:
        """Forget the marks and claims of ids past the bounds (idle ones first); an id with
        a live stream or a mutation in the open group stays. Returns the ids forgotten."""
        session = self.session
        staged = session.staged_marks()
        evicted = self.activity.evict(
            self.loop.time(), lambda c: c in self._stream_of_client or c in staged
        )
        for client_id in evicted:
            session.ledger.forget(client_id)
            session.identities.forget(client_id)
            self.store.forget_client(client_id)
        if evicted:
            self.counters.evicted_clients += len(evicted)
            if self.store.durable:
                self._current_group()
            else:
                self._schedule_flush()
        return evicted

    def submit_ws(self, sub: Subscriber, mutation: Mutation) -> bytes:
        """:meth:`submit` for a WebSocket; the connection keeps a secret issued to it."""
        result = self.submit(mutation, "ws", sub.secret, sub.owner)
        if not isinstance(result, Rejected) and result.secret is not None:
            sub.secret = result.secret
        return result.encode()

    def submit(
        self, mutation: Mutation, protocol: str, offered: str | None, owner: str = ""
    ) -> SubmitResult:
        """Apply ``mutation`` unless it is a duplicate or refused; ``offered`` is the secret
        the sender presented for its client id, ``owner`` the digest of its token.

        Send an ``Acked`` or ``Duplicate`` with :meth:`reply` (WS) or after
        :meth:`commit_barrier` (HTTP): with a durable store it may only leave once committed.
        """
        counters = self.counters
        session = self.session
        client_id = mutation.client_id
        proof = session.identities.prove(client_id, offered, owner)
        refused = _refusal(proof, mutation.seq)
        if refused is not None:
            counters.invalid[protocol] += 1
            return refused
        self._touch(client_id)
        result = session.admit(client_id, mutation.seq)
        if result is None:
            try:
                self.store.apply(mutation)
            except OpRejected as exc:
                counters.invalid[protocol] += 1
                return Rejected(exc.code, str(exc), mutation.seq)
            result = session.stage(mutation.client_id, mutation.seq)
            self.store.record_mark(mutation.client_id, mutation.seq)
            if self.applied_log is not None:
                self.applied_log.append((mutation.client_id, mutation.seq))
            if self.store.durable:
                self._current_group()
            else:
                self._schedule_flush()
        elif isinstance(result, Rejected):
            counters.invalid[protocol] += 1
            return result
        else:
            counters.duplicates[protocol] += 1
        counters.acks[protocol] += 1
        if proof is Proof.UNCLAIMED:
            # First contact claims the id, committed with the mutation's group. A client that
            # chose its own secret keeps it (an ack lost on the way cannot lock it out of its
            # id); one that sent none gets a secret in this ack.
            issued = None if offered else secrets.token_urlsafe(24)
            self._claim(client_id, Claim(offered or issued or "", owner))
            if issued is None:
                return result
            if isinstance(result, Duplicate):
                return Duplicate(result.seq, issued)
            return Acked(result.seq, issued)
        return result

    async def commit_barrier(self) -> None:
        """Wait until everything applied so far is committed (no-op for a memory store)."""
        if self.store.durable:
            await asyncio.shield(self._current_group())

    def reply(self, sub: Subscriber, reply: bytes) -> None:
        """Queue an ack or error for ``sub``'s WebSocket. All replies a connection earns in one
        loop tick go out in one write at the end of the tick, after the group commit of a
        durable store, so the connection keeps reading (pipelined mutations share a commit)."""
        if not sub.replies:
            self._reply_subs.append(sub)
        sub.replies.append(reply)
        if self.store.durable:
            self._current_group()
        else:
            self._schedule_flush()

    def _write_replies(self, sub: Subscriber) -> None:
        replies, sub.replies = sub.replies, []
        transport = sub.request.transport
        if sub.conn_id not in self.subscribers or transport is None or transport.is_closing():
            return
        if sub.ws is None or sub.ws.closed:
            return
        transport.write(b"".join([text_frame(reply) for reply in replies]))
        self.counters.messages_out["ws"] += len(replies)
        if transport.get_write_buffer_size() > self.settings.queue_max_bytes:
            # The client sends mutations but reads none of its acks.
            self.counters.slow_disconnects["ws"] += 1
            self.drop(sub, "slow_consumer")

    def _current_group(self) -> asyncio.Future[None]:
        if self._group is None:
            self._group = self.loop.create_future()
        self._schedule_flush()
        return self._group

    # -- events --------------------------------------------------------------------------

    def publish(self, publish: Publish) -> int | Rejected:
        """Give the event the next id; it reaches subscribers at the end of this tick, after
        the commit. Returns its id, or ``STORE_FAILED`` while the store is failed."""
        if self.session.failed:
            return STORE_FAILED
        self.session.stage_event()
        self._last_event_id += 1
        data_json = orjson.dumps(publish.data)
        encoded = encode_event(self._last_event_id, publish.event, data_json)
        self.store.append_event(self._last_event_id, publish.event, data_json)
        self._pending_events.append((encoded, publish.event, data_json))
        self.counters.events_published += 1
        if self.store.durable:
            self._current_group()
        else:
            self._schedule_flush()
        return self._last_event_id

    def _schedule_flush(self) -> None:
        if self._flush_handle is None:
            self._flush_handle = self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        """End of tick: commit the group, release its replies, fan out its events, then write
        every subscriber that has frames: one write per subscriber per tick."""
        self._flush_handle = None
        self._in_flush = True
        try:
            self._commit_and_fan_out()
            dirty, self._dirty = self._dirty, {}
            for sub in dirty.values():
                self._write_stream(sub)
        finally:
            self._in_flush = False

    def _commit_and_fan_out(self) -> None:
        group, self._group = self._group, None
        reply_subs, self._reply_subs = self._reply_subs, []
        events, self._pending_events = self._pending_events, []
        try:
            self.store.commit()
        except Exception as exc:
            # Nothing of the group is acked, and no mark of it is raised: a re-sent copy is
            # applied again once the state is rebuilt from the store.
            self.session.commit_failed()
            log_transition("store.failed", error=f"{type(exc).__name__}: {exc}")
            if group is not None:
                group.set_exception(exc)
                group.exception()  # retrieved: waiters get it, nobody else must log it
            refusal = STORE_FAILED.encode()
            for sub in reply_subs:
                sub.replies = [refusal]
                self._write_replies(sub)
            self.failed.set()
            return
        if not self.session.failed:
            self.session.committed()
        if group is not None:
            group.set_result(None)
        for sub in reply_subs:
            self._write_replies(sub)
        for encoded, _, _ in events:
            self.replay.append(encoded.event_id, encoded, encoded.size)
            for sub in list(self.subscribers.values()):
                self._offer(sub, encoded.ws_frame if sub.protocol == "ws" else encoded.sse_frame)

    def _offer(self, sub: Subscriber, frame: bytes) -> None:
        outcome = sub.queue.offer(frame)
        if outcome is Offer.QUEUED:
            self._notify(sub)
        elif outcome is Offer.SKIPPED:
            self.counters.slow_skips[sub.protocol] += 1
        else:
            self.counters.slow_disconnects[sub.protocol] += 1
            self.drop(sub, "slow_consumer")

    def _notify(self, sub: Subscriber) -> None:
        self._dirty[sub.conn_id] = sub
        if not self._in_flush:
            self._schedule_flush()

    def _write_stream(self, sub: Subscriber) -> None:
        """Write ``sub``'s queued frames straight to its transport: one write per subscriber
        per tick, capped in bytes (WS frames, or HTTP chunks of SSE blocks). A peer that does
        not keep up (data left in its transport buffer) is drained with aiohttp's flow control
        instead, by its SSE handler or a WS writer task, until its queue is empty."""
        if sub.draining or sub.conn_id not in self.subscribers:
            return
        transport = sub.request.transport
        if transport is None or transport.is_closing():
            return
        ws = sub.ws
        if ws is not None and ws.closed:
            return  # nothing may follow a close frame
        queue, cap = sub.queue, self.settings.sse_batch_max_bytes
        while queue:
            if transport.get_write_buffer_size() >= cap:
                sub.draining = True
                if ws is None:
                    sub.signal()
                else:
                    sub.writer = self.loop.create_task(self._drain_ws(sub, ws))
                return
            frames = queue.take(cap)
            if ws is not None:
                transport.write(b"".join([text_frame(frame) for frame in frames]))
            else:
                data = b"".join(frames)
                # aiohttp prepared the response with chunked transfer coding (HTTP/1.1);
                # writing whole chunks here saves a task wake-up per stream per event.
                transport.write(b"%x\r\n%b\r\n" % (len(data), data) if sub.chunked else data)
            self.counters.messages_out[sub.protocol] += len(frames)
        if sub.ending:
            sub.signal()

    async def _drain_ws(self, sub: Subscriber, ws: web.WebSocketResponse) -> None:
        """The slow path of a WebSocket that fell behind: aiohttp's writer waits for drain."""
        counters = self.counters.messages_out
        try:
            while sub.queue and not ws.closed:
                for frame in sub.queue.take(_WS_BATCH_BYTES):
                    await ws.send_frame(frame, WSMsgType.TEXT)
                    counters["ws"] += 1
        except (ConnectionError, RuntimeError):
            pass  # the connection went away; its handler cleans up
        finally:
            sub.writer = None
            sub.draining = False

    # -- heartbeats ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the heartbeat task (call once the server is listening)."""
        if self._heartbeat_task is None:
            self._heartbeat_task = self.loop.create_task(self._heartbeat_loop())

    def on_pong(self, sub: Subscriber) -> None:
        """Record a pong and its round-trip time."""
        rtt = self.liveness.pong(sub.conn_id, self.loop.time())
        if rtt is not None:
            self.metrics.heartbeat_rtt.observe(rtt)

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                await self._heartbeat_round()
            except Exception as exc:  # a bug here must not silently stop all reaping
                log_transition("heartbeat.error", error=repr(exc), traceback=traceback.format_exc())
            wait = self.liveness.next_wakeup() - self.loop.time()
            await asyncio.sleep(min(max(0.0, wait), _SWEEP_INTERVAL_S))

    async def _heartbeat_round(self) -> None:
        due = self.liveness.due(self.loop.time())
        for conn_id in due.reap:
            sub = self.subscribers.get(conn_id)
            if sub is not None:
                self.counters.reaped += 1
                self.drop(sub, "pong_timeout")
        if due.ping_round:
            beat = encode_heartbeat(int(time.time() * 1000))
            for conn_id in due.ping:
                sub = self.subscribers.get(conn_id)
                if sub is not None and sub.ws is not None:
                    await self._ping(sub, beat)
        if due.sse_comment:
            for sub in list(self.subscribers.values()):
                if sub.protocol == "sse":
                    self._offer(sub, _SSE_HEARTBEAT)
        self._sweep_leaked()
        self.evict_idle()

    async def _ping(self, sub: Subscriber, beat: bytes) -> None:
        transport = sub.request.transport
        if transport is None or transport.get_write_buffer_size() >= _PING_SKIP_BUFFERED:
            return
        assert sub.ws is not None
        with contextlib.suppress(ConnectionError, RuntimeError):
            await sub.ws.ping()
        self._offer(sub, beat)

    def _sweep_leaked(self) -> None:
        """Unregister subscribers whose transport closed without their handler noticing."""
        for sub in [s for s in self.subscribers.values() if not s.transport_open]:
            self.unsubscribe(sub, "transport_closed")

    # -- shutdown ------------------------------------------------------------------------

    async def shutdown(self, random_ms: Callable[[int], int] | None = None) -> None:
        """Graceful shutdown: refuse new connections, close every WebSocket with 1001 and
        ``retry_after_ms=N``, end every SSE stream after a ``retry: N`` hint. Each client gets
        its own N, spread over ``shutdown_retry_spread_ms``, so they do not return at once."""
        if self.closing:
            return
        self.closing = True
        spread = random_ms or (lambda top: random.randint(0, top))
        s = self.settings
        closes = []
        for sub in list(self.subscribers.values()):
            retry_ms = s.shutdown_retry_after_ms + spread(s.shutdown_retry_spread_ms)
            sub.ending = True
            if sub.ws is not None:
                message = f"retry_after_ms={retry_ms}".encode()
                closes.append(sub.ws.close(code=1001, message=message))
            else:
                sub.queue.force(encode_retry(retry_ms))
                sub.draining = True  # its handler writes what is left, then ends the stream
                sub.signal()
        if closes:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(s.close_timeout_s + 1):
                    await asyncio.gather(*closes, return_exceptions=True)
        await self.stop_tasks()

    async def stop_tasks(self) -> None:
        """Cancel the heartbeat task and commit what is pending."""
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
            self._heartbeat_task = None
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush()
