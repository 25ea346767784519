"""Per-client high-water marks: each ``(client_id, seq)`` is applied exactly once.

A client numbers its mutations with increasing ``seq`` (gaps allowed) and re-sends every
mutation it has no ack for after a reconnect. The server remembers, per client, the highest
``seq`` it has applied: anything at or below it is a duplicate, acked again but not re-applied.
The server never waits for a missing ``seq``: a gap is the client's business (a mutation it
gave up on), and waiting would stall every later mutation behind it.

Pure bookkeeping, no I/O; the store persists the marks when ``--state`` is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum

__all__ = ["Admission", "Ledger"]


class Admission(Enum):
    """What to do with an incoming mutation."""

    #: Apply it, then :meth:`Ledger.record` it.
    NEW = "new"
    #: Ack it again (``"duplicate": true``) and do not apply it.
    DUPLICATE = "duplicate"


class Ledger:
    """High-water marks by client id."""

    __slots__ = ("marks",)

    def __init__(self, marks: Mapping[str, int] | Iterable[tuple[str, int]] = ()) -> None:
        #: The marks by client id. :class:`~selector.runtime.protocol.commit.CommitSession`
        #: reads and raises them on the per-mutation path without a call (same rule as
        #: :meth:`record`: a mark never goes down); the two frames of ``high_water`` and
        #: ``record`` cost ~680 instructions per ack (38,471 -> 37,789,
        #: bench/ws_ack_instructions.sh).
        self.marks: dict[str, int] = dict(marks)

    def admit(self, client_id: str, seq: int) -> Admission:
        """Classify ``seq`` without changing anything (the apply may still fail)."""
        if seq <= self.marks.get(client_id, 0):
            return Admission.DUPLICATE
        return Admission.NEW

    def record(self, client_id: str, seq: int) -> None:
        """Remember that ``seq`` was applied. Recording a lower ``seq`` never lowers the mark."""
        if seq > self.marks.get(client_id, 0):
            self.marks[client_id] = seq

    def forget(self, client_id: str) -> None:
        """Drop the mark of an evicted id: its next mutation of any ``seq`` is new."""
        self.marks.pop(client_id, None)

    def high_water(self, client_id: str) -> int:
        """The highest applied ``seq`` of ``client_id``; 0 when it has applied none."""
        return self.marks.get(client_id, 0)

    def __len__(self) -> int:
        return len(self.marks)
