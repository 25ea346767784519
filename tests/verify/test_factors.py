"""Factors: each deciding rule's experiment, judged from what the run measured."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from selector.builtin import recommend
from selector.errors import SelectorError
from selector.loading import load_profile, load_profile_text
from selector.rules.facts import profile_facts
from selector.rules.loading import load_matrix, load_overlay_text
from selector.verify.experiments import (
    ExperimentContext,
    browser_streams,
    buffering_factor,
    chromium_unavailable,
    factor_for,
    origin_factor,
    probe,
    through_buffering_hop,
    through_stripping_hop,
    upgrade_factor,
    why_not,
)
from selector.verify.network import Network
from selector.verify.proxy import strip_upgrade
from tests.conftest import PROFILES, ROOT

OVERLAY = ROOT / "tests" / "verify" / "data" / "evidence-overlay.yaml"

BINARY = """\
schema_version: 1
name: binary-frames
traffic:
  server_to_client: {rate_hz: 10, payload_bytes: 600}
  client_to_server: {rate_hz: 2, payload_bytes: 300, needs_ack: true}
  encoding: binary
delivery: {guarantee: reliable_ordered, latency_p99_ms: 500}
"""


def context_for(text: str, network: Network) -> ExperimentContext:
    profile = load_profile_text(text, "p.yaml")
    up, down = profile.traffic.client_to_server, profile.traffic.server_to_client
    assert up is not None and down is not None
    return ExperimentContext(
        facts=profile_facts(profile),
        encoding=profile.traffic.encoding,
        up_payload=up.payload_bytes,
        down_payload=down.payload_bytes,
        network=network,
    )


def test_one_round_trip_per_ack_is_supported_by_measurement() -> None:
    context = context_for(BINARY.replace("binary", "text"), Network(rtt_ms=60, source="test"))
    result = asyncio.run(probe("websocket", context))
    factor = factor_for("acked", "ack-rtt", result, context)
    assert factor.outcome == "supported", factor
    assert factor.measured is not None
    # measured on the client's clock through the emulated round trip, not copied from the plan
    assert 1.0 <= factor.measured.values["round_trips"] < 1.5
    assert factor.measured.values["ack_rtt_ms_p50"] >= 60


def test_acks_are_not_counted_in_round_trips_when_no_round_trip_is_emulated() -> None:
    # --loss without --rtt: a network is emulated, but with no round trip to divide by.
    context = context_for(BINARY.replace("binary", "text"), Network(loss_pct=1, source="test"))
    result = asyncio.run(probe("websocket", context))
    factor = factor_for("acked", "ack-rtt", result, context)
    assert factor.outcome == "not_measurable" and "--rtt" in factor.why


def test_binary_frames_claim_is_contradicted_by_base64_on_the_wire() -> None:
    # The engine counts binary WebSocket frames; the reference runtime carries binary
    # payloads base64-encoded inside JSON, so the wire shows a third more and the envelope.
    context = context_for(BINARY, Network(source="test"))
    result = asyncio.run(probe("websocket", context))
    factor = factor_for("framing", "wire-bytes", result, context)
    assert factor.outcome == "contradicted", factor
    assert factor.measured is not None
    assert factor.measured.values["down_bytes"] > 600 * 4 / 3
    assert factor.prediction.values["down_bytes"] < 620
    assert "down" in factor.why


def test_post_bytes_are_judged_for_the_http_version_the_run_speaks() -> None:
    # The runtime speaks HTTP/1.1 on loopback. A profile behind HTTP/2 has its POSTs
    # estimated with compressed headers; judged against that, the run's plain headers once
    # read as a contradiction of the matrix. They are judged against the HTTP/1.1 estimate,
    # and the prediction says the HTTP/2 figure is not measured.
    text = BINARY.replace("binary", "text") + 'infrastructure: {http_version: "2"}\n'
    context = context_for(text, Network(source="test"))
    result = asyncio.run(probe("sse", context))
    factor = factor_for("framing", "wire-bytes", result, context)
    assert factor.outcome == "supported", factor
    assert factor.measured is not None
    # a POST's headers cost more than the 60 B the HTTP/2 estimate allows them
    assert factor.measured.values["up_bytes"] > 300 + 150
    assert factor.prediction.values["up_bytes"] > 300 + 300
    assert "HTTP/2 estimate" in factor.prediction.text and "not measured" in factor.prediction.text


def test_unknown_or_unbuilt_experiments_say_why() -> None:
    assert "no experiment is named 'telepathy'" in why_not("telepathy")
    assert "mutations publish no events" in why_not("ack-event-order")


def test_overlay_rules_carry_their_evidence_id() -> None:
    matrix = load_matrix([OVERLAY])
    assert matrix.by_id["acked-sends-one-round-trip"].evidence == "ack-rtt"
    assert matrix.by_id["framing-per-message"].evidence == "wire-bytes"
    with pytest.raises(SelectorError) as error:
        load_overlay_text(OVERLAY.read_text().replace("evidence: ack-rtt", "evidence: Ack RTT"))
    assert "evidence" in str(error.value)


def test_chat_json_has_measured_factors_and_the_engines_runner_up() -> None:
    profile_path = PROFILES / "chat.yaml"
    result = subprocess.run(
        [
            sys.executable, "-m", "selector", "verify", str(profile_path),
            "--format", "json", "--clients", "6", "--matrix", str(OVERLAY),
        ],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rec = recommend(load_profile(profile_path), matrix=load_matrix([OVERLAY]))
    assert report["verdict"]["runner_up"] == rec.ranking[1].protocol
    measured = [
        f
        for f in report["factors"]
        if f["protocol"] == rec.protocol and f["outcome"] != "not_measurable"
    ]
    assert {f["evidence"] for f in measured} == {"ack-rtt", "wire-bytes"}
    assert all(f["measured"] is not None for f in measured)
    assert len(report["verdict"]["factors_held"]) + len(report["verdict"]["factors_failed"]) >= 4
    # full-scale figures are recommend's own bandwidth estimate, not a second model
    model = next(b for b in rec.bandwidth if b.protocol == rec.protocol)
    assert report["extrapolated"]["downstream_bytes_per_s_at_full_scale"] == (
        model.downstream_bytes_per_s
    )
    assert "experiment for ack-rtt" in result.stderr


@pytest.mark.browser
@pytest.mark.skipif(chromium_unavailable() is not None, reason=str(chromium_unavailable()))
def test_chromium_holds_the_seventh_request_behind_six_event_sources() -> None:
    # Eight streams to one HTTP/1.1 origin: Chromium opens six EventSources and makes the
    # next request wait, but opens all eight WebSockets and answers the request at once.
    sse = asyncio.run(browser_streams("sse", 8))
    assert sse["open"] == 6 and sse["server_registered"] == 6
    assert sse["request_answered"] == 0.0
    assert origin_factor("r", "sse", sse).outcome == "supported"
    ws = asyncio.run(browser_streams("websocket", 8))
    assert ws["open"] == 8 and ws["server_registered"] == 8
    assert ws["request_answered"] == 1.0
    assert origin_factor("r", "websocket", ws).outcome == "supported"


def test_a_hop_that_strips_upgrade_stops_websocket_not_sse() -> None:
    head = (
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    stripped = strip_upgrade(head)
    assert b"upgrade" not in stripped.lower() and b"Connection: keep-alive" in stripped
    assert (
        strip_upgrade(b"POST /mutations HTTP/1.1\r\n\r\n{}")
        == b"POST /mutations HTTP/1.1\r\n\r\n{}"
    )
    ws = asyncio.run(through_stripping_hop("websocket"))
    sse = asyncio.run(through_stripping_hop("sse"))
    assert ws == {"connected": 0.0, "delivered": 0.0}
    assert sse == {"connected": 1.0, "delivered": 1.0}
    assert upgrade_factor("r", "websocket", ws).outcome == "supported"
    assert upgrade_factor("r", "sse", sse).outcome == "supported"


def test_a_buffering_hop_holds_small_sse_events_but_not_websocket_frames() -> None:
    sse = asyncio.run(through_buffering_hop("sse"))
    ws = asyncio.run(through_buffering_hop("websocket"))
    assert sse["arrived"] == 0.0 and ws["arrived"] == ws["published"] == 5.0
    assert buffering_factor("r", "sse", sse).outcome == "supported"
    assert buffering_factor("r", "websocket", ws).outcome == "supported"


def test_rotation_and_loss_factors_read_the_runs_evidence() -> None:
    from selector.verify.runner import _loss_factor, _rotation_factor
    from selector.verify.traffic import VerifyOptions
    from tests.verify.test_verdict import report, run

    rotated = report("websocket", run(faults={"max_lifetime:fin": 4}))
    assert _rotation_factor("r", "websocket", rotated).outcome == "supported"
    lossy = report("websocket", run(lost=2, faults={"max_lifetime:fin": 4}))
    assert _rotation_factor("r", "websocket", lossy).outcome == "contradicted"
    assert _rotation_factor("r", "websocket", report("sse", run())).outcome == "not_measurable"

    loss = VerifyOptions(network=Network(rtt_ms=40, loss_pct=2, source="t"))
    assert _loss_factor("r", "sse", report("sse", run(latency=260)), loss).outcome == "supported"
    flat = _loss_factor("r", "sse", report("sse", run(latency=30)), loss)
    assert flat.outcome == "contradicted" and flat.prediction.values["delivery_p99_ms"] == 220
    none = _loss_factor("r", "sse", report("sse", run()), VerifyOptions())
    assert none.outcome == "not_measurable" and "--loss" in none.why


@pytest.mark.parametrize(
    ("example", "least"),
    # chat is decided by interactive-acked-commands (measured: ack-rtt), mobile clients and
    # resume (no experiment in this version); collaborative-editor adds steady traffic both
    # ways and the cost of a POST per mutation (wire-bytes).
    [("chat", 1), ("collaborative-editor", 2)],
)
def test_the_default_matrix_names_measured_experiments_for_deciding_rules(
    example: str, least: int
) -> None:
    """On a plain install, verifying a WebSocket example measures factors of its decision: its
    deciding rules name experiments this version runs."""
    from selector.rules.loading import default_matrix
    from selector.verify.experiments import MEASURED_HERE
    from selector.verify.runner import deciding_rules

    rec = recommend(load_profile(PROFILES / f"{example}.yaml"))
    assert rec.protocol == "websocket"
    runner_up = next(r.protocol for r in rec.ranking[1:] if not r.vetoed)
    evidence = {rule.id: rule.evidence for rule in default_matrix().rules}
    measured = {
        rule for rule, _ in deciding_rules(rec, runner_up) if evidence.get(rule) in MEASURED_HERE
    }
    assert "interactive-acked-commands" in measured
    assert len(measured) >= least, measured


def test_a_buffering_hop_that_decides_is_measured_by_verify() -> None:
    # n8n's editor push: a hop that buffers streams vetoes SSE. verify's factors run the
    # stream-buffered experiment for it (they once said "not run by this version" for every
    # experiment missing from a hand-kept list, this one included).
    from selector.verify.runner import _factors
    from selector.verify.traffic import VerifyOptions

    profile = load_profile(ROOT / "tests" / "corpus" / "n8n-editor-push.yaml")
    rec = recommend(profile)
    assert rec.protocol == "websocket" and rec.ranked("sse").vetoed
    factors = asyncio.run(
        _factors(
            profile,
            rec,
            "webrtc",
            VerifyOptions(),
            [],
            matrix=None,
            progress=lambda line: None,
        )
    )
    buffered = {f.protocol: f for f in factors if f.rule == "hop-buffers-streams"}
    assert buffered["sse"].outcome == buffered["websocket"].outcome == "supported"
    assert buffered["sse"].measured is not None
    assert buffered["sse"].measured.values["arrived"] == 0.0
