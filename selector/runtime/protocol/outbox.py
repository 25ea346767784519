"""The client's pending-mutation queue: a mutation leaves it when the server ACKS it.

A naive queue drops a mutation as soon as ``send()`` returns; a connection that dies
with the frame still in a kernel buffer (or in a proxy that silently dropped it) loses the
mutation for good, and re-queueing on failure reorders the queue. Here:

- a mutation stays pending until an ack for its ``seq`` arrives (a duplicate ack, sent by the
  server for a mutation it had already applied, removes it as well);
- after a reconnect every pending mutation is sent again, in ``seq`` order, before any new one
  (the server's per-client high-water mark turns the ones it already applied into duplicates,
  so nothing is applied twice, and the order keeps the high-water mark from skipping one);
- the queue is bounded: :meth:`Outbox.add` raises :class:`OutboxFullError` instead of growing
  without limit while the server is away.

Sans-I/O: the client adapter asks for :meth:`Outbox.take_unsent`, writes those frames, and
reports :meth:`Outbox.connection_lost` and :meth:`Outbox.ack`.
"""

from __future__ import annotations

from dataclasses import dataclass

from selector.jsonvalue import JsonValue

__all__ = ["DEFAULT_OUTBOX_CAPACITY", "Outbox", "OutboxFullError", "OutgoingMutation"]

DEFAULT_OUTBOX_CAPACITY = 10_000


class OutboxFullError(RuntimeError):
    """The outbox holds ``capacity`` unacknowledged mutations; wait for acks, then retry."""


@dataclass(frozen=True, slots=True)
class OutgoingMutation:
    """One mutation as the client sends it, ``{"seq": N, "op": NAME, "data": ...}`` on the wire.

    The server's :class:`selector.runtime.protocol.envelope.Mutation` is the same message
    once received: it adds the ``client_id`` the server learned from the connection.
    """

    seq: int
    op: str
    data: JsonValue = None


class Outbox:
    """Pending mutations in ``seq`` order, with per-connection "already sent" bookkeeping.

    ``first_seq`` lets a client that restarts under the same ``client_id`` continue above the
    sequence numbers the server has already seen (otherwise its new mutations would be
    treated as duplicates and never applied).
    """

    def __init__(self, *, capacity: int = DEFAULT_OUTBOX_CAPACITY, first_seq: int = 1) -> None:
        if capacity < 1:
            raise ValueError("outbox capacity must be >= 1")
        if first_seq < 1:
            raise ValueError("sequence numbers start at 1 or above")
        self.capacity = capacity
        self._next_seq = first_seq
        # dicts keep insertion order and seqs are assigned increasing: iteration is seq order.
        self._pending: dict[int, OutgoingMutation] = {}
        # Everything pending with seq <= this was handed out on the current connection.
        self._sent_through = 0
        #: Mutations removed by an ack (each counted once).
        self.acked = 0
        #: Acks for a seq that was no longer pending (ack repeated after a replay).
        self.redundant_acks = 0
        #: Mutations the server refused outright (removed without an ack).
        self.rejected: list[OutgoingMutation] = []

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def pending(self) -> tuple[OutgoingMutation, ...]:
        """Unacknowledged mutations, in ``seq`` order."""
        return tuple(self._pending.values())

    def add(self, op: str, data: JsonValue = None) -> OutgoingMutation:
        """Queue a new mutation with the next ``seq``; raises :class:`OutboxFullError`."""
        if not isinstance(op, str) or not op:
            raise ValueError("a mutation op must be a non-empty string")
        if len(self._pending) >= self.capacity:
            raise OutboxFullError(
                f"outbox full: {len(self._pending)} mutations await an ack "
                f"(capacity {self.capacity}); wait for acks or raise the capacity"
            )
        mutation = OutgoingMutation(self._next_seq, op, data)
        self._next_seq += 1
        self._pending[mutation.seq] = mutation
        return mutation

    def take_unsent(self) -> list[OutgoingMutation]:
        """Mutations not yet written on the current connection, in order; marks them sent."""
        unsent = [m for m in self._pending.values() if m.seq > self._sent_through]
        if unsent:
            self._sent_through = unsent[-1].seq
        return unsent

    def unsent_count(self) -> int:
        """How many pending mutations the current connection has not carried yet."""
        return sum(1 for seq in self._pending if seq > self._sent_through)

    def ack(self, seq: int) -> bool:
        """The server acknowledged ``seq``; True if that removed a pending mutation."""
        if self._pending.pop(seq, None) is None:
            self.redundant_acks += 1
            return False
        self.acked += 1
        return True

    def reject(self, seq: int) -> OutgoingMutation | None:
        """The server refused ``seq`` for good (HTTP 400): drop it so it is not retried."""
        mutation = self._pending.pop(seq, None)
        if mutation is not None:
            self.rejected.append(mutation)
        return mutation

    def connection_lost(self) -> None:
        """Everything still pending must travel again on the next connection, in order."""
        self._sent_through = 0
