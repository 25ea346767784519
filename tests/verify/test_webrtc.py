"""WebRTC as a verification candidate: real aiortc peers against the runtime on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from selector.loading import load_profile, load_profile_text
from selector.runtime.rtc import INSTALL_HINT, RtcUnavailableError, aiortc_available
from selector.runtime.rtc.channels import DEFAULT_CHANNEL, channel_for
from selector.runtime.rtc.turn import render_config, turnserver_path
from selector.verify.runner import verify_profile
from selector.verify.traffic import VerifyOptions
from selector.verify.webrtc import (
    MAX_PEERS,
    MAX_SAMPLE_BYTES_PER_S,
    rtc_load,
    run_rtc,
    webrtc_candidate,
)
from tests.conftest import ROOT
from tests.runtime.conftest import arun

needs_aiortc = pytest.mark.skipif(
    not aiortc_available(), reason="aiortc missing: pip install '.[webrtc]'"
)

GAME = load_profile(ROOT / "profiles" / "multiplayer-game-state.yaml")
FILES = load_profile(ROOT / "profiles" / "p2p-file-transfer.yaml")


def quiet(_: str) -> None:
    pass


def test_load_keeps_the_profile_sizes_and_caps_the_sample() -> None:
    game = rtc_load(GAME, clients=20)
    assert (game.peers, game.rate_hz, game.up_bytes, game.down_bytes) == (MAX_PEERS, 30, 80, 900)
    files = rtc_load(FILES, clients=20)
    # 50 Hz of 16 kB each way is 1.6 MB/s per peer: one peer only, and the output says so.
    assert files.peers == 1 and files.rate_hz == 50
    assert files.peers * files.rate_hz * (files.up_bytes + files.down_bytes) > (
        MAX_SAMPLE_BYTES_PER_S
    )
    assert any("instead of" in note for note in files.notes)
    slow = load_profile_text(
        "schema_version: 1\nname: slow\n"
        "traffic: {server_to_client: {rate_hz: 0.1, payload_bytes: 10}}\n"
        "scale: {concurrent_connections: 2}\n",
        "slow.yaml",
    )
    raised = rtc_load(slow, clients=20)
    assert raised.peers == 2 and raised.rate_hz > 0.1
    assert any("raised" in note for note in raised.notes)


@needs_aiortc
def test_best_effort_channel_loses_but_stays_fast_under_loss_where_the_default_waits() -> None:
    """Head-of-line blocking, measured: under the same 5 % datagram loss the unordered,
    maxRetransmits=0 channel drops messages and keeps its round trip, while the default
    reliable, ordered channel delivers everything, late."""
    load = rtc_load(GAME, clients=3)

    async def runs():  # type: ignore[no-untyped-def]
        common = {"peers": load.peers, "load": load, "loss_rate": 0.05, "random_state": 3}
        best = await run_rtc(GAME, channel_for("best_effort"), mode="planned", **common)
        default = await run_rtc(GAME, DEFAULT_CHANNEL, mode="naive", **common)
        return best, default

    best, default = arun(runs(), timeout=60)
    for run in (best, default):
        assert run.loopback_pairs == load.peers
        assert run.evidence.leaked_connections == 0
    best_up, default_up = best.evidence.client_to_server, default.evidence.client_to_server
    assert best_up is not None and default_up is not None
    assert best_up.lost > 0 and default_up.lost == 0
    assert best.round_trip_p99_ms is not None and default.round_trip_p99_ms is not None
    assert best.round_trip_p99_ms < default.round_trip_p99_ms


@needs_aiortc
def test_verify_runs_webrtc_and_says_so_in_json() -> None:
    report = asyncio.run(
        verify_profile(GAME, VerifyOptions(clients=3), protocols=("webrtc",), progress=quiet)
    )
    assert report.recommended == "webrtc"
    webrtc = next(c for c in report.candidates if c.protocol == "webrtc")
    as_json = webrtc.model_dump(mode="json")
    assert as_json["verified"] is True
    assert webrtc.planned is not None and webrtc.naive is not None
    checks = {c.requirement: c for c in webrtc.checks}
    assert checks["ice-loopback"].passed
    assert "max-message-size 262144" in checks["message-size-portable"].measured
    assert "no-head-of-line-blocking" in checks
    # The path went dark at the end of the planned run: consent freshness noticed it.
    assert webrtc.planned.detection_bound_s is not None
    assert checks["dead-connection-detected"].passed, checks["dead-connection-detected"]
    assert webrtc.planned.undetected == 0
    # ... and every client came back on a new session over /rtc (not an ICE restart).
    assert checks["new-session-after-dark-path"].passed, checks["new-session-after-dark-path"]
    assert webrtc.planned.reconnects == webrtc.planned.detection_s.count
    assert any("not an ICE restart" in note and "restartIce" in note for note in webrtc.notes)
    # best effort may lose: no no-loss check for it
    assert not any(r.startswith("no-loss") for r in checks)
    assert report.verdict.outcome != "not_verified"


def test_without_aiortc_webrtc_is_not_verified_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from selector.runtime.rtc import ice

    def missing() -> None:
        raise RtcUnavailableError(f"aiortc is not installed: {INSTALL_HINT}")

    monkeypatch.setattr(ice, "check_versions", missing)
    report = arun(webrtc_candidate(GAME, clients=3, random_state=0, progress=quiet))
    assert report.verified is False
    assert (
        report.reason is not None
        and "pip install 'realtime-protocol-selector[webrtc]'" in report.reason
    )


@needs_aiortc
@pytest.mark.skipif(turnserver_path() is None, reason="coturn missing: ./scripts/system-deps")
def test_without_udp_the_run_goes_through_coturn_and_says_so() -> None:
    no_udp = load_profile_text(
        "schema_version: 1\nname: no-udp\n"
        "traffic:\n  server_to_client: {rate_hz: 10, payload_bytes: 300}\n"
        "  client_to_server: {rate_hz: 10, payload_bytes: 100}\n"
        "delivery: {guarantee: reliable_ordered, latency_p99_ms: 500}\n"
        "topology: peer_to_peer\nclients: [browser]\n"
        "scale: {concurrent_connections: 100}\n"
        "infrastructure: {udp_allowed: false}\n",
        "no-udp.yaml",
    )
    lines: list[str] = []
    report = arun(webrtc_candidate(no_udp, clients=2, random_state=0, progress=lines.append), 60)
    assert report.verified is True, report.reason
    checks = {c.requirement: c for c in report.checks}
    assert checks["turn-relay"].passed, checks["turn-relay"]
    assert checks["no-loss-client-to-server"].passed
    assert any("coturn" in line for line in lines)
    assert any("TURN relay (coturn on 127.0.0.1, TCP)" in note for note in report.notes)
    # The relayed path went dark too: consent freshness noticed it with the compressed
    # timers, and each client came back on a new session through the relay.
    assert report.planned is not None and report.planned.undetected == 0
    assert checks["dead-connection-detected"].passed, checks["dead-connection-detected"]
    assert checks["new-session-after-dark-path"].passed, checks["new-session-after-dark-path"]
    assert report.planned.reconnects == 2
    assert any("dark path through the TURN relay: 2 of 2" in note for note in report.notes)


def test_turn_config_stays_on_loopback(tmp_path: Path) -> None:
    config = render_config(3478, "user", "secret", tmp_path)
    assert "listening-ip=127.0.0.1" in config and "relay-ip=127.0.0.1" in config
    assert "user=user:secret" in config and "no-cli" in config
    assert str(tmp_path / "turndb") in config  # nothing written outside the run's directory
