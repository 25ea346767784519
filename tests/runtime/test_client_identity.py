"""Who may act as a client id: token binding, claims by streams, and the ledger's bounds.

Real server on 127.0.0.1 (aiohttp client for HTTP, ``websockets`` for /ws); the eviction
order is also checked on :class:`ClientActivity` alone, with the time passed in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.exceptions import InvalidStatus

from selector.runtime.protocol.activity import ClientActivity
from selector.runtime.protocol.identity import Claim
from tests.runtime.conftest import UNIT, arun, eventually, serving, subscribe

ALICE = {"Authorization": "Bearer alice-token"}
BOB = {"Authorization": "Bearer bob-token"}


async def post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    async with session.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()


async def stream_status(url: str, headers: dict[str, str]) -> tuple[int, str]:
    """Status and error code of a refused ``/sse`` request (200 and "" when admitted)."""
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        if response.status == 200:
            return 200, ""
        return response.status, (await response.json())["error"]


async def ws_refusal(url: str, headers: dict[str, str]) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as refused:
        async with subscribe(url, additional_headers=headers):
            pass
    response = refused.value.response
    return response.status_code, json.loads(response.body or b"{}")["error"]


def test_a_client_id_claimed_under_one_token_refuses_every_other_token(tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")

    async def scenario() -> None:
        tokens = ("alice-token", "bob-token")
        async with serving(tokens=tokens, state_path=state) as (_hub, address):
            url = f"http://{address}/mutations"
            first = {"client_id": "a1", "seq": 1, "op": "noop", "secret": "alice-secret"}
            async with aiohttp.ClientSession() as session:
                assert (await post(session, url, first, ALICE))[0] == 200
                # Bob holds a valid token and even the id's secret: still not his id.
                again = first | {"seq": 2}
                assert await post(session, url, again, BOB) == (
                    403,
                    {
                        "error": "CLIENT_ID_BOUND",
                        "detail": "this client_id was claimed under another token: use a new id",
                        "seq": 2,
                    },
                )
                assert (await post(session, url, again, {"Authorization": "Bearer x"}))[0] == 401
                status, body = await post(session, url, again, ALICE)
                assert status == 200 and body["ack"] == 2 and "duplicate" not in body
            streams = "client_id=a1&secret=alice-secret"
            assert await stream_status(f"http://{address}/sse?{streams}", BOB) == (
                403,
                "CLIENT_ID_BOUND",
            )
            assert await ws_refusal(f"ws://{address}/ws?{streams}", BOB) == (
                403,
                "CLIENT_ID_BOUND",
            )
            async with subscribe(f"ws://{address}/ws?{streams}", additional_headers=ALICE) as ws:
                await ws.send(json.dumps({"seq": 3, "op": "noop"}))
                assert json.loads(await ws.recv()) == {"ack": 3, "status": "ok"}
        # The binding is durable: a restarted server still refuses Bob.
        async with serving(tokens=tokens, state_path=state) as (_hub, address):
            url = f"http://{address}/mutations"
            async with aiohttp.ClientSession() as session:
                body = {"client_id": "a1", "seq": 4, "op": "noop", "secret": "alice-secret"}
                assert (await post(session, url, body, BOB))[0] == 403
                assert (await post(session, url, body, ALICE))[0] == 200

    arun(scenario())


def test_a_stream_opened_with_a_secret_claims_its_id() -> None:
    async def scenario() -> None:
        async with serving() as (hub, address), aiohttp.ClientSession() as session:
            sse = f"http://{address}/sse?client_id=watcher&secret=watcher-secret"
            async with session.get(sse) as stream:
                assert stream.status == 200
                await eventually(lambda: "watcher" in hub.session.identities)
                # The id never mutated, yet nobody else can take it over now.
                url = f"http://{address}/mutations"
                body: dict[str, Any] = {"client_id": "watcher", "seq": 1, "op": "noop"}
                status, refused = await post(session, url, body, {})
                assert (status, refused["error"]) == (403, "CLIENT_ID_TAKEN")
                hijack = f"ws://{address}/ws?client_id=watcher"
                for query in ("", "&secret=guess"):
                    assert await ws_refusal(hijack + query, {}) == (403, "CLIENT_ID_TAKEN")
                assert len(hub.subscribers) == 1  # the watcher's stream lives on
                # Its owner mutates with the secret it chose: the ack issues none.
                status, acked = await post(session, url, body | {"secret": "watcher-secret"}, {})
                assert (status, acked) == (200, {"ack": 1, "status": "ok"})
            # A stream without a secret claims nothing: a fresh id works as before, and its
            # first ack issues the secret.
            async with subscribe(f"ws://{address}/ws?client_id=fresh") as ws:
                assert "fresh" not in hub.session.identities
                await ws.send(json.dumps({"seq": 1, "op": "noop"}))
                ack = json.loads(await ws.recv())
                assert ack["ack"] == 1 and len(ack["secret"]) >= 24

    arun(scenario())


def test_client_activity_evicts_least_recent_past_the_count_and_idle_bounds() -> None:
    activity = ClientActivity(max_ids=3, max_idle=100.0)
    for n, client_id in enumerate("abcd"):
        activity.touch(client_id, float(n))
    activity.touch("a", 4.0)  # a is now the most recent
    assert activity.evict(5.0) == ["b"]
    assert activity.evict(5.0) == []
    # c idles past the age bound first; d is kept by the caller (a live stream) and counts
    # as active from then on.
    assert activity.evict(103.5, keep=lambda c: c == "d") == ["c"]
    assert activity.evict(104.5) == ["a"]
    assert "d" in activity and len(activity) == 1
    assert activity.evict(203.0) == []
    assert activity.evict(203.6) == ["d"]


def test_an_evicted_client_id_is_forgotten_mark_and_claim(tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")

    async def scenario() -> None:
        async with serving(state_path=state, max_client_ids=2) as (hub, address):
            url = f"http://{address}/mutations"
            async with aiohttp.ClientSession() as session:
                for client_id in ("old", "mid", "new"):
                    body = {"client_id": client_id, "seq": 1, "op": "noop", "secret": client_id}
                    assert (await post(session, url, body, {}))[0] == 200
                assert "old" not in hub.session.identities and hub.ledger.high_water("old") == 0
                assert hub.counters.evicted_clients == 1
                # Dedupe is gone with the mark: the re-sent seq 1 is applied again, and the id
                # can be claimed anew (here by a different secret).
                body = {"client_id": "old", "seq": 1, "op": "noop", "secret": "someone-else"}
                assert await post(session, url, body, {}) == (200, {"ack": 1, "status": "ok"})
                assert "mid" not in hub.session.identities  # "old" pushed the next one out
        async with serving(state_path=state, max_client_ids=2) as (hub, _address):
            identities = hub.session.identities
            assert len(identities) == 2 and "new" in identities and "old" in identities
            assert hub.ledger.high_water("mid") == 0 and hub.ledger.high_water("new") == 1

    arun(scenario())


def test_an_idle_client_id_is_evicted_after_the_idle_age_unless_it_streams() -> None:
    async def scenario() -> None:
        async with serving(client_idle_s=0.2 * UNIT) as (hub, address):
            url = f"http://{address}/mutations"
            async with aiohttp.ClientSession() as session:
                for client_id in ("idle", "streaming"):
                    body = {"client_id": client_id, "seq": 1, "op": "noop", "secret": client_id}
                    assert (await post(session, url, body, {}))[0] == 200
                ws_url = f"ws://{address}/ws?client_id=streaming&secret=streaming"
                async with subscribe(ws_url):
                    evicted: list[str] = []
                    await eventually(lambda: bool(evicted.extend(hub.evict_idle()) or evicted))
                    assert evicted == ["idle"]
                    assert "streaming" in hub.session.identities
                    assert hub.ledger.high_water("streaming") == 1

    arun(scenario())


def test_a_websocket_proves_again_once_the_claim_on_record_changes() -> None:
    """A connection skips the secret comparison only while the claim it proved is the one
    on record: a claim made anew (here under another secret) refuses its next mutation."""

    async def scenario() -> None:
        async with serving() as (hub, address):
            url = f"ws://{address}/ws?client_id=c1&secret=first-secret"
            async with subscribe(url) as ws:
                for seq in (1, 2):
                    await ws.send(json.dumps({"seq": seq, "op": "noop"}))
                    assert json.loads(await ws.recv()) == {"ack": seq, "status": "ok"}
                hub.session.identities.claim("c1", Claim("another-secret"))
                await ws.send(json.dumps({"seq": 3, "op": "noop"}))
                refused = json.loads(await ws.recv())
                assert refused["error"] == "CLIENT_ID_TAKEN" and refused["seq"] == 3
                assert hub.ledger.high_water("c1") == 2
                hub.session.identities.claim("c1", Claim("first-secret"))
                await ws.send(json.dumps({"seq": 3, "op": "noop"}))
                assert json.loads(await ws.recv()) == {"ack": 3, "status": "ok"}

    arun(scenario())
