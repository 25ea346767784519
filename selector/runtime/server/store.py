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

import contextlib
import fcntl
import os
import sqlite3
from collections import deque
from dataclasses import dataclass, field

import orjson

from selector.jsonvalue import JsonObject, JsonValue
from selector.runtime.protocol.envelope import INT64_MAX, INT64_MIN, Mutation
from selector.runtime.protocol.identity import Claim

__all__ = [
    "MAX_KEYS",
    "MemoryStore",
    "OpRejected",
    "Recovered",
    "SqliteStore",
    "StateFileError",
    "open_store",
]

#: Most distinct keys the demo store holds; a ``set``/``incr`` of a new key beyond it is
#: refused (``STORE_FULL``), an existing key can always be changed.
MAX_KEYS = 10_000

#: Opaque entries shown by ``GET /state`` (the newest ones; the total is counted).
OPAQUE_SHOWN = 100


class OpRejected(ValueError):
    """A well-formed mutation that cannot apply (e.g. ``incr`` of a string); not recorded.

    ``code`` is the wire error code."""

    def __init__(self, detail: str, code: str = "INVALID_PAYLOAD") -> None:
        super().__init__(detail)
        self.code = code


class StateFileError(sqlite3.DatabaseError):
    """The state file cannot be used: locked by another server, or not a state this
    runtime wrote. The message names the file and, when it can, the row or the holder."""


@dataclass(slots=True)
class Recovered:
    """What a store brings back at start: marks, the event log tail and the last event id."""

    marks: dict[str, int] = field(default_factory=dict)
    #: Claims (resume secret, token owner) by client id.
    claims: dict[str, Claim] = field(default_factory=dict)
    latest_event_id: int = 0
    #: ``(id, event, data_json)`` oldest first.
    events: list[tuple[int, str, bytes]] = field(default_factory=list)


def _keyed(data: JsonValue) -> tuple[JsonObject, str]:
    """``data`` as the object a keyed op takes, with its key; :class:`OpRejected` if not."""
    if type(data) is not dict:
        raise OpRejected("data must be an object")
    key = data.get("key")
    if type(key) is not str or not key:
        raise OpRejected("data.key must be a non-empty string")
    return data, key


