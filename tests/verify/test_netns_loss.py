"""Head-of-line blocking under real packet loss: a best-effort data channel against a
WebSocket carrying the same messages, in a network namespace the test creates, with an
iptables ``statistic`` DROP rule on its loopback (root only)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from selector.runtime.rtc import aiortc_available
from tests.conftest import ROOT
from tests.runtime.conftest import UNIT

LOSS = 0.05
#: Loopback p99s are a millisecond or two, and the p99 of ~90 messages is nearly their maximum:
#: one scheduling stall on a busy 2-core machine adds ~15 ms. Below this, growth is noise; TCP's
#: retransmission timeout (at least 200 ms) stays an order of magnitude above it.
FLOOR_MS = 25.0


def _missing() -> str | None:
    if not aiortc_available():
        return "aiortc missing: pip install '.[webrtc]'"
    if os.geteuid() != 0:
        return "needs root to create a network namespace"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"{tool} missing: ./scripts/system-deps"
    return None


@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_loss_leaves_the_best_effort_channel_fast_and_stalls_the_websocket() -> None:
    namespace = f"selector-loss-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        subprocess.run(
            ["ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up"], check=True
        )
        command = ["ip", "netns", "exec", namespace, sys.executable]
        probe = subprocess.run(
            [*command, "-m", "tests.verify.netns_probe", str(LOSS)],
            capture_output=True,
            text=True,
            timeout=90 * UNIT,
            cwd=ROOT,
        )
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)
    assert probe.returncode == 0, probe.stderr
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    clean, lossy = result["clean"], result["lossy"]
    # The loss is real: the best-effort channel lost messages, the WebSocket none.
    assert lossy["rtc_delivered"] < clean["rtc_delivered"]
    assert lossy["ws_delivered"] == clean["ws_delivered"]
    # Best effort: the messages that arrive are as fast as without loss.
    assert lossy["rtc_p99"] <= max(2 * clean["rtc_p99"], clean["rtc_p99"] + FLOOR_MS), result
    # The WebSocket waits for TCP's retransmissions: its p99 grows by more than a round trip.
    assert lossy["ws_p99"] > clean["ws_p99"] + clean["ws_p50"], result
