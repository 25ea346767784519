"""Per-subscriber outbound queue policy: bounded memory for slow consumers.

Each subscriber gets a queue of pre-encoded frames, bounded by count and bytes. When a
consumer falls so far behind that a new frame does not fit, the delivery mode decides:

- ``reliable``: the subscriber is disconnected. It reconnects with its last event id and the
  replay buffer fills the gap (or tells it to resync). Silently dropping events would break
  the promise; letting the queue grow would let one slow client exhaust the server's memory.
- ``best_effort``: the frame is skipped for that subscriber only; it keeps its connection.

Pure, no I/O: the server's writer drains the queue with :meth:`FanoutQueue.take`.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

__all__ = ["DeliveryMode", "FanoutQueue", "Offer"]

DeliveryMode = Literal["reliable", "best_effort"]


class Offer(Enum):
    """Outcome of :meth:`FanoutQueue.offer`."""

    QUEUED = "queued"
    #: best effort: the frame was skipped for this subscriber.
    SKIPPED = "skipped"
    #: reliable: the subscriber is too slow; disconnect it (the queue is closed).
    DISCONNECT = "disconnect"


class FanoutQueue:
    """Frames waiting for one subscriber's writer."""

    __slots__ = ("_bytes", "closed", "frames", "max_bytes", "max_frames", "mode")

    def __init__(self, max_frames: int, max_bytes: int, mode: DeliveryMode = "reliable") -> None:
        if max_frames < 1 or max_bytes < 1:
            raise ValueError("queue limits must be >= 1")
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.mode: DeliveryMode = mode
        # A list, not a deque: an idle connection's empty deque costs ~600 bytes, a list 56,
        # and batches are taken from the front in one slice anyway.
        #: The waiting frames, oldest first. Read only (change them through offer, force and
        #: take): the fan-out tests it per subscriber per tick without a call to __len__.
        self.frames: list[bytes] = []
        self._bytes = 0
        #: Set once the subscriber must go; later offers are refused.
        self.closed = False

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def pending_bytes(self) -> int:
        """Bytes waiting."""
        return self._bytes

    def offer(self, frame: bytes) -> Offer:
        """Queue ``frame`` if it fits within both bounds, else apply the delivery mode."""
        if self.closed:
            return Offer.DISCONNECT
        if len(self.frames) < self.max_frames and self._bytes + len(frame) <= self.max_bytes:
            self.frames.append(frame)
            self._bytes += len(frame)
            return Offer.QUEUED
        if self.mode == "best_effort":
            return Offer.SKIPPED
        self.closed = True
        self.frames.clear()
        self._bytes = 0
        return Offer.DISCONNECT

    def force(self, frame: bytes) -> None:
        """Queue ``frame`` regardless of the bounds: the replay on (re)connect, which the
        replay buffer already bounds, and the final frame of a graceful shutdown."""
        if not self.closed:
            self.frames.append(frame)
            self._bytes += len(frame)

    def take(self, max_bytes: int) -> list[bytes]:
        """Remove and return the oldest frames totalling at most ``max_bytes`` (always at least
        one frame when any is waiting, so one frame larger than the cap still goes out)."""
        frames = self.frames
        count = total = 0
        for frame in frames:
            if count and total + len(frame) > max_bytes:
                break
            count += 1
            total += len(frame)
        taken = frames[:count]
        del frames[:count]
        self._bytes -= total
        return taken
