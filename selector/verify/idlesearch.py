"""The search for a path's idle timeout, as data: which idle durations to hold connections
for, and what a round of held connections says. Pure: no clock, no sockets.

A round holds one connection per duration in parallel. A connection the path closes (FIN or
RST) tells the timeout directly: the time of the close. A silent drop says nothing until the
connection is used: at the end of its duration it sends a ping, and an unanswered ping means
the timeout lies between the longest duration that survived and this one. Rounds narrow that
interval until it is within the precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["Drop", "Held", "IdleSearch", "first_durations", "narrow"]

#: How the path ended an idle connection; ``none`` when it held every duration.
Drop = Literal["none", "fin", "rst", "silent"]


@dataclass(frozen=True)
class Held:
    """What happened to one connection held idle for ``idle_s``."""

    idle_s: float
    outcome: Literal["survived", "fin", "rst", "silent"]
    #: For ``fin`` and ``rst``: seconds from the last byte to the close.
    closed_after_s: float | None = None


@dataclass(frozen=True)
class IdleSearch:
    """Where the search stands: the timeout lies in ``(low_s, high_s]``."""

    low_s: float
    high_s: float | None
    drop: Drop
    #: Set once known: the close time of a FIN/RST, or the interval's midpoint for silence.
    idle_timeout_s: float | None = None

    def done(self, precision_s: float) -> bool:
        """Whether another round would tell more."""
        if self.idle_timeout_s is not None and self.drop in ("fin", "rst"):
            return True
        if self.high_s is None:
            return True
        return self.high_s - self.low_s <= precision_s


def first_durations(max_idle_s: float, precision_s: float, connections: int) -> list[float]:
    """A geometric spread of durations from ``precision_s`` to ``max_idle_s``, at most
    ``connections`` of them, the last one ``max_idle_s``."""
    if connections < 1 or max_idle_s <= 0 or precision_s <= 0:
        raise ValueError("connections, max_idle_s and precision_s must be positive")
    if connections == 1 or max_idle_s <= precision_s:
        return [max_idle_s]
    ratio = (max_idle_s / precision_s) ** (1 / (connections - 1))
    durations = {round(min(max_idle_s, precision_s * ratio**i), 3) for i in range(connections)}
    durations.add(max_idle_s)
    return sorted(durations)


def narrow(low_s: float, high_s: float, precision_s: float, connections: int) -> list[float]:
    """Durations splitting ``(low_s, high_s)`` evenly, no more than ``connections`` and no
    closer together than needed for ``precision_s``."""
    needed = max(1, math.ceil((high_s - low_s) / precision_s) - 1)
    count = min(connections, needed)
    step = (high_s - low_s) / (count + 1)
    return [round(low_s + step * (i + 1), 3) for i in range(count)]


def judge(search: IdleSearch, round_: list[Held]) -> IdleSearch:
    """The search after one round of held connections."""
    closes = [h for h in round_ if h.outcome in ("fin", "rst") and h.closed_after_s is not None]
    if closes:
        first = min(closes, key=lambda h: h.closed_after_s or 0.0)
        after = first.closed_after_s or 0.0
        outcome: Drop = "fin" if first.outcome == "fin" else "rst"
        return IdleSearch(after, after, outcome, round(after, 1))
    survived = [h.idle_s for h in round_ if h.outcome == "survived"]
    silent = [h.idle_s for h in round_ if h.outcome == "silent"]
    low = max([search.low_s, *(s for s in survived if not silent or s < min(silent))])
    if not silent:
        if search.high_s is None:
            return IdleSearch(low, None, "none")
        return IdleSearch(low, search.high_s, search.drop, (low + search.high_s) / 2)
    high = min(silent)
    return IdleSearch(low, high, "silent", round((low + high) / 2, 1))
