"""The verify report as people read it: verdict first, every check, what was scaled."""

from __future__ import annotations

import json

from selector.render.verify import VERIFY_FORMATS
from selector.verify.verdict import CandidateReport, RunPlanSummary, VerifyReport, decide
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
            seed=9,
        ),
        candidates=tuple(candidates),
        verdict=decide("websocket", candidates),
        extrapolated={"downstream_bytes_per_s_at_full_scale": 123456.0},
    )


def test_text_leads_with_the_verdict_and_lists_every_check() -> None:
    text = VERIFY_FORMATS["table"](sample_report())
    lines = text.splitlines()
    assert lines[0] == "selector verify demo: recommended websocket"
    assert lines[1].startswith("Verdict: WEAKENED: websocket weakened: latency-budget")
    assert "4 sampled clients for 1000 connections, random seed 9" in text
    assert "  - timeline scaled by 0.0167" in text
    assert "weak  latency-budget" in text and "pass  no-loss-server-to-client" in text
    assert "webrtc: not verified: no WebRTC stack" in text
    assert "downstream_bytes_per_s_at_full_scale = 123,456" in text
    assert "websocket planned" in text  # the run table


def test_markdown_and_json_carry_the_same_verdict() -> None:
    sample = sample_report()
    markdown = VERIFY_FORMATS["markdown"](sample)
    assert markdown.startswith("## Verification of `demo`: websocket")
    assert "**Verdict: WEAKENED" in markdown
    assert "| weak     | latency-budget" in markdown
    assert "The naive control showed no failure on this path." in markdown
    document = json.loads(VERIFY_FORMATS["json"](sample))
    assert document["verdict"]["outcome"] == "weakened"
    assert document["verdict"]["deciding_requirement"] == "latency-budget"
    assert VerifyReport.model_validate(document) == sample
