"""Attacks on what the server acks: poison values, seq jumps, failed commits, the state file.

Real server on 127.0.0.1; a failed commit is injected with the store's ``fail_commit`` hook,
and (as root, where mounts are allowed) produced for real by a full tmpfs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from selector.runtime.protocol.commit import MAX_SEQ_GAP
from selector.runtime.protocol.envelope import Mutation
from selector.runtime.server.store import SqliteStore, StateFileError
from tests.runtime.conftest import UNIT, arun, serving, subscribe


async def post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with session.post(url, json=body) as response:
        return response.status, await response.json()


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    return value


def test_poison_values_are_refused_before_the_ack_and_state_stays_readable() -> None:
    async def scenario() -> None:
        async with serving() as (_hub, address), aiohttp.ClientSession() as session:
            url = f"http://{address}/mutations"
            top = 2**63 - 1
            ok, _ = await post(
                session,
                url,
                {"client_id": "p", "seq": 1, "op": "set", "data": {"key": "n", "value": top}},
            )
            assert ok == 200
            status, body = await post(
                session, url, {"client_id": "p2", "seq": 2, "op": "incr", "data": {"key": "n"}}
            )
            assert (status, body["error"], body["seq"]) == (400, "OUT_OF_RANGE", 2)
            status, body = await post(
                session,
                url,
                {
                    "client_id": "p3",
                    "seq": 3,
                    "op": "set",
                    "data": {"key": "d", "value": nested(300)},
                },
            )
            assert (status, body["error"]) == (400, "VALUE_TOO_DEEP")
            status, body = await post(
                session, url, {"client_id": "p4", "seq": 4, "op": "x", "data": 2**64 - 1}
            )
            assert (status, body["error"]) == (400, "OUT_OF_RANGE")
            async with session.post(
                f"http://{address}/publish", json={"event": "e", "data": nested(300)}
            ) as response:
                assert response.status == 400
            async with session.get(f"http://{address}/state") as response:
                assert response.status == 200
                assert (await response.json())["kv"] == {"n": top}
            async with subscribe(f"ws://{address}/ws?client_id=q") as ws:
                await ws.send(json.dumps({"seq": 1, "op": "incr", "data": {"key": "n", "by": 1}}))
                reply = json.loads(await ws.recv())
                assert (reply["error"], reply["seq"]) == ("OUT_OF_RANGE", 1)

    arun(scenario())


def test_a_seq_jump_cannot_silence_another_client() -> None:
    async def scenario() -> None:
        async with serving() as (_hub, address), aiohttp.ClientSession() as session:
            url = f"http://{address}/mutations"
            status, body = await post(
                session, url, {"client_id": "victim", "seq": 2**53 - 1, "op": "x"}
            )
            assert (status, body["error"]) == (400, "SEQ_GAP")
            status, body = await post(session, url, {"client_id": "victim", "seq": 1, "op": "noop"})
            assert status == 200 and body["ack"] == 1 and "duplicate" not in body
            secret = body["secret"]
            status, body = await post(
                session,
                url,
                {"client_id": "victim", "seq": 2 + MAX_SEQ_GAP, "op": "x", "secret": secret},
            )
            assert (status, body["error"]) == (400, "SEQ_GAP")

    arun(scenario())


def test_after_a_failed_commit_nothing_is_acked_until_rebuilt_and_no_false_duplicate(
    tmp_path: Path,
) -> None:
    state = str(tmp_path / "s.db")

    async def scenario() -> None:
        async with serving(state_path=state) as (hub, address), aiohttp.ClientSession() as session:
            url = f"http://{address}/mutations"

            secret: list[str] = []

            def incr(seq: int) -> dict[str, Any]:
                body = {"client_id": "c", "seq": seq, "op": "incr", "data": {"key": "n"}}
                return body | {"secret": secret[0]} if secret else body

            for seq in (1, 2, 3):
                status, body = await post(session, url, incr(seq))
                assert status == 200
                secret[:] = secret or [body["secret"]]
            hub.store.fail_commit = sqlite3.OperationalError("database or disk is full")  # type: ignore[attr-defined]
            assert (await post(session, url, incr(4)))[0] == 503
            status, body = await post(session, url, incr(4))  # the retry
            assert (status, body["error"]) == (503, "STORE_FAILED")
            assert (await post(session, url, incr(5)))[0] == 503  # no ack on top of a hole
            async with session.post(
                f"http://{address}/publish", json={"event": "e", "data": 1}
            ) as response:
                assert response.status == 503
            hub.store.fail_commit = None  # type: ignore[attr-defined]
            hub.rebuild()
            async with session.get(f"http://{address}/state?client_id=c") as response:
                view = await response.json()
            assert view["kv"] == {"n": 3} and view["high_water"] == 3  # what the disk holds
            status, body = await post(session, url, incr(4))
            assert status == 200 and body == {"ack": 4, "status": "ok"}
        async with serving(state_path=state) as (_hub, address), aiohttp.ClientSession() as session:
            async with session.get(f"http://{address}/state?client_id=c") as response:
                view = await response.json()
            assert view["kv"] == {"n": 4} and view["high_water"] == 4

    arun(scenario())


@contextlib.contextmanager
def tiny_tmpfs(path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def test_a_real_full_disk_is_named_and_acks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(mount: Path) -> None:
        async with serving(state_path=str(mount / "s.db")) as (hub, address):
            async with aiohttp.ClientSession() as session:
                url = f"http://{address}/mutations"
                status, body = await post(session, url, {"client_id": "c", "seq": 1, "op": "noop"})
                assert status == 200
                secret = body["secret"]
                with contextlib.suppress(OSError), open(mount / "filler", "wb") as filler:
                    while True:  # bounded by the 1 MiB filesystem
                        filler.write(b"\0" * 4096)
                        filler.flush()
                big = {"key": "big", "value": "x" * 60_000}
                status, body = await post(
                    session,
                    url,
                    {"client_id": "c", "seq": 2, "op": "set", "data": big, "secret": secret},
                )
                assert (status, body["error"]) == (503, "STORE_FAILED")
                status, body = await post(
                    session,
                    url,
                    {"client_id": "c", "seq": 2, "op": "set", "data": big, "secret": secret},
                )
                assert status == 503 and "duplicate" not in body
            assert hub.failed.is_set()

    with (
        caplog.at_level(logging.INFO, logger="selector.runtime"),
        tiny_tmpfs(tmp_path / "m") as mount,
    ):
        arun(scenario(mount))
    failures = [r.getMessage() for r in caplog.records if '"store.failed"' in r.getMessage()]
    assert failures and "full" in failures[0], failures
    assert "cannot rollback" not in failures[0]


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selector", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30 * UNIT,
        check=False,
    )


def test_a_second_server_on_the_same_state_file_exits_2_naming_the_holder(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    holder = SqliteStore(path, keep_events=10)
    try:
        with pytest.raises(StateFileError, match=f"pid {os.getpid()}"):
            SqliteStore(path, keep_events=10)
        done = run_serve("--state", path)
        assert done.returncode == 2, done.stderr
        assert f"pid {os.getpid()}" in done.stderr and "Traceback" not in done.stderr
    finally:
        holder.close()
    SqliteStore(path, keep_events=10).close()  # released with the holder


def _written_state(path: Path) -> None:
    store = SqliteStore(str(path), keep_events=10)
    store.recover()
    store.apply(Mutation("c", 1, "set", {"key": "k", "value": 1}))
    store.commit()
    store.close()


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("UPDATE kv SET value = 'not json'", "table kv, key 'k'"),
        (
            "DROP TABLE events;"
            "CREATE TABLE events (id INTEGER PRIMARY KEY, event TEXT, data TEXT);"
            "INSERT INTO events VALUES (1, 'e', NULL)",
            "table events, id 1",
        ),
    ],
)
def test_a_corrupt_state_file_is_a_located_error(
    tmp_path: Path, damage: str, fragment: str
) -> None:
    path = tmp_path / "s.db"
    _written_state(path)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(damage)
        db.commit()
    done = run_serve("--state", str(path))
    assert done.returncode == 2, done.stderr
    assert fragment in done.stderr and "Traceback" not in done.stderr
