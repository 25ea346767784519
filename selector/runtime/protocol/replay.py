"""The replay buffer behind resumable streams, bounded by event count and by bytes.

Every stream event carries an integer id, strictly increasing over the whole stream and shared
by WebSocket and SSE subscribers. A reconnecting client says the last id it saw; the buffer
either holds every later event (replay them) or it does not (tell the client to resync,
explicitly, instead of silently skipping the gap). Pure, no I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Replay", "ReplayBuffer", "Resync"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Replay(Generic[T]):
    """Send these events (possibly none), oldest first, before live ones."""

    items: tuple[T, ...]


@dataclass(frozen=True, slots=True)
class Resync:
    """The gap after ``after`` is no longer available: the client must rebuild its state.

    ``oldest`` is the first id still buffered (``latest + 1`` when none is), ``latest`` the id
    of the newest event. ``after > latest`` means the client saw ids from an earlier life of
    a server that kept no state (see docs/wire-contract.md).
    """

    after: int
    oldest: int
    latest: int


class ReplayBuffer(Generic[T]):
    """The newest events, at most ``max_events`` of them and at most ``max_bytes`` in total.

    The newest event is always kept, even alone over ``max_bytes``, so ``latest`` stays
    replayable to a client one event behind. ``max_events == 0`` disables replay.
    """

    __slots__ = ("_bytes", "_entries", "_latest", "max_bytes", "max_events")

    def __init__(self, max_events: int, max_bytes: int, *, latest: int = 0) -> None:
        if max_events < 0 or max_bytes < 0:
            raise ValueError("replay limits must be >= 0")
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._entries: deque[tuple[int, int, T]] = deque()
        self._bytes = 0
        self._latest = latest

    @property
    def latest(self) -> int:
        """Id of the newest event ever appended (or the starting point); 0 when none."""
        return self._latest

    @property
    def oldest(self) -> int:
        """Id of the oldest buffered event; ``latest + 1`` when the buffer is empty."""
        return self._entries[0][0] if self._entries else self._latest + 1

    @property
    def total_bytes(self) -> int:
        """Bytes currently held."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, event_id: int, item: T, size: int) -> None:
        """Add the newest event; ids must strictly increase. Evicts the oldest as needed."""
        if event_id <= self._latest:
            raise ValueError(f"event id {event_id} does not follow {self._latest}")
        self._latest = event_id
        if self.max_events == 0:
            return
        self._entries.append((event_id, size, item))
        self._bytes += size
        while len(self._entries) > self.max_events or (
            self._bytes > self.max_bytes and len(self._entries) > 1
        ):
            _, dropped, _ = self._entries.popleft()
            self._bytes -= dropped

    def resume(self, last_event_id: int | None) -> Replay[T] | Resync:
        """What a subscriber that last saw ``last_event_id`` gets before live events.

        None (a fresh subscriber) gets live events only.
        """
        if last_event_id is None or last_event_id == self._latest:
            return Replay(())
        if last_event_id > self._latest or last_event_id + 1 < self.oldest:
            return Resync(after=last_event_id, oldest=self.oldest, latest=self._latest)
        return Replay(
            tuple(item for event_id, _, item in self._entries if event_id > last_event_id)
        )
