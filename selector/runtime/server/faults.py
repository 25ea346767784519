"""Faults a test can switch on in a running server, for the failures a healthy server never
makes on its own: an ack lost after the mutation was applied, refused handshakes, a server
that proves it is alive with protocol pings only.

They are not settings: ``selector serve`` has no flag for them and :class:`ServerSettings`
does not carry them, so only code holding the :class:`~selector.runtime.server.hub.Hub` (a
test, a verification harness) can turn them on. All are off by default; network faults
(silence, resets, latency, loss) belong to :mod:`selector.verify.proxy` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

__all__ = ["FaultHooks"]


@dataclass
class FaultHooks:
    """The hub's fault switches (``hub.faults``); flip them at any time."""

    #: Cut the connection of each of the next N mutations (a WebSocket frame or a
    #: ``POST /mutations``) after the hub has processed it and before the reply leaves: the
    #: mutation is applied, its ack is lost on the way.
    cut_after_apply: int = 0
    #: Answer every new ``/ws``, ``/sse`` (and ``/echo``, ``/rtc``) request with this status
    #: and a JSON error ``FAULT_INJECTED``, as an overloaded or misconfigured edge would.
    refuse_streams: HTTPStatus | None = None
    #: Send WebSocket protocol pings without the heartbeat event that normally follows each
    #: one, like servers that rely on pings alone (a browser never sees a ping).
    pings_only: bool = False

    def take_cut(self) -> bool:
        """Whether to cut the connection of the mutation just processed (counts it down)."""
        if self.cut_after_apply <= 0:
            return False
        self.cut_after_apply -= 1
        return True
