"""WebRTC in the runtime: the loopback ICE adapter, /rtc signalling and data channels, with two
real aiortc peers on 127.0.0.1."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from selector.runtime.rtc import aiortc_available
from selector.runtime.rtc.channels import (
    PORTABLE_MESSAGE_BYTES,
    SCTP_DEFAULT_MESSAGE_BYTES,
    Probe,
    channel_for,
    decode_probe,
    encode_probe,
)
from tests.runtime.conftest import UNIT, arun, eventually, serving

needs_aiortc = pytest.mark.skipif(
    not aiortc_available(), reason="aiortc missing: pip install '.[webrtc]'"
)


def test_channel_follows_the_guarantee() -> None:
    best = channel_for("best_effort")
    assert (best.ordered, best.max_retransmits, best.reliable) == (False, 0, False)
    ordered = channel_for("reliable_ordered")
    assert ordered.ordered and ordered.reliable
    unordered = channel_for("reliable_unordered")
    assert not unordered.ordered and unordered.reliable


def test_probe_round_trips_and_pads() -> None:
    data = encode_probe(Probe(7, 1.5, 300), 1000)
    assert len(data) == 1000
    assert decode_probe(data) == Probe(7, 1.5, 300)
    with pytest.raises(ValueError):
        decode_probe(data[:5])


@needs_aiortc
def test_adapter_gathers_loopback_only_and_restores_aioice() -> None:
    import aioice.ice

    from selector.runtime.rtc.ice import loopback_configuration, loopback_ice

    original = aioice.ice.get_host_addresses
    assert "127.0.0.1" not in original(use_ipv4=True, use_ipv6=False)
    with loopback_ice(), loopback_ice():
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses is original
    assert loopback_configuration().iceServers == []


@needs_aiortc
def test_versions_checked() -> None:
    from selector.runtime.rtc.ice import check_versions

    check_versions()  # the installed extra matches the pins


@needs_aiortc
def test_two_peers_over_rtc_signalling_on_loopback() -> None:
    from selector.runtime.rtc.peer import ChannelClosedError, open_peer

    specs = [channel_for("best_effort"), channel_for("reliable_ordered")]

    async def scenario() -> None:
        async with serving() as (_hub, address):
            url = f"http://{address}"
            peer = await open_peer(url, "c1", specs)
            try:
                pair = peer.pair
                assert pair is not None and pair.loopback, pair
                # aiortc advertises 256 KiB; the limits the matrix cites must fit under it.
                limit = peer.max_message_size
                assert limit is not None and limit >= SCTP_DEFAULT_MESSAGE_BYTES
                sizes = [64, PORTABLE_MESSAGE_BYTES, SCTP_DEFAULT_MESSAGE_BYTES]
                for seq, size in enumerate(sizes):
                    peer.send("reliable", seq, size, reply_bytes=size)
                with pytest.raises(ValueError, match="only supports messages up to"):
                    peer.send("reliable", 99, limit + 1, reply_bytes=16)
                for seq in range(10):
                    peer.send("best-effort", seq, 100, reply_bytes=100)
                await eventually(lambda: len(peer.replies.get("reliable", [])) == 3)
                await eventually(lambda: len(peer.replies.get("best-effort", [])) == 10)
                replies = peer.replies["reliable"]
                assert [r.seq for r in replies] == [0, 1, 2]
                assert [r.size for r in replies] == sizes
                assert all(r.sent_at <= r.server_at <= r.received_at for r in replies)
                async with aiohttp.ClientSession() as session:
                    log = await (await session.get(f"{url}/rtc/log")).json()
                assert log["open_peers"] == 1
                assert sorted(tuple(r) for r in log["received"] if r[1] == "reliable") == [
                    ("c1", "reliable", 0),
                    ("c1", "reliable", 1),
                    ("c1", "reliable", 2),
                ]
            finally:
                await peer.close()
            with pytest.raises(ChannelClosedError):
                peer.send("reliable", 100, 64, reply_bytes=0)
            async with aiohttp.ClientSession() as session:

                async def open_peers() -> int:
                    log = await (await session.get(f"{url}/rtc/log")).json()
                    return int(log["open_peers"])

                # Closing the client's side closes the runtime's peer too.
                async with asyncio.timeout(5 * UNIT):
                    while await open_peers():
                        await asyncio.sleep(0.01)

    arun(scenario())


@needs_aiortc
def test_rtc_refuses_a_bad_offer() -> None:
    async def scenario() -> None:
        async with serving() as (_hub, address), aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"http://{address}/rtc?client_id=c1")
            await ws.send_json({"type": "answer"})
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.CLOSE
            assert message.data == 1008

    arun(scenario())


@needs_aiortc
def test_rtc_is_admitted_like_ws() -> None:
    async def scenario() -> None:
        async with (
            serving(tokens=("s3cret",)) as (_hub, address),
            aiohttp.ClientSession() as session,
        ):
            response = await session.get(f"http://{address}/rtc?client_id=c1")
            assert response.status == 401
            response = await session.get(
                f"http://{address}/rtc", headers={"Authorization": "Bearer s3cret"}
            )
            assert response.status == 400  # no client id

    arun(scenario())


@needs_aiortc
def test_rtc_shares_the_per_ip_limit_of_ws_and_a_flood_is_refused() -> None:
    """A hostile client opening signalling sockets it never offers on cannot take more than
    its per-IP share: /rtc and /ws draw on one budget, the refusal is the JSON 429 of /ws,
    and the slot comes back when the socket closes."""

    async def scenario() -> None:
        async with (
            serving(max_connections_per_ip=3) as (hub, address),
            aiohttp.ClientSession() as session,
        ):
            held = [await session.ws_connect(f"http://{address}/ws?client_id=w")]
            for n in range(2):  # no offer: each just holds its socket open
                held.append(await session.ws_connect(f"http://{address}/rtc?client_id=r{n}"))
            assert hub.registry.connections_by_ip == {"127.0.0.1": 3}
            for path in ("/rtc?client_id=flood", "/ws?client_id=flood"):
                async with session.get(f"http://{address}{path}") as response:
                    assert response.status == 429
                    assert (await response.json())["error"] == "TOO_MANY_CONNECTIONS"
            assert hub.counters.rejected_connections["too_many_connections"] == 2
            await held.pop().close()
            await eventually(lambda: hub.registry.connections_by_ip == {"127.0.0.1": 2})
            again = await session.ws_connect(f"http://{address}/rtc?client_id=r9")
            assert hub.registry.connections_by_ip == {"127.0.0.1": 3}
            for ws in [*held, again]:
                await ws.close()
            await eventually(lambda: not hub.registry.connections_by_ip)

    arun(scenario())


@needs_aiortc
def test_rtc_is_under_the_global_connection_cap() -> None:
    async def scenario() -> None:
        async with (
            serving(max_connections=2) as (_hub, address),
            aiohttp.ClientSession() as session,
        ):
            held = [
                await session.ws_connect(f"http://{address}/rtc?client_id=r{n}") for n in range(2)
            ]
            async with session.get(f"http://{address}/rtc?client_id=over") as response:
                assert response.status == 503
                assert (await response.json())["error"] == "TOO_MANY_CONNECTIONS"
            for ws in held:
                await ws.close()

    arun(scenario())


def test_rtc_without_the_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from selector.runtime.rtc import route

    monkeypatch.setattr(route, "aiortc_available", lambda: False)

    async def scenario() -> None:
        async with serving() as (_hub, address), aiohttp.ClientSession() as session:
            for path in ("/rtc", "/rtc/log"):
                response = await session.get(f"http://{address}{path}")
                assert response.status == 501
                assert "realtime-protocol-selector[webrtc]" in (await response.json())["detail"]

    arun(scenario())


@needs_aiortc
def test_consent_timers_are_scaled_and_restored() -> None:
    import aioice.ice
    import aioice.stun

    from selector.runtime.rtc.ice import consent_timers, default_consent_timers

    unscaled = default_consent_timers()
    assert unscaled.worst_detection_s == pytest.approx(6 * (1.2 * 5 + 0.5))
    fast = unscaled.scaled(0.1)
    with consent_timers(fast):
        assert pytest.approx(0.5) == aioice.ice.CONSENT_INTERVAL
        assert pytest.approx(0.05) == aioice.stun.RETRY_RTO
    assert default_consent_timers() == unscaled


@needs_aiortc
def test_a_dark_path_is_noticed_within_the_consent_bound() -> None:
    from selector.runtime.rtc.ice import consent_timers, default_consent_timers, go_dark
    from selector.runtime.rtc.peer import open_peer

    timers = default_consent_timers().scaled(0.02)

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        with consent_timers(timers):
            async with serving() as (_hub, address):
                peer = await open_peer(f"http://{address}", "c1", [channel_for("best_effort")])
                try:
                    dark_at = loop.time()
                    go_dark(peer.pc)
                    await eventually(
                        lambda: peer.pc.connectionState in ("failed", "closed"),
                        timeout=timers.worst_detection_s * 3 + 1,
                    )
                    return loop.time() - dark_at
                finally:
                    await peer.close()

    noticed = arun(scenario())
    # Not before the consent checks could have failed, not much after their worst case.
    assert timers.failures * 0.8 * timers.interval_s <= noticed
    assert noticed <= timers.worst_detection_s * 1.1 + 0.1 * UNIT
