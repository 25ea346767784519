"""Round trips of a best-effort data channel and of a WebSocket carrying the same messages,
first on a clean path and then with real packet loss. Meant to run as root inside a network
namespace of its own (``ip netns exec``): the loss is an iptables ``statistic`` DROP rule on
that namespace's loopback, added after both connections are up. Prints one JSON object.

Usage: python -m tests.verify.netns_probe LOSS_RATE
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import subprocess
import sys

import aiohttp

from selector.runtime.rtc.channels import channel_for
from selector.runtime.rtc.peer import open_peer
from selector.runtime.server.app import running_server
from selector.runtime.server.settings import ServerSettings
from selector.verify.evidence import percentile

RATE_HZ = 30
MESSAGES = 90
SIZE = 900
DRAIN_S = 2.0
_HEADER = struct.Struct("!Id")


def _rule(action: str, loss: float) -> list[str]:
    return [
        "iptables", action, "INPUT", "-i", "lo", "-m", "statistic", "--mode", "random",
        "--probability", str(loss), "-j", "DROP",
    ]  # fmt: skip


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


async def _rtc_round_trips(peer, first: int) -> list[float]:  # type: ignore[no-untyped-def]
    for seq in range(first, first + MESSAGES):
        peer.send("best-effort", seq, SIZE, reply_bytes=SIZE)
        await asyncio.sleep(1 / RATE_HZ)
    await asyncio.sleep(DRAIN_S)
    return [
        (r.received_at - r.sent_at) * 1000
        for r in peer.replies.get("best-effort", [])
        if first <= r.seq < first + MESSAGES
    ]


async def measure(loss: float) -> dict[str, dict[str, float | int | None]]:
    result: dict[str, dict[str, float | int | None]] = {}
    settings = ServerSettings(host="127.0.0.1", port=0, echo=True)  # /echo is opt-in
    async with running_server(settings) as (_hub, port):
        url = f"http://127.0.0.1:{port}"
        peer = await open_peer(url, "netns", [channel_for("best_effort")])
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/echo") as ws:
            try:
                for phase, first in (("clean", 0), ("lossy", MESSAGES)):
                    if phase == "lossy":
                        subprocess.run(_rule("-A", loss), check=True)
                    rtc, wsr = await asyncio.gather(
                        _rtc_round_trips(peer, first), _ws_round_trips(ws, first)
                    )
                    result[phase] = {
                        "rtc_p50": percentile(rtc, 50),
                        "rtc_p99": percentile(rtc, 99),
                        "rtc_delivered": len(rtc),
                        "ws_p50": percentile(wsr, 50),
                        "ws_p99": percentile(wsr, 99),
                        "ws_delivered": len(wsr),
                    }
            finally:
                subprocess.run(_rule("-D", loss), check=False, capture_output=True)
                await peer.close()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure(float(sys.argv[1])))))
