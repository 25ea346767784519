"""Real runs: reference server, fault proxy and reconnecting clients on 127.0.0.1.

These reproduce the silent idle drop (a connection cut with no FIN or RST, and state that
drifts until the client notices) and show the plan preventing it, and check that the
evidence follows what happens on the wire rather than the plan.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import pytest

from selector.builtin import plan_lifetime
from selector.loading import load_profile_text
from selector.runtime.rtc import aiortc_available
from selector.verify.runner import RunTweaks, run_mode, run_protocol
from selector.verify.traffic import VerifyOptions, build_traffic_plan
from tests.conftest import ROOT

# A bidirectional, acked, resumable workload behind one nginx hop with its 60 s idle timeout,
# which (like the cloud load balancers in selector/planner/facts.py) drops idle connections
# without FIN or RST.
PROFILE = """\
schema_version: 1
name: behind-nginx
traffic:
  server_to_client: {rate_hz: 5, payload_bytes: 200}
  client_to_server: {rate_hz: 5, payload_bytes: 100, needs_ack: true}
delivery: {guarantee: reliable_ordered, latency_p99_ms: 500, resume: true}
clients: [browser]
scale: {concurrent_connections: 1000}
infrastructure:
  path: [{kind: nginx}]
  timeout_control: none
"""
CLIENTS = 4


def traffic(protocol: str):  # type: ignore[no-untyped-def]
    profile = load_profile_text(PROFILE, "behind-nginx.yaml")
    return build_traffic_plan(
        profile, plan_lifetime(profile, protocol), VerifyOptions(clients=CLIENTS, random_state=1)
    )


def quiet(_: str) -> None:
    pass


@pytest.mark.parametrize("protocol", ["websocket", "sse"])
def test_silent_drop_without_heartbeat_and_its_prevention_with_the_plan(protocol: str) -> None:
    plan = traffic(protocol)
    planned, naive = asyncio.run(run_protocol(plan, progress=quiet))

    # Naive: nginx drops every idle connection silently; nobody notices, nothing reconnects,
    # and what is sent into the dead connections is lost in both directions.
    assert naive.proxy_faults.get("idle_timeout:silent_drop", 0) >= CLIENTS
    assert naive.undetected == CLIENTS
    assert naive.reconnects == 0
    assert naive.server_to_client is not None and naive.server_to_client.lost > 0
    assert naive.client_to_server is not None and naive.client_to_server.lost > 0
    assert naive.leaked_connections == CLIENTS  # the server still holds all of them

    # Planned: the heartbeat keeps the idle connections alive; the forced silent drop is
    # noticed within the plan's bound; reconnect, replay and resend lose and repeat nothing.
    assert not any(kind.startswith("idle") for kind in planned.proxy_faults)
    assert planned.detection_bound_s is not None
    assert planned.undetected == 0
    assert planned.detection_s.max is not None
    assert planned.detection_s.max <= planned.detection_bound_s * 1.1 + 0.1
    for direction in (planned.server_to_client, planned.client_to_server):
        assert direction is not None
        assert direction.lost == 0 and direction.duplicated == 0 and direction.out_of_order == 0
    assert planned.reconnects >= CLIENTS
    assert planned.resumes >= CLIENTS
    assert planned.leaked_connections == 0


def test_evidence_follows_the_wire_not_the_plan() -> None:
    """Added proxy latency moves the measured latencies by about that much."""
    plan = traffic("websocket")
    delay = 0.05

    async def both():  # type: ignore[no-untyped-def]
        return await asyncio.gather(
            run_mode(plan, "planned", progress=quiet),
            run_mode(plan, "planned", tweaks=RunTweaks(latency_s=delay), progress=quiet),
        )

    plain, slowed = asyncio.run(both())
    assert plain.delivery_latency_ms.p50 is not None
    assert slowed.delivery_latency_ms.p50 is not None
    # one way through the proxy for an event, both ways for an ack
    assert slowed.delivery_latency_ms.p50 - plain.delivery_latency_ms.p50 >= delay * 1000 * 0.9
    assert plain.ack_rtt_ms.p50 is not None and slowed.ack_rtt_ms.p50 is not None
    assert slowed.ack_rtt_ms.p50 - plain.ack_rtt_ms.p50 >= 2 * delay * 1000 * 0.9


def test_verify_command_json_and_exit_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "behind-nginx.yaml"
    path.write_text(PROFILE)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "selector",
            "verify",
            str(path),
            "--clients",
            "3",
            "--protocol",
            "websocket",
            "--protocol",
            "webrtc",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    report = json.loads(result.stdout)
    outcome = report["verdict"]["outcome"]
    assert result.returncode == (1 if outcome == "contradicted" else 0)
    assert report["recommended"] == "websocket"
    assert outcome == "confirmed", report["verdict"]
    protocols = {c["protocol"]: c for c in report["candidates"]}
    assert set(protocols) == {"websocket", "sse", "webrtc"}
    # A JSON boolean: true only when the WebRTC run happened (the extra is installed).
    assert protocols["webrtc"]["verified"] is aiortc_available()
    if not aiortc_available():
        assert "pip install 'realtime-protocol-selector[webrtc]'" in protocols["webrtc"]["reason"]
    assert protocols["sse"] == {
        **protocols["sse"],
        "verified": False,
        "reason": "excluded by --protocol",
    }
    assert protocols["websocket"]["control_showed_failure"] is True
    assert "verify: websocket" in result.stderr  # progress goes to stderr
    assert "Traceback" not in result.stderr


def test_verify_bad_input_exits_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.yaml"
    path.write_text("schema_version: 1\nname: bad\nmedia: loud\n")
    result = subprocess.run(
        [sys.executable, "-m", "selector", "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert f"{path}:3:8: media:" in result.stderr
    bad_scale = subprocess.run(
        [sys.executable, "-m", "selector", "verify", str(path), "--time-scale", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert bad_scale.returncode == 2 and "must be in (0, 1]" in bad_scale.stderr


# Clients that cannot connect within the bound: the run stops with one line that says how
# many, and the control run beside it is ended too, so asyncio prints no traceback at shutdown.
_CANNOT_CONNECT = """\
import selector.verify.runner as runner
from selector.errors import SelectorError
from selector.loading import load_profile

