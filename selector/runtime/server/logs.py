"""Structured log lines of the server: one JSON object per connection or server transition.

``ts`` is the system's wall clock on purpose, not the hub's injected
:class:`~selector.runtime.clock.Clock`: it says when this process wrote the line, so that it
lines up with the logs of everything else on the host (nginx, journald, the client) that read
the same clock. The injected clock decides the runtime's deadlines and what it sends to peers;
under a test's ``ManualClock`` it stands still, and log lines stamped with it would all carry
one made-up instant. Lines are also written where no hub exists (before it starts, by the
connection cap's refusal)."""

from __future__ import annotations

import logging
import time

import orjson

__all__ = ["connection_log", "log", "log_transition"]

log = logging.getLogger("selector.runtime")
#: Per-connection transitions have their own logger so ``serve --quiet`` can silence them
#: while keeping server-level lines (listening, stopped, store failures).
connection_log = logging.getLogger("selector.runtime.connection")


def log_transition(event: str, **fields: object) -> None:
    """One structured JSON log line for a connection or server state transition."""
    logger = connection_log if event.startswith(("ws.", "sse.")) else log
    if logger.isEnabledFor(logging.INFO):
        logger.info(orjson.dumps({"ts": round(time.time(), 3), "event": event, **fields}).decode())
