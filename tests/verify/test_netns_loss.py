"""Head-of-line blocking under real packet loss: a best-effort data channel against a
WebSocket carrying the same messages, in a network namespace the test creates (the product's
own helper) with an iptables ``statistic`` DROP rule on its loopback (root only)."""

from __future__ import annotations

import asyncio
import contextlib
import struct

import aiohttp
import pytest

from selector.runtime.rtc import aiortc_available
from selector.runtime.rtc.channels import channel_for
from selector.runtime.rtc.peer import Reply, RtcPeer, open_peer
from selector.runtime.server.app import running_server
from selector.runtime.server.settings import ServerSettings
from selector.verify.evidence import percentile
from selector.verify.netns import Namespace, kernel_loss_unavailable, namespace
from tests.runtime.conftest import eventually

LOSS_PCT = 5.0
#: Loopback p99s are a millisecond or two, and the p99 of ~90 messages is nearly their maximum:
#: one scheduling stall on a busy 2-core machine adds ~15 ms. Below this, growth is noise; TCP's
#: retransmission timeout (at least 200 ms) stays an order of magnitude above it.
FLOOR_MS = 25.0
RATE_HZ = 30
MESSAGES = 90
SIZE = 900
DRAIN_S = 2.0
_HEADER = struct.Struct("!Id")


def _missing() -> str | None:
    if not aiortc_available():
        return "aiortc missing: pip install '.[webrtc]'"
    why = kernel_loss_unavailable()
    return f"kernel loss unavailable: {why}" if why is not None else None


async def _ws_round_trips(ws: aiohttp.ClientWebSocketResponse, first: int) -> list[float]:
    loop = asyncio.get_running_loop()
    sent: dict[int, float] = {}
    rtts: list[float] = []

    async def reader() -> None:
        async for message in ws:
            seq, _ = _HEADER.unpack_from(message.data)
            rtts.append((loop.time() - sent[seq]) * 1000)
            if len(rtts) == MESSAGES:
                return

    task = asyncio.create_task(reader())
    for seq in range(first, first + MESSAGES):
        sent[seq] = loop.time()
        await ws.send_bytes(_HEADER.pack(seq, sent[seq]) + bytes(SIZE - _HEADER.size))
        await asyncio.sleep(1 / RATE_HZ)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(task, DRAIN_S * 5)  # cancels the reader when it times out
    return rtts


async def _rtc_round_trips(peer: RtcPeer, first: int) -> list[float]:
    def replies() -> list[Reply]:
        return [r for r in peer.replies.get("best-effort", []) if first <= r.seq < first + MESSAGES]

    for seq in range(first, first + MESSAGES):
        peer.send("best-effort", seq, SIZE, reply_bytes=SIZE)
        await asyncio.sleep(1 / RATE_HZ)
    # Every reply (on a clean link), or what arrived within DRAIN_S: under loss a best-effort
    # message that was dropped never comes.
    with contextlib.suppress(TimeoutError):
        await eventually(lambda: len({r.seq for r in replies()}) == MESSAGES, timeout=DRAIN_S)
    return [(r.received_at - r.sent_at) * 1000 for r in replies()]


async def _measure(ns: Namespace) -> dict[str, dict[str, float | int | None]]:
    """Both transports on a clean loopback, then again with the loss rule in place."""
    result: dict[str, dict[str, float | int | None]] = {}
    settings = ServerSettings(host="127.0.0.1", port=0, echo=True)  # /echo is opt-in
    async with running_server(settings) as (_hub, port):
        url = f"http://127.0.0.1:{port}"
        peer = await open_peer(url, "netns", [channel_for("best_effort")])
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/echo") as ws:
            try:
                for phase, first in (("clean", 0), ("lossy", MESSAGES)):
                    lossy = ns.drop(LOSS_PCT) if phase == "lossy" else contextlib.nullcontext()
                    with lossy:
                        rtc, wsr = await asyncio.gather(
                            _rtc_round_trips(peer, first), _ws_round_trips(ws, first)
                        )
                    result[phase] = {
                        "rtc_p50": percentile(rtc, 50),
                        "rtc_p90": percentile(rtc, 90),
                        "rtc_p99": percentile(rtc, 99),
                        "rtc_delivered": len(rtc),
                        "ws_p50": percentile(wsr, 50),
                        "ws_p99": percentile(wsr, 99),
                        "ws_delivered": len(wsr),
                    }
            finally:
                await peer.close()
    return result


#: A lossy run in which the best-effort tail still grows is measured again, at most this many
#: times in all. Once, in a full CI run, the best-effort p90 reached 596 ms (none in 18 runs
#: of this test alone, 12 of them beside two busy loops, where it stayed under 1.5 ms): a
#: stall that delays a tenth of the messages by up to a second, most likely aiortc's SCTP
#: waiting on its retransmission timer (1 s at least) with its congestion window full, not
#: head-of-line blocking. A reliable, ordered channel grows its p90 to 70-140 ms under the
#: same loss in every run (4 of 4), so it still fails each attempt.
ATTEMPTS = 3


def _best_effort_stays_fast(result: dict[str, dict[str, float | int | None]]) -> bool:
    """Best effort: the messages that arrive under loss are as fast as without loss (p90)."""
    rtc_clean, rtc_lossy = result["clean"]["rtc_p90"], result["lossy"]["rtc_p90"]
    assert rtc_clean is not None and rtc_lossy is not None, result
    return float(rtc_lossy) <= max(2 * float(rtc_clean), float(rtc_clean) + FLOOR_MS)


@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_loss_leaves_the_best_effort_channel_fast_and_stalls_the_websocket() -> None:
    attempts: list[dict[str, dict[str, float | int | None]]] = []
    for _ in range(ATTEMPTS):
        with namespace("selector-loss") as ns:
            result = ns.call(lambda: asyncio.run(_measure(ns)))
        attempts.append(result)
        clean, lossy = result["clean"], result["lossy"]
        # The loss is real: the best-effort channel lost messages, the WebSocket none.
        assert lossy["rtc_delivered"] < clean["rtc_delivered"]  # type: ignore[operator]
        assert lossy["ws_delivered"] == clean["ws_delivered"]
        # The WebSocket waits for TCP's retransmissions: its p99 grows by more than a round
        # trip, in every attempt.
        ws_clean, ws_lossy, ws_p50 = clean["ws_p99"], lossy["ws_p99"], clean["ws_p50"]
        assert ws_clean is not None and ws_lossy is not None and ws_p50 is not None, result
        assert float(ws_lossy) > float(ws_clean) + float(ws_p50), result
        # p90, not p99: of ~80 messages the p99 is the slowest one, which a single scheduling
        # stall of the Python SCTP stack on a loaded machine sets (161.9 ms once in CI, with no
        # loss effect on the others); a stall of a tenth of them would still show.
        if _best_effort_stays_fast(result):
            return
    pytest.fail(f"the best-effort p90 grew under loss in all {ATTEMPTS} attempts: {attempts}")
