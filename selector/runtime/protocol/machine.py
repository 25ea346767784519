"""What the runtime's state machines share: the error for a transition their table lacks.

Each machine is one state enum, one event enum and one ``TRANSITIONS`` table mapping
``(state, event)`` to the next state, in the module that owns it (the h11 way):
:mod:`.commit` (the server's commit group), :mod:`.client_state` (a client's connection) and
``selector.runtime.server.websocket`` (a server WebSocket). A pair missing from a table is a
bug in the caller, and moving a machine by it (:func:`next_state`) raises
:class:`InvalidTransition`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

__all__ = ["InvalidTransition", "next_state"]

State = TypeVar("State", bound=Enum)
Event = TypeVar("Event", bound=Enum)


class InvalidTransition(RuntimeError):
    """A transition the machine's ``TRANSITIONS`` table does not allow."""


def next_state(
    table: Mapping[tuple[State, Event], State], state: State, event: Event, machine: str
) -> State:
    """Where ``event`` takes ``state`` by ``table``; :class:`InvalidTransition`, naming
    ``machine``, for a pair the table lacks."""
    target = table.get((state, event))
    if target is None:
        raise InvalidTransition(f"{machine}: {event.value} in state {state.value}")
    return target