runner.CONNECT_TIMEOUT_S = 0.3
try:
    runner.run_verification(
        load_profile("profiles/chat.yaml"),
        tweaks=runner.RunTweaks(latency_s=2.0),
        protocols=("websocket",),
        progress=lambda line: None,
    )
except SelectorError as exc:
    print(type(exc).__name__, exc)
"""


def test_a_run_whose_clients_cannot_connect_fails_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CANNOT_CONNECT],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    # Every client of the run is counted missing: none could connect through the 2 s delay.
    # The harness failed, not the input: HarnessError (exit 3), not a UsageError.
    assert re.search(
        r"HarnessError .*the verification run failed: TimeoutError: (\d+) of \1 clients had no "
        r"connection "
        r"after 0\.3 s",
        result.stdout,
    ), result.stdout
    assert "Traceback" not in result.stderr and "unhandled exception" not in result.stderr


def test_only_the_sending_share_of_the_clients_sends() -> None:
    """Receive-only clients send nothing on the wire but get every event."""
    split = PROFILE.replace("schema_version: 1", "schema_version: 2").replace(
        "needs_ack: true}", "needs_ack: true, sending_share: 0.5}"
    )
    profile = load_profile_text(split, "behind-nginx.yaml")
    half = build_traffic_plan(
        profile, plan_lifetime(profile, "websocket"), VerifyOptions(clients=CLIENTS, random_state=1)
    )
    assert half.upstream is not None and half.upstream.senders == CLIENTS // 2

    async def both():  # type: ignore[no-untyped-def]
        return await asyncio.gather(
            run_mode(traffic("websocket"), "planned", progress=quiet),
            run_mode(half, "planned", progress=quiet),
        )

    every, senders = asyncio.run(both())
    assert every.client_to_server is not None and senders.client_to_server is not None
    # Same random state, same send times per client: the two senders send what clients 0 and 1 sent
    # in the full run, about half of it, and the server applies all of it.
    assert 0.3 * every.client_to_server.sent < senders.client_to_server.sent
    assert senders.client_to_server.sent < 0.7 * every.client_to_server.sent
    assert senders.client_to_server.lost == 0
    assert senders.server_to_client is not None and senders.server_to_client.lost == 0
