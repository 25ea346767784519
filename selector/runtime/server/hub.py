"""The hub: the pump every request handler shares, between the event loop and the sans-I/O core.

The decisions live in :mod:`selector.runtime.protocol`; the hub wires them to the loop:

- a mutation is classified by the :class:`Ledger`, applied by the store, and acked; with a
  durable store the ack waits for the group commit at the end of the loop tick
  (:mod:`.commit`);
- a published event gets the next id, is committed (durable store), then appended to the
  :class:`ReplayBuffer` and offered to every subscriber's :class:`FanoutQueue`, all at the end
  of the tick, so a burst of events costs one commit and one write per subscriber
  (:mod:`.writer`);
- who is connected is in :mod:`.registry`; pings, pong deadlines and SSE comments in
  :mod:`.heartbeat`; graceful close in :mod:`.shutdown`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

import orjson

from selector.runtime.clock import SYSTEM_CLOCK, Clock
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
    encode_position,
    encode_resync,
)
from selector.runtime.protocol.fanout import FanoutQueue, Offer
from selector.runtime.protocol.identity import Claim, Identities, Proof
from selector.runtime.protocol.ledger import Ledger
from selector.runtime.protocol.liveness import Liveness
from selector.runtime.protocol.replay import ReplayBuffer, Resync
from selector.runtime.server.commit import GroupCommit
from selector.runtime.server.faults import FaultHooks
from selector.runtime.server.heartbeat import Heartbeat
from selector.runtime.server.logs import log_transition
from selector.runtime.server.metrics import Counters, MetricsExporter
from selector.runtime.server.registry import Registry, refusal
from selector.runtime.server.settings import ServerSettings
from selector.runtime.server.shutdown import close_streams
from selector.runtime.server.store import MemoryStore, OpRejected
from selector.runtime.server.subscriber import Subscriber
from selector.runtime.server.websocket import WsConnection
from selector.runtime.server.writer import write_caught_up, write_stream

__all__ = ["Hub"]

# Proofs as module globals for the per-mutation path: on Python 3.11 reading a member from an
# Enum class goes through EnumType.__getattr__'s slow hook (see websocket._OPEN for figures).
_OWNER = Proof.OWNER
_UNCLAIMED = Proof.UNCLAIMED


class Hub:
    """Everything the request handlers share. Create it inside the running loop."""

    def __init__(
        self, settings: ServerSettings, store: MemoryStore, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.settings = settings
        self.store = store
        #: ``store.durable``, read twice per WebSocket ack: a class attribute read through
        #: the instance is not specialized on Python 3.11 (an instance attribute is), ~460
        #: instructions per ack (34,572 -> 34,114, bench/ws_ack_instructions.sh).
        self.durable = store.durable
        self.loop = asyncio.get_running_loop()
        #: Deadlines (pongs, idle client ids) and heartbeat sleeps follow this clock.
        self.clock = clock
        # In memory nothing can fail to commit: marks are raised as mutations apply, and a
        # mutation schedules no end-of-tick flush (on bench/run.py's one-in-flight load the
        # flush per tick cost ~2 µs per ack).
        self.session = CommitSession(Ledger(), immediate=not store.durable)
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
            now=self.clock.monotonic(),
        )
        self.registry = Registry(settings.max_connections_per_ip)
        self.counters = Counters()
        self.metrics = MetricsExporter(self.counters_now, self.registry.gauges)
        self.heartbeat = Heartbeat(self, self.liveness, self.metrics, self.loop, clock)
        self.commits = GroupCommit(self.loop, store, self.session, self._flush, self.counters)
        self.closing = False
        #: Test-only faults (:mod:`.faults`), all off unless a test turns them on.
        self.faults = FaultHooks()
        #: Set when the store failed to commit: the server must stop (fail-stop keeps the
        #: durable state and what was acked consistent).
        self.failed = asyncio.Event()
        self._reply_subs: list[Subscriber] = []
        self._pending_events: list[tuple[EncodedEvent, str, bytes]] = []
        self._dirty: dict[int, Subscriber] = {}
        self._in_flush = False
        #: When a list, every applied mutation is appended as ``(client_id, seq)`` in apply
        #: order: set by a verification harness that judges exactly-once and ordering.
        self.applied_log: list[tuple[str, int]] | None = None

    def _load(self) -> tuple[Ledger, Identities]:
        """Load marks, secrets and the event log tail from the store."""
        recovered = self.store.recover()
        ledger = Ledger(recovered.marks)
        identities = Identities(recovered.claims)
        self.activity = ClientActivity(self.settings.max_client_ids, self.settings.client_idle_s)
        self.activity.track_recovered({*recovered.marks, *recovered.claims}, self.clock.monotonic())
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

    @property
    def subscribers(self) -> dict[int, Subscriber]:
        """The live subscribers by connection id (:attr:`Registry.subscribers`)."""
        return self.registry.subscribers

    def rebuild(self) -> None:
        """Leave FAILED: reload everything from what the store holds, then accept mutations
        again. Raises the store's error (and stays FAILED) when it cannot be read."""
        self.session.rebuilt(*self._load())
        self.failed.clear()
        log_transition("store.rebuilt", latest=self.replay.latest, clients=len(self.ledger))

    # -- connections ---------------------------------------------------------------------

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
            sub.queue.force(ws_frame if sub.route == "ws" else sse_frame)
            self.counters.resumes_resync[sub.route] += 1
            outcome: dict[str, bool | int] = {"resync": True, "oldest": plan.oldest}
        elif last_event_id is None:
            # A fresh subscriber learns where the stream stands, so it can resume from there
            # even if it drops before its first event.
            ws_frame, sse_frame = encode_position(self.replay.latest)
            sub.queue.force(ws_frame if sub.route == "ws" else sse_frame)
            outcome = {"position": self.replay.latest}
        else:
            for encoded in plan.items:
                sub.queue.force(encoded.ws_frame if sub.route == "ws" else encoded.sse_frame)
            self.counters.resumes_replayed[sub.route] += 1
            outcome = {"replayed": len(plan.items)}
        previous = self.registry.stream_of_client.get(sub.client_id)
        # Only a client that proved the id is its own gives the old stream up; an unclaimed
        # id proves nothing, so a stranger opening it must not end someone else's stream.
        proof = self.session.identities.prove(sub.client_id, sub.secret, sub.owner)
        if previous is not None and proof is Proof.OWNER:
            # A client that reconnects has given its old stream up. Behind a load balancer
            # that dropped the old connection silently, nothing else would ever end it on an
            # SSE stream (no pong to miss), so it is ended here.
            self.drop(previous, "superseded")
        self.registry.add(sub)
        if sub.route == "ws":
            self.liveness.add(sub.conn_id)
        log_transition(
            f"{sub.route}.open",
            conn=sub.conn_id,
            client_id=sub.client_id,
            peer=sub.peer,
            last_event_id=last_event_id,
            latest=self.replay.latest,
            **outcome,
        )
        self._notify(sub)

    def counters_now(self) -> Counters:
        """The totals with the live WebSocket connections' own counts added (what
        ``/metrics`` shows)."""
        return self.counters.with_live(self.registry.subscribers.values())

    def unsubscribe(self, sub: Subscriber, reason: str, **fields: object) -> None:
        """Forget ``sub`` (idempotent) and log why it ended."""
        if not self.registry.remove(sub):
            return
        self.counters.fold(sub)
        # A WebSocket's own mutations do not touch its id (a streaming id is never evicted):
        # its idle age starts when the stream ends.
        self._touch(sub.client_id)
        self.liveness.remove(sub.conn_id)
        sub.queue.closed = True
        sub.signal()
        log_transition(
            f"{sub.route}.closed",
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

    # -- client ids ----------------------------------------------------------------------

    def open_stream_claim(
        self, client_id: str, offered: str | None, owner: str, *, claim: bool = True
    ) -> Rejected | None:
        """Whether a stream may be opened as ``client_id`` with the ``offered`` secret under
        ``owner``'s token; None admits it. A claimed id needs its secret (and its token), so
        no one else can end (supersede) its stream; an unclaimed id opened with a secret is
        claimed now, so it cannot be taken over before its first mutation."""
        proof = self.session.identities.prove(client_id, offered, owner)
        refused = refusal(proof, None)
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
        self.commits.staged()

    def _touch(self, client_id: str) -> None:
        """Record activity of ``client_id``; forget ids past the ledger's bounds."""
        activity = self.activity
        if activity.touch(client_id, self.clock.monotonic()) and len(activity) > activity.max_ids:
            self.evict_idle()

    def evict_idle(self) -> list[str]:
        """Forget the marks and claims of ids past the bounds (idle ones first); an id with
        a live stream or a mutation in the open group stays. Returns the ids forgotten."""
        session = self.session
        staged = session.staged_marks()
        streams = self.registry.stream_of_client
        evicted = self.activity.evict(self.clock.monotonic(), lambda c: c in streams or c in staged)
        for client_id in evicted:
            session.ledger.forget(client_id)
            session.identities.forget(client_id)
            self.store.forget_client(client_id)
        if evicted:
            self.counters.evicted_clients += len(evicted)
            self.commits.staged()
        return evicted

    # -- mutations -----------------------------------------------------------------------

    def submit(
        self,
        mutation: Mutation,
        protocol: str,
        offered: str | None,
        owner: str = "",
        sub: Subscriber | None = None,
    ) -> SubmitResult:
        """Apply ``mutation`` unless it is a duplicate or refused; ``offered`` is the secret
        the sender presented for its client id, ``owner`` the digest of its token.

        ``sub``: the WebSocket it came on (its ``secret`` and ``owner`` are ``offered`` and
        ``owner``). That is the id's own live stream, which keeps the id from eviction, so
        its activity is recorded when the stream ends instead of per mutation; it keeps a
        secret issued to it, and the claim it proved, so later mutations of the same claim
        skip the comparison.

        Send an ``Acked`` or ``Duplicate`` with :meth:`reply` (WS) or after
        :meth:`commit_barrier` (HTTP): with a durable store it may only leave once committed.
        """
        # One method for both protocols: a WebSocket-only entry calling a shared body cost a
        # frame, a keyword argument and a second look at the result, ~1,360 instructions per
        # WebSocket ack (37,437 -> 36,074, bench/ws_ack_instructions.sh).
        session = self.session
        client_id, seq = mutation.client_id, mutation.seq
        if sub is None:
            proof = session.identities.prove(client_id, offered, owner)
        else:
            identities = session.identities
            claim = identities.claims.get(client_id)
            if claim is not None and claim is sub.proven:
                proof = _OWNER
            else:
                proof = identities.prove(client_id, offered, owner)
                if proof is _OWNER:
                    sub.proven = claim
        counters = self.counters
        if proof is not _OWNER:
            refused = refusal(proof, seq)
            if refused is not None:
                counters.invalid[protocol] += 1
                return refused
        if sub is None:
            self._touch(client_id)
        result = session.admit(client_id, seq)
        if result is None:
            store = self.store
            try:
                store.apply(mutation)
            except OpRejected as exc:
                counters.invalid[protocol] += 1
                return Rejected(exc.code, str(exc), seq)
            result = session.stage(client_id, seq)
            if self.durable:
                store.record_mark(client_id, seq)
                self.commits.staged()
            if self.applied_log is not None:
                self.applied_log.append((client_id, seq))
        elif isinstance(result, Rejected):
            counters.invalid[protocol] += 1
            return result
        else:
            counters.duplicates[protocol] += 1
        if sub is None:
            counters.acks[protocol] += 1
        else:
            sub.acks += 1
        if proof is _UNCLAIMED:
            # First contact claims the id, committed with the mutation's group. A client that
            # chose its own secret keeps it (an ack lost on the way cannot lock it out of its
            # id); one that sent none gets a secret in this ack (and its WebSocket keeps it).
            issued = None if offered else secrets.token_urlsafe(24)
            self._claim(client_id, Claim(offered or issued or "", owner))
            if issued is None:
                return result
            if sub is not None:
                sub.secret = issued
            if isinstance(result, Duplicate):
                return Duplicate(result.seq, issued)
            return Acked(result.seq, issued)
        return result

    async def commit_barrier(self) -> None:
        """Wait until everything applied so far is committed (no-op for a memory store)."""
        if self.durable:
            await asyncio.shield(self.commits.group())

    def reply(self, sub: Subscriber, reply: bytes) -> None:
        """Queue an ack or error for ``sub``'s WebSocket. With a durable store, all replies a
        connection earns in one loop tick go out in one write at the end of the tick, after
        the group commit, so the connection keeps reading (pipelined mutations share a
        commit); in memory, at the end of the read that earned them (:meth:`replies_ready`)."""
        if not self.durable:
            sub.replies.append(reply)
            return
        if not sub.replies:
            self._reply_subs.append(sub)
        sub.replies.append(reply)
        self.commits.staged()

    def reply_now(self, sub: Subscriber, reply: bytes) -> None:
        """:meth:`reply` for the only message of a read: in memory it is written at once
        (nothing else of that read can share its write); with a durable store it waits
        for the commit like any other."""
        if self.durable or sub.replies:
            self.reply(sub, reply)
            self.replies_ready(sub)
            return
        ws = sub.ws
        if ws is None or sub.conn_id not in self.registry.subscribers:
            return
        if ws.send_text(reply):
            # _replies_written inlined: its frame cost ~420 instructions per ack (35,445 ->
            # 35,024, bench/ws_ack_instructions.sh).
            sub.messages_out += 1
            if ws.transport.get_write_buffer_size() > self.settings.queue_max_bytes:
                self.counters.slow_disconnects["ws"] += 1
                self.drop(sub, "slow_consumer")

    def replies_ready(self, sub: Subscriber) -> None:
        """A read of ``sub``'s WebSocket was handled: in memory nothing waits for a commit, so
        its replies go out now, in one write, instead of through the end-of-tick list (the
        ack leaves sooner; on bench/run.py's one-in-flight load no CPU figure beyond the
        noise)."""
        if sub.replies and not self.durable:
            self._write_replies(sub)

    def _write_replies(self, sub: Subscriber) -> None:
        """Write the acks and errors ``sub`` earned, in one write."""
        replies, sub.replies = sub.replies, []
        ws = sub.ws
        if ws is None or sub.conn_id not in self.registry.subscribers:
            return
        if ws.send_texts(replies):
            self._replies_written(sub, ws, len(replies))

    def _replies_written(self, sub: Subscriber, ws: WsConnection, count: int) -> None:
        """Count ``count`` replies out; drop a client that sends mutations but reads none of
        its acks (more than the queue bound left unsent)."""
        sub.messages_out += count
        if ws.transport.get_write_buffer_size() > self.settings.queue_max_bytes:
            self.counters.slow_disconnects["ws"] += 1
            self.drop(sub, "slow_consumer")

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
        self.commits.staged(defer=True)
        return self._last_event_id

    # -- end of tick ---------------------------------------------------------------------

    def _flush(self) -> None:
        """End of tick: commit the group, release its replies, fan out its events, then write
        every subscriber that has frames: one write per subscriber per tick."""
        self._in_flush = True
        try:
            self._commit_and_fan_out()
            dirty, self._dirty = self._dirty, {}
            subscribers = self.registry.subscribers
            cap, counters, loop = self.settings.sse_batch_max_bytes, self.counters, self.loop
            for sub in dirty.values():
                if sub.conn_id in subscribers:
                    write_stream(sub, cap, counters, loop)
        finally:
            self._in_flush = False

    def _commit_and_fan_out(self) -> None:
        reply_subs, self._reply_subs = self._reply_subs, []
        events, self._pending_events = self._pending_events, []
        if self.commits.commit() is not None:
            refusal_frame = STORE_FAILED.encode()
            for sub in reply_subs:
                sub.replies = [refusal_frame]
                self._write_replies(sub)
            self.failed.set()
            return
        for sub in reply_subs:
            self._write_replies(sub)
        if events:
            self._fan_out([encoded for encoded, _, _ in events])

    def _fan_out(self, events: list[EncodedEvent]) -> None:
        """Append this tick's events to the replay buffer and deliver them: written at once
        to every caught-up subscriber (:func:`write_caught_up`), queued for the others."""
        for encoded in events:
            self.replay.append(encoded.event_id, encoded, encoded.size)
        s = self.settings
        subscribers = list(self.registry.subscribers.values())
        size = max(sum(len(e.sse_frame) for e in events), sum(len(e.ws_frame) for e in events))
        # A batch over a queue bound or the write cap goes through every queue (which apply
        # the bounds and the delivery mode).
        if len(events) <= s.queue_max_frames and size <= min(
            s.sse_batch_max_bytes, s.queue_max_bytes
        ):
            subscribers = write_caught_up(subscribers, events, s.sse_batch_max_bytes, self.counters)
        for sub in subscribers:
            for encoded in events:
                self.offer(sub, encoded.ws_frame if sub.route == "ws" else encoded.sse_frame)

    def offer(self, sub: Subscriber, frame: bytes) -> None:
        """Queue ``frame`` for ``sub``, written at the end of the tick; a subscriber that
        cannot take it is skipped (lossy delivery) or dropped (slow consumer)."""
        outcome = sub.queue.offer(frame)
        if outcome is Offer.QUEUED:
            self._notify(sub)
        elif outcome is Offer.SKIPPED:
            self.counters.slow_skips[sub.route] += 1
        else:
            self.counters.slow_disconnects[sub.route] += 1
            self.drop(sub, "slow_consumer")

    def _notify(self, sub: Subscriber) -> None:
        self._dirty[sub.conn_id] = sub
        if not self._in_flush:
            self.commits.schedule()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the heartbeat task (call once the server is listening)."""
        self.heartbeat.start()

    def on_pong(self, sub: Subscriber) -> None:
        """Record a pong and its round-trip time."""
        self.heartbeat.on_pong(sub)

    async def shutdown(self, random_ms: Callable[[int], int] | None = None) -> None:
        """Graceful shutdown: refuse new connections, close every WebSocket with 1001 and
        ``retry_after_ms=N``, end every SSE stream after a ``retry: N`` hint. Each client gets
        its own N, spread over ``shutdown_retry_spread_ms``, so they do not return at once."""
        if self.closing:
            return
        self.closing = True
        await close_streams(self.registry.subscribers.values(), self.settings, random_ms)
        await self.stop_tasks()

    async def stop_tasks(self) -> None:
        """Cancel the heartbeat task and commit what is pending."""
        await self.heartbeat.stop()
        self.commits.stop()
