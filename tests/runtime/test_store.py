"""The demo store: what set/incr/opaque ops do, and what survives a restart with SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from selector.runtime.protocol.envelope import Mutation
from selector.runtime.protocol.identity import Claim
from selector.runtime.server.store import MemoryStore, OpRejected, SqliteStore


def m(seq: int, op: str, data: object = None, client: str = "c") -> Mutation:
    return Mutation(client_id=client, seq=seq, op=op, data=data)


def test_set_incr_and_opaque_ops() -> None:
    store = MemoryStore()
    store.apply(m(1, "set", {"key": "a", "value": {"x": [1]}}))
    store.apply(m(2, "incr", {"key": "n"}))
    store.apply(m(3, "incr", {"key": "n", "by": 41}))
    store.apply(m(4, "rename", {"anything": True}))
    view = store.view()
    assert view["kv"] == {"a": {"x": [1]}, "n": 42}
    assert view["applied_total"] == 4 and view["opaque_total"] == 1
    assert view["opaque_recent"] == [
        {"client_id": "c", "seq": 4, "op": "rename", "data": {"anything": True}}
    ]


@pytest.mark.parametrize(
    ("op", "data", "fragment"),
    [
        ("set", {"key": "a"}, "data.value"),
        ("set", [1], "object"),
        ("incr", {"key": ""}, "data.key"),
        ("incr", {"key": "n", "by": 1.5}, "integer data.by"),
        ("incr", {"key": "n", "by": True}, "integer data.by"),
        ("incr", {"key": "s"}, "not an integer"),
    ],
)
def test_rejected_ops_change_nothing(op: str, data: object, fragment: str) -> None:
    store = MemoryStore()
    store.apply(m(1, "set", {"key": "s", "value": "text"}))
    with pytest.raises(OpRejected, match=fragment):
        store.apply(m(2, op, data))
    assert store.view()["kv"] == {"s": "text"} and store.applied_total == 1


def test_sqlite_recovers_committed_state_only(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    store = SqliteStore(path, keep_events=2)
    assert store.recover().latest_event_id == 0
    store.apply(m(1, "incr", {"key": "n", "by": 5}))
    store.apply(m(2, "note", "hello"))
    store.record_mark("c", 2)
    for event_id in (1, 2, 3):
        store.append_event(event_id, "tick", b'{"n":%d}' % event_id)
    store.commit()
    store.apply(m(3, "incr", {"key": "n"}))  # never committed: a crash loses it (unacked)
    store.record_mark("c", 3)
    store.close()

    again = SqliteStore(path, keep_events=2)
    recovered = again.recover()
    assert recovered.marks == {"c": 2}
    assert recovered.latest_event_id == 3
    assert recovered.events == [(2, "tick", b'{"n":2}'), (3, "tick", b'{"n":3}')]
    view = again.view()
    assert view["kv"] == {"n": 5} and view["applied_total"] == 2 and view["opaque_total"] == 1
    assert view["opaque_recent"][0]["data"] == "hello"
    again.close()


def test_latest_event_id_survives_with_replay_disabled(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    store = SqliteStore(path, keep_events=0)
    store.append_event(1, "tick", b"null")
    store.commit()
    store.close()
    again = SqliteStore(path, keep_events=0)
    assert again.recover().latest_event_id == 1 and again.recover().events == []
    again.close()


def test_claims_persist_with_their_owner_and_evicted_ids_are_deleted(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    store = SqliteStore(path, keep_events=10)
    store.record_mark("a", 3)
    store.record_claim("a", Claim("sa", "owner-a"))
    store.record_mark("b", 1)
    store.record_claim("b", Claim("sb"))
    store.commit()
    store.forget_client("b")
    store.commit()
    recovered = store.recover()
    assert recovered.marks == {"a": 3}
    assert recovered.claims == {"a": Claim("sa", "owner-a")}
    store.close()


def test_a_state_file_from_before_token_owners_opens_with_unbound_claims(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE secrets (client_id TEXT PRIMARY KEY, secret TEXT NOT NULL)")
    db.execute("INSERT INTO secrets VALUES ('a', 'sa')")
    db.commit()
    db.close()
    store = SqliteStore(str(path), keep_events=10)
    assert store.recover().claims == {"a": Claim("sa", "")}
    store.close()