class MemoryStore:
    """State in memory only (lost on restart)."""

    durable = False

    def __init__(self) -> None:
        self.kv: dict[str, JsonValue] = {}
        #: The latest opaque mutations, kept as they arrived: ``GET /state`` turns them into
        #: objects when it is read, not each apply.
        self.opaque: deque[Mutation] = deque(maxlen=OPAQUE_SHOWN)
        self.opaque_total = 0
        self.applied_total = 0
        # The class's answer kept on the instance: read per opaque mutation, a class
        # attribute read through the instance is not specialized on Python 3.11 (an instance
        # attribute is): 32,792 -> 32,594 instructions per ack of an opaque op
        # (bench/ws_ack_instructions.sh; incr and set do not read it).
        self.durable = type(self).durable

    def recover(self) -> Recovered:
        """Nothing survives a restart in memory."""
        return Recovered()

    def apply(self, mutation: Mutation) -> None:
        """Apply one new mutation (the caller checked it is not a duplicate).

        Raises :class:`OpRejected` without changing anything when it cannot apply.
        """
        op = mutation.op
        if op == "incr":
            data, key = _keyed(mutation.data)
            by = data.get("by", 1)
            if type(by) is not int:  # exact type: bool is not a count
                raise OpRejected("incr needs an integer data.by")
            current = self.kv.get(key, 0)
            if type(current) is not int:
                raise OpRejected(f"cannot incr {key!r}: its value is not an integer")
            total = current + by
            if not INT64_MIN <= total <= INT64_MAX:
                raise OpRejected(
                    f"incr would take {key!r} outside the signed 64-bit range", "OUT_OF_RANGE"
                )
            self._put(key, total)
        elif op == "set":
            data, key = _keyed(mutation.data)
            if "value" not in data:
                raise OpRejected("set needs data.value")
            self._put(key, data["value"])
        else:
            self.opaque.append(mutation)
            self.opaque_total += 1
            if self.durable:  # no call to an empty hook per mutation in memory
                self._add_opaque(mutation)
        self.applied_total += 1

    def _put(self, key: str, value: JsonValue) -> None:
        if key not in self.kv and len(self.kv) >= MAX_KEYS:
            raise OpRejected(f"the demo store holds {MAX_KEYS} keys at most", "STORE_FULL")
        self.kv[key] = value

    def _add_opaque(self, mutation: Mutation) -> None:
        """Hook for durable stores (called only when ``durable``)."""

    def record_mark(self, client_id: str, seq: int) -> None:
        """Persist a client's new high-water mark (in memory: the ledger is enough)."""

    def record_claim(self, client_id: str, claim: Claim) -> None:
        """Persist a client id's claim (in memory: nothing to do)."""

    def forget_client(self, client_id: str) -> None:
        """Drop an evicted client id's mark and claim (in memory: nothing to do)."""

    def append_event(self, event_id: int, event: str, data_json: bytes) -> None:
        """Persist a published event (in memory: the replay buffer is enough)."""

    def commit(self) -> bool:
        """Make everything since the last commit durable; True when a transaction was
        written (never in memory)."""
        return False

    def close(self) -> None:
        """Release resources."""

    def view(self) -> JsonObject:
        """The state as ``GET /state`` shows it."""
        return {
            "durable": self.durable,
            "kv": self.kv,
            "applied_total": self.applied_total,
            "opaque_total": self.opaque_total,
            "opaque_recent": [mutation._asdict() for mutation in self.opaque],
        }


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS marks (client_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (
    client_id TEXT PRIMARY KEY, secret TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '');
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
        self._lock = _lock_state_file(path)
        # isolation_level=None: transactions are explicit (one BEGIN ... COMMIT per group).
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        # State files written before claims were bound to a token lack the owner column.
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(secrets)")}
        if "owner" not in columns:
            self._db.execute("ALTER TABLE secrets ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        self._marks: dict[str, int] = {}
        self._secrets: dict[str, Claim] = {}
        self._forgotten: set[str] = set()
        self._kv: dict[str, bytes] = {}
        self._opaque: list[tuple[str, int, str, bytes]] = []
        self._events: list[tuple[int, str, bytes]] = []
        #: Fault hook for tests: when set, the next commits raise it (nothing is written).
        self.fail_commit: Exception | None = None

    def recover(self) -> Recovered:
        """Load the committed state; :class:`StateFileError` names what is not as written."""
        self._marks.clear()
        self._secrets.clear()
        self._forgotten.clear()
        self._kv.clear()
        self._opaque.clear()
        self._events.clear()
        self.opaque.clear()
        try:
            return self._load()
        except (ValueError, TypeError, sqlite3.Error) as exc:
            if isinstance(exc, StateFileError):
                raise
            raise StateFileError(f"{self.path}: not a usable state file: {exc}") from None

    def _load(self) -> Recovered:
        db = self._db
        self.kv = {}
        for key, value in db.execute("SELECT key, value FROM kv"):
            try:
                self.kv[key] = orjson.loads(value)
            except (orjson.JSONDecodeError, TypeError) as exc:
                raise StateFileError(
                    f"{self.path}: table kv, key {key!r}: value is not JSON ({exc})"
                ) from None
        meta = dict(db.execute("SELECT name, value FROM meta"))
        self.applied_total = int(meta.get("applied_total", 0))
        self.opaque_total = int(meta.get("opaque_total", 0))
        rows = db.execute(
            "SELECT client_id, seq, op, data FROM opaque ORDER BY n DESC LIMIT ?", (OPAQUE_SHOWN,)
        ).fetchall()
        for client_id, seq, op, data in reversed(rows):
            self.opaque.append(Mutation(client_id, seq, op, orjson.loads(data)))
        marks = dict(db.execute("SELECT client_id, seq FROM marks"))
        latest = max(int(meta.get("latest_event_id", 0)), 0)
        events = []
        for i, name, data in db.execute(
            "SELECT id, event, data FROM events ORDER BY id DESC LIMIT ?", (self.keep_events,)
        ):
            if type(i) is not int or type(name) is not str or type(data) is not str:
                raise StateFileError(
                    f"{self.path}: table events, id {i!r}: event and data must be text"
                )
            events.append((i, name, data.encode()))
        events.reverse()
        if events:
            latest = max(latest, events[-1][0])
        claims = {
            str(c): Claim(str(s), str(o))
            for c, s, o in db.execute("SELECT client_id, secret, owner FROM secrets")
        }
        return Recovered(marks=marks, claims=claims, latest_event_id=latest, events=events)

    def _put(self, key: str, value: JsonValue) -> None:
        super()._put(key, value)
        self._kv[key] = orjson.dumps(value)

    def _add_opaque(self, mutation: Mutation) -> None:
        client_id, seq, op, data = mutation
        self._opaque.append((client_id, seq, op, orjson.dumps(data)))

    def record_mark(self, client_id: str, seq: int) -> None:
        self._marks[client_id] = seq

    def record_claim(self, client_id: str, claim: Claim) -> None:
        self._secrets[client_id] = claim

    def forget_client(self, client_id: str) -> None:
        self._marks.pop(client_id, None)
        self._secrets.pop(client_id, None)
        self._forgotten.add(client_id)

    def append_event(self, event_id: int, event: str, data_json: bytes) -> None:
        self._events.append((event_id, event, data_json))

    @property
    def dirty(self) -> bool:
        """Whether anything waits for :meth:`commit`."""
        return bool(
            self._marks
            or self._secrets
            or self._forgotten
            or self._kv
            or self._opaque
            or self._events
        )

    def commit(self) -> bool:
        """Write the group in one transaction (one fsync of the WAL with ``synchronous=FULL``);
        False when there was nothing to write. On failure nothing of the group is written and
        the error propagates: the server must not ack any mutation of the group."""
        if not self.dirty:
            return False
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if self.fail_commit is not None:
                raise self.fail_commit
            if self._forgotten:
                # Before the inserts: an id evicted and claimed again in one group is new.
                ids = [(c,) for c in self._forgotten]
                db.executemany("DELETE FROM marks WHERE client_id = ?", ids)
                db.executemany("DELETE FROM secrets WHERE client_id = ?", ids)
            if self._marks:
                db.executemany(
                    "INSERT INTO marks (client_id, seq) VALUES (?, ?) "
                    "ON CONFLICT(client_id) DO UPDATE SET seq = excluded.seq",
                    self._marks.items(),
                )
            if self._secrets:
                db.executemany(
                    "INSERT INTO secrets (client_id, secret, owner) VALUES (?, ?, ?) "
                    "ON CONFLICT(client_id) DO UPDATE SET "
                    "secret = excluded.secret, owner = excluded.owner",
                    ((c, claim.secret, claim.owner) for c, claim in self._secrets.items()),
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
            return True
        except BaseException:
            # SQLite rolls back on its own after some errors (SQLITE_FULL, SQLITE_IOERR); a
            # second ROLLBACK would replace the real error with "no transaction is active".
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise
        finally:
            self._marks.clear()
            self._secrets.clear()
            self._forgotten.clear()
            self._kv.clear()
            self._opaque.clear()
            self._events.clear()

    def close(self) -> None:
        self._db.close()
        os.close(self._lock)


def _lock_state_file(path: str) -> int:
    """Hold an exclusive lock on ``PATH.lock`` (holding our pid) for the process lifetime, so
    a second server on the same state file refuses to start instead of acking beside us."""
    lock_path = f"{path}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StateFileError(f"{lock_path}: cannot open the lock file: {exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise StateFileError(
            f"{path}: already in use by another selector serve (pid {holder}, lock {lock_path})"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def open_store(state_path: str | None, *, keep_events: int) -> MemoryStore:
    """A :class:`SqliteStore` at ``state_path``, or a :class:`MemoryStore` when None."""
    if state_path is None:
        return MemoryStore()
    return SqliteStore(state_path, keep_events=keep_events)
