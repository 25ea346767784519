"""What the runtime's state machines share: the error for a transition their table lacks.

Each machine is one state enum, one event enum and one ``TRANSITIONS`` table mapping
``(state, event)`` to the next state, in the module that owns it (the h11 way):
:mod:`.commit` (the server's commit group), :mod:`.client_state` (a client's connection) and
``selector.runtime.server.websocket`` (a server WebSocket). A pair missing from a table is a
bug in the caller, and moving a machine by it raises :class:`InvalidTransition`.
"""

from __future__ import annotations

__all__ = ["InvalidTransition"]


class InvalidTransition(RuntimeError):
    """A transition the machine's ``TRANSITIONS`` table does not allow."""
