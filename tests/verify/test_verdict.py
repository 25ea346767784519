"""The verdict: which requirement decides, and how the runner-up compares (pure)."""

from __future__ import annotations

from selector.loading import load_profile_text
from selector.verify.evidence import DirectionEvidence, RunEvidence, distribution
from selector.verify.verdict import (
    CandidateReport,
    check_run,
    decide,
    explain_faults,
    shows_failure,
)

PROFILE = load_profile_text(
    "schema_version: 1\nname: v\n"
    "traffic:\n  server_to_client: {rate_hz: 5, payload_bytes: 10}\n"
    "delivery: {guarantee: reliable_ordered, latency_p99_ms: 100}\n"
)


def run(
    *,
    lost: int = 0,
    dup: int = 0,
    latency: float = 5.0,
    detect: float | None = 0.5,
    undetected: int = 0,
    leaked: int = 0,
    faults: dict[str, int] | None = None,
) -> RunEvidence:
    return RunEvidence(
        mode="planned",
        server_to_client=DirectionEvidence(
            sent=100, delivered=100 - lost, lost=lost, duplicated=dup, out_of_order=0
        ),
        client_to_server=None,
        ack_rtt_ms=distribution([]),
        delivery_latency_ms=distribution([latency]),
        detection_s=distribution([detect] if detect is not None else []),
        detection_bound_s=1.0,
        undetected=undetected,
        reconnects=1,
        resumes=1,
        resyncs=0,
        wire_bytes_per_message=50.0,
        leaked_connections=leaked,
        proxy_faults=faults or {},
        duration_s=5.0,
    )


def report(protocol: str, evidence: RunEvidence) -> CandidateReport:
    return CandidateReport(
        protocol=protocol,
        verified=True,
        planned=evidence,
        checks=check_run(PROFILE, evidence, idle_hop="path[0] nginx"),
    )


def test_clean_run_confirms() -> None:
    verdict = decide("websocket", [report("websocket", run()), report("sse", run())], "sse")
    assert verdict.outcome == "confirmed"
    assert verdict.runner_up == "sse" and verdict.runner_up_would_do_better is False


def test_latency_over_budget_only_weakens() -> None:
    verdict = decide("websocket", [report("websocket", run(latency=150))])
    assert verdict.outcome == "weakened"
    assert verdict.deciding_requirement == "latency-budget"


def test_loss_contradicts_and_a_clean_runner_up_would_do_better() -> None:
    verdict = decide("sse", [report("sse", run(lost=3)), report("websocket", run())], "websocket")
    assert verdict.outcome == "contradicted"
    assert verdict.deciding_requirement == "no-loss-server-to-client"
    assert verdict.runner_up == "websocket" and verdict.runner_up_would_do_better is True
    assert "3 of 100 lost" in verdict.summary


def test_each_hard_failure_is_named() -> None:
    cases = {
        "exactly-once-server-to-client": run(dup=1),
        "survives-idle-timeout": run(faults={"idle_timeout:silent_drop": 2}),
        "dead-connection-detected": run(detect=1.5),
        "no-leaked-connections": run(leaked=1),
    }
    for requirement, evidence in cases.items():
        verdict = decide("websocket", [report("websocket", evidence)])
        assert (verdict.outcome, verdict.deciding_requirement) == ("contradicted", requirement)
    missed = decide("websocket", [report("websocket", run(undetected=1))])
    assert missed.deciding_requirement == "dead-connection-detected"


def test_unverifiable_winner_is_not_verified() -> None:
    webrtc = CandidateReport(protocol="webrtc", verified=False, reason="no WebRTC stack")
    verdict = decide("webrtc", [webrtc, report("websocket", run())], "websocket")
    assert verdict.outcome == "not_verified"
    assert "no WebRTC stack" in verdict.summary
    assert verdict.runner_up == "websocket"


def test_runner_up_is_the_engines_even_when_it_cannot_run() -> None:
    webrtc = CandidateReport(protocol="webrtc", verified=False, reason="no WebRTC stack")
    candidates = [report("websocket", run()), webrtc, report("sse", run(lost=5))]
    verdict = decide("websocket", candidates, "webrtc")
    assert verdict.runner_up == "webrtc"
    assert verdict.runner_up_would_do_better is None  # not verified: no comparison claimed


def test_detection_is_also_given_in_real_time() -> None:
    checks = check_run(PROFILE, run(detect=0.48), idle_hop=None, time_scale=1 / 60)
    detection = next(c for c in checks if c.requirement == "dead-connection-detected")
    assert "0.48 s (28.8 s real)" in detection.measured


def test_fault_counts_are_explained_in_words() -> None:
    lines = explain_faults(
        {"forced:silent_drop": 35, "forced:ignored_connect": 56}, protocol="sse", clients=20
    )
    assert any("35 connection(s) open when the path went dark" in line for line in lines)
    assert any("pooled connections for its POSTs" in line for line in lines)
    assert any("56 connection attempt(s)" in line for line in lines)


def test_best_effort_does_not_require_delivery() -> None:
    best_effort = load_profile_text(
        "schema_version: 1\nname: b\n"
        "traffic:\n  server_to_client: {rate_hz: 30, payload_bytes: 10}\n"
        "delivery: {guarantee: best_effort, latency_p99_ms: 80}\n"
    )
    checks = check_run(best_effort, run(lost=10), idle_hop=None)
    assert not any(c.requirement.startswith("no-loss") for c in checks)
    assert all(c.passed for c in checks)


def test_control_failure_is_recognised() -> None:
    assert shows_failure(run(lost=1))
    assert shows_failure(run(undetected=2))
    assert not shows_failure(run())
