"""The runtime's demo store: what mutations do, and the state a restart must not lose.

It applies ``set`` (``{"key", "value"}``) and ``incr`` (``{"key", "by"}``) to a key-value map
and records any other op as an opaque entry, so tests can see through ``GET /state`` exactly
what was applied, and how often.

:class:`MemoryStore` keeps everything in memory: a restart forgets the store, the per-client
high-water marks (so re-sent mutations would be applied again) and the event log (ids restart
at 1). :class:`SqliteStore` (``selector serve --state PATH``) keeps the same state in SQLite
(WAL, ``synchronous=FULL``). Changes are grouped: the server calls :meth:`commit` once per
event-loop tick and sends acks only after it returns, so an acked mutation is on disk, and the
mark that makes a re-sent copy a duplicate is committed in the same transaction as its effect.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

from selector.runtime.protocol.envelope import Mutation

__all__ = ["MemoryStore", "OpRejected", "Recovered", "SqliteStore", "open_store"]

#: Opaque entries shown by ``GET /state`` (the newest ones; the total is counted).
OPAQUE_SHOWN = 100


class OpRejected(ValueError):
    """A well-formed mutation that cannot apply (e.g. ``incr`` of a string); not recorded."""


@dataclass(slots=True)
class Recovered:
    """What a store brings back at start: marks, the event log tail and the last event id."""

    marks: dict[str, int] = field(default_factory=dict)
    latest_event_id: int = 0
    #: ``(id, event, data_json)`` oldest first.
    events: list[tuple[int, str, bytes]] = field(default_factory=list)


def _check_key(data: Any) -> str:
    if type(data) is not dict:
        raise OpRejected("data must be an object")
    key = data.get("key")
    if type(key) is not str or not key:
        raise OpRejected("data.key must be a non-empty string")
    return key


class MemoryStore:
    """State in memory only (lost on restart)."""

    durable = False

    def __init__(self) -> None:
        self.kv: dict[str, Any] = {}
        self.opaque: deque[dict[str, Any]] = deque(maxlen=OPAQUE_SHOWN)
        self.opaque_total = 0
        self.applied_total = 0

    def recover(self) -> Recovered:
        """Nothing survives a restart in memory."""
        return Recovered()

    def apply(self, mutation: Mutation) -> None:
        """Apply one new mutation (the caller checked it is not a duplicate).

        Raises :class:`OpRejected` without changing anything when it cannot apply.
        """
        op, data = mutation.op, mutation.data
        if op == "incr":
            key = _check_key(data)
            by = data.get("by", 1)
            if type(by) is not int:  # exact type: bool is not a count
                raise OpRejected("incr needs an integer data.by")
            current = self.kv.get(key, 0)
            if type(current) is not int:
                raise OpRejected(f"cannot incr {key!r}: its value is not an integer")
            self._put(key, current + by)
        elif op == "set":
            key = _check_key(data)
            if "value" not in data:
                raise OpRejected("set needs data.value")
            self._put(key, data["value"])
        else:
            entry = {
                "client_id": mutation.client_id,
                "seq": mutation.seq,
                "op": op,
                "data": data,
            }
            self.opaque.append(entry)
            self.opaque_total += 1
            self._add_opaque(entry)
        self.applied_total += 1

    def _put(self, key: str, value: Any) -> None:
        self.kv[key] = value

    def _add_opaque(self, entry: dict[str, Any]) -> None:
        """Hook for durable stores."""

    def record_mark(self, client_id: str, seq: int) -> None:
        """Persist a client's new high-water mark (in memory: the ledger is enough)."""

    def append_event(self, event_id: int, event: str, data_json: bytes) -> None:
        """Persist a published event (in memory: the replay buffer is enough)."""

    def commit(self) -> None:
        """Make everything since the last commit durable (nothing to do in memory)."""

    def close(self) -> None:
        """Release resources."""

    def view(self) -> dict[str, Any]:
        """The state as ``GET /state`` shows it."""
        return {
            "durable": self.durable,
            "kv": self.kv,
            "applied_total": self.applied_total,
            "opaque_total": self.opaque_total,
            "opaque_recent": list(self.opaque),
        }


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS marks (client_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS opaque (
    n INTEGER PRIMARY KEY, client_id TEXT NOT NULL, seq INTEGER NOT NULL,
    op TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, event TEXT NOT NULL, data TEXT NOT NULL);
"""


class SqliteStore(MemoryStore):
    """The same state, durable in a SQLite file; writes are grouped until :meth:`commit`."""

    durable = True

    def __init__(self, path: str, *, keep_events: int) -> None:
        super().__init__()
        self.path = path
        self.keep_events = keep_events
        # isolation_level=None: transactions are explicit (one BEGIN ... COMMIT per group).
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._marks: dict[str, int] = {}
        self._kv: dict[str, bytes] = {}
        self._opaque: list[tuple[str, int, str, bytes]] = []
        self._events: list[tuple[int, str, bytes]] = []

    def recover(self) -> Recovered:
        db = self._db
        self.kv = {
            key: orjson.loads(value) for key, value in db.execute("SELECT key, value FROM kv")
        }
        meta = dict(db.execute("SELECT name, value FROM meta"))
        self.applied_total = int(meta.get("applied_total", 0))
        self.opaque_total = int(meta.get("opaque_total", 0))
        rows = db.execute(
            "SELECT client_id, seq, op, data FROM opaque ORDER BY n DESC LIMIT ?", (OPAQUE_SHOWN,)
        ).fetchall()
        for client_id, seq, op, data in reversed(rows):
            self.opaque.append(
                {"client_id": client_id, "seq": seq, "op": op, "data": orjson.loads(data)}
            )
        marks = dict(db.execute("SELECT client_id, seq FROM marks"))
        latest = max(int(meta.get("latest_event_id", 0)), 0)
        events = [
            (int(i), str(name), bytes(data, "utf-8"))
            for i, name, data in db.execute(
                "SELECT id, event, data FROM events ORDER BY id DESC LIMIT ?", (self.keep_events,)
            )
        ]
        events.reverse()
        if events:
            latest = max(latest, events[-1][0])
        return Recovered(marks=marks, latest_event_id=latest, events=events)

    def _put(self, key: str, value: Any) -> None:
        super()._put(key, value)
        self._kv[key] = orjson.dumps(value)

    def _add_opaque(self, entry: dict[str, Any]) -> None:
        self._opaque.append(
            (entry["client_id"], entry["seq"], entry["op"], orjson.dumps(entry["data"]))
        )

    def record_mark(self, client_id: str, seq: int) -> None:
        self._marks[client_id] = seq

    def append_event(self, event_id: int, event: str, data_json: bytes) -> None:
        self._events.append((event_id, event, data_json))

    @property
    def dirty(self) -> bool:
        """Whether anything waits for :meth:`commit`."""
        return bool(self._marks or self._kv or self._opaque or self._events)

    def commit(self) -> None:
        """Write the group in one transaction. On failure nothing of the group is written and
        the error propagates: the server must not ack any mutation of the group."""
        if not self.dirty:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if self._marks:
                db.executemany(
                    "INSERT INTO marks (client_id, seq) VALUES (?, ?) "
                    "ON CONFLICT(client_id) DO UPDATE SET seq = excluded.seq",
                    self._marks.items(),
                )
            if self._kv:
                db.executemany(
                    "INSERT INTO kv (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    ((k, v.decode()) for k, v in self._kv.items()),
                )
            if self._opaque:
                db.executemany(
                    "INSERT INTO opaque (client_id, seq, op, data) VALUES (?, ?, ?, ?)",
                    ((c, s, o, d.decode()) for c, s, o, d in self._opaque),
                )
            if self._events:
                db.executemany(
                    "INSERT INTO events (id, event, data) VALUES (?, ?, ?)",
                    ((i, n, d.decode()) for i, n, d in self._events),
                )
                latest = self._events[-1][0]
                db.execute(
                    "INSERT INTO meta (name, value) VALUES ('latest_event_id', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (latest,),
                )
                db.execute("DELETE FROM events WHERE id <= ?", (latest - self.keep_events,))
            db.executemany(
                "INSERT INTO meta (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (("applied_total", self.applied_total), ("opaque_total", self.opaque_total)),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            self._marks.clear()
            self._kv.clear()
            self._opaque.clear()
            self._events.clear()

    def close(self) -> None:
        self._db.close()


def open_store(state_path: str | None, *, keep_events: int) -> MemoryStore:
    """A :class:`SqliteStore` at ``state_path``, or a :class:`MemoryStore` when None."""
    if state_path is None:
        return MemoryStore()
    return SqliteStore(state_path, keep_events=keep_events)
