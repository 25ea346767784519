"""The three protocols: one vocabulary for the profile, the rules, the engine, the planner and
the corpus.

Standard library only: ``selector COMMAND --help`` lists these names.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["PROTOCOLS", "Protocol"]

#: A protocol's name, as profiles, rules, answers and plans spell it.
Protocol = Literal["websocket", "sse", "webrtc"]
#: Every protocol, in the order scores and slots use (not the tie-break order).
PROTOCOLS: tuple[Protocol, ...] = get_args(Protocol)
