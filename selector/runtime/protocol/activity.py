"""Which client ids to forget: the ledger and the claims are bounded by count and idle age.

Every client id the server has seen costs a high-water mark and a claim, in memory and in the
state file. Without a bound, a client that draws a fresh id per page load (or a hostile one
that draws millions) grows both forever. The server keeps ids in order of last activity (a
mutation or a stream opened, least recent first) and forgets an id when more than
``max_ids`` are known, or when it has been idle longer than ``max_idle``. An id with a live
stream is kept (the caller says which through ``keep``).

Forgetting an id forgets its mark and its claim: a re-sent mutation of a forgotten id is
applied again, and the id can be claimed anew by whoever uses it next. Pick the bounds so that
no client stays away longer than ``max_idle`` with unacked mutations it will re-send.

Sans-I/O: the caller passes the time (the loop's monotonic clock).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

__all__ = ["ClientActivity"]


class ClientActivity:
    """Client ids by last activity, least recent first."""

    __slots__ = ("_last", "max_idle", "max_ids")

    def __init__(self, max_ids: int, max_idle: float) -> None:
        if max_ids < 1 or max_idle <= 0:
            raise ValueError("max_ids and max_idle must be positive")
        self.max_ids = max_ids
        self.max_idle = max_idle
        self._last: OrderedDict[str, float] = OrderedDict()

    def track_recovered(self, client_ids: Iterable[str], now: float) -> None:
        """Track ids loaded from the store as active ``now`` (their idle age restarts)."""
        for client_id in client_ids:
            self.touch(client_id, now)

    def touch(self, client_id: str, now: float) -> bool:
        """``client_id`` was active at ``now``; True when it was not known before."""
        last = self._last
        if client_id in last:
            last.move_to_end(client_id)
            last[client_id] = now
            return False
        last[client_id] = now
        return True

    def evict(self, now: float, keep: Callable[[str], bool] = lambda _: False) -> list[str]:
        """Forget the ids over the count bound or idle past the age bound; return them.

        An id ``keep`` vouches for counts as active ``now`` and stays.
        """
        last = self._last
        evicted: list[str] = []
        kept: list[str] = []
        while last:
            client_id, seen = next(iter(last.items()))
            if len(last) + len(kept) <= self.max_ids and now - seen <= self.max_idle:
                break  # the least recent id is within both bounds: so is every other
            del last[client_id]
            if keep(client_id):
                kept.append(client_id)
            else:
                evicted.append(client_id)
        for client_id in kept:
            last[client_id] = now
        return evicted

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._last

    def __len__(self) -> int:
        return len(self._last)
