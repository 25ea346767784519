"""The verify report as people read it: verdict first, every check, what was scaled."""

from __future__ import annotations

import json

from selector.render.formats import OutputFormat
from selector.render.verify import VERIFY_FORMATS
from selector.verify.verdict import (
    CandidateReport,
    Claim,
    Factor,
    RunPlanSummary,
    VerifyReport,
    decide,
    with_factors,
)
from tests.verify.test_verdict import report, run


def sample_report() -> VerifyReport:
    websocket = report("websocket", run(latency=250.0)).model_copy(
        update={"time_scale": 0.0167, "notes": ("timeline scaled by 0.0167",)}
    )
    webrtc = CandidateReport(protocol="webrtc", verified=False, reason="no WebRTC stack")
    candidates = [websocket, webrtc]
    return VerifyReport(
        profile="demo",
        recommended="websocket",
        run=RunPlanSummary(
            clients=4,
            full_scale_connections=1000,
            random_state=9,
        ),
        candidates=tuple(candidates),
        verdict=decide("websocket", candidates),
        extrapolated={"downstream_bytes_per_s_at_full_scale": 123456.0},
    )


def test_text_leads_with_the_verdict_and_lists_every_check() -> None:
    text = VERIFY_FORMATS[OutputFormat.TEXT](sample_report())
    lines = text.splitlines()
    assert lines[0] == "selector verify demo: recommended websocket"
    assert lines[1].startswith("Verdict: WEAKENED: websocket weakened: latency-budget")
    assert "4 sampled clients for 1000 connections, random state 9" in text
    assert "  - timeline scaled by 0.0167" in text
    assert "weak  latency-budget" in text and "pass  no-loss-server-to-client" in text
    assert "webrtc: not verified: no WebRTC stack" in text
    assert "downstream_bytes_per_s_at_full_scale = 123,456" in text
    assert "websocket planned" in text  # the run table


def test_markdown_and_json_carry_the_same_verdict() -> None:
    sample = sample_report()
    markdown = VERIFY_FORMATS[OutputFormat.MARKDOWN](sample)
    assert markdown.startswith("## Verification of `demo`: websocket")
    assert "**Verdict: WEAKENED" in markdown
    assert "| weak     | latency-budget" in markdown
    assert "The naive control showed no failure on this path." in markdown
    document = json.loads(VERIFY_FORMATS[OutputFormat.JSON](sample))
    assert document["verdict"]["outcome"] == "weakened"
    assert document["verdict"]["deciding_requirement"] == "latency-budget"
    assert VerifyReport.model_validate(document) == sample


def test_factors_show_in_every_format_and_a_contradiction_is_a_finding() -> None:
    held = Factor(
        rule="acked",
        evidence="ack-rtt",
        protocol="websocket",
        prediction=Claim(text="1 round trip per ack", values={"round_trips": 1.0}),
        measured=Claim(text="ack p50 41 ms = 1.02 round trips", values={"round_trips": 1.02}),
        outcome="supported",
        why="within 0.5 round trip",
    )
    failed = held.model_copy(
        update={
            "rule": "framing",
            "evidence": "wire-bytes",
            "measured": Claim(text="612 B per event down"),
            "outcome": "contradicted",
            "why": "down 612 B against 404 B (+51%)",
        }
    )
    unmeasured = held.model_copy(
        update={"protocol": "webrtc", "measured": None, "outcome": "not_measurable"}
    )
    base = sample_report()
    factors = (held, failed, unmeasured)
    sample = base.model_copy(
        update={"factors": factors, "verdict": with_factors(base.verdict, factors)}
    )
    assert sample.verdict.factors_held == ["acked/websocket"]
    assert sample.verdict.factors_failed == ["framing/websocket"]
    text = VERIFY_FORMATS[OutputFormat.TEXT](sample)
    markdown = VERIFY_FORMATS[OutputFormat.MARKDOWN](sample)
    for out in (text, markdown):
        assert "1 held, 1 contradicted" in out
        assert "finding about the matrix: rule framing on websocket" in out
        assert "not measurable" in out and "acked (ack-rtt)" in out
    document = json.loads(VERIFY_FORMATS[OutputFormat.JSON](sample))
    assert [f["outcome"] for f in document["factors"]] == [
        "supported",
        "contradicted",
        "not_measurable",
    ]
    assert document["factors"][0]["prediction"]["values"] == {"round_trips": 1.0}
    assert VerifyReport.model_validate(document) == sample
