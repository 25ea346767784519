"""``selector adr`` and the MADR renderer: layout, content drawn from the engine, provenance,
atomic ``--out``, and the ``--verify`` hook (the harness itself lives on another branch)."""

from __future__ import annotations

import datetime
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import selector
from selector.cli import main
from selector.render.adr import PROTOCOL_TITLES, render_adr
from selector.runtime.rtc import aiortc_available
from tests.conftest import PROFILES, ROOT

DAY = datetime.date(2026, 3, 4)
CHAT = PROFILES / "chat.yaml"

MADR_HEADINGS = [
    "## Context and Problem Statement",
    "## Decision Drivers",
    "## Considered Options",
    "## Decision Outcome",
    "### Consequences",
    "### Confirmation",
    "## Pros and Cons of the Options",
    "## More Information",
]

ALL_VETOED = """\
schema_version: 1
name: blocked-call
media: video
topology: peer_to_peer
clients: [browser]
"""
FORBID_WEBRTC = "overlay_version: 1\nforbid: {webrtc: the network team runs no TURN}\n"


def _adr(path: Path = CHAT, **kwargs: Any) -> tuple[selector.Recommendation, str]:
    profile = selector.load_profile(path)
    rec = selector.recommend(profile)
    return rec, render_adr(profile, rec, date=DAY, **kwargs)


def _section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = text.index(heading + "\n") + len(heading)
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", text[start:], re.M)]
    return text[start : start + ends[0]] if ends else text[start:]


@pytest.mark.parametrize("path", sorted(PROFILES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_gets_the_madr_headings_in_order(path: Path) -> None:
    _, text = _adr(path)
    positions = [text.index(f"\n{h}\n") for h in MADR_HEADINGS]
    assert positions == sorted(positions)
    assert text.startswith(f"---\nstatus: proposed\ndate: {DAY.isoformat()}\n---\n")


@pytest.mark.parametrize("path", sorted(PROFILES.glob("*.yaml")), ids=lambda p: p.stem)
def test_options_pros_and_cons_come_from_the_rule_hits(path: Path) -> None:
    rec, text = _adr(path)
    assert rec.protocol is not None
    assert f'Chosen option: "{PROTOCOL_TITLES[rec.protocol]}"' in text
    options = _section(text, "## Considered Options")
    assert [line[2:] for line in options.strip().splitlines()] == [
        PROTOCOL_TITLES[r.protocol] for r in rec.ranking
    ]
    pros_and_cons = _section(text, "## Pros and Cons of the Options")
    for ranked in rec.ranking:
        part = _section(pros_and_cons, f"### {PROTOCOL_TITLES[ranked.protocol]}")
        for hit in (h for h in rec.hits if h.protocol == ranked.protocol):
            if hit.effect == "veto":
                assert f"* Bad, because it is ruled out: {hit.reason} (`{hit.rule}`, veto)" in part
            else:
                verdict = "Good" if hit.delta > 0 else "Bad"
                assert (
                    f"* {verdict}, because " in part and f"(`{hit.rule}`, {hit.delta:+g})" in part
                )
    drivers = _section(text, "## Decision Drivers")
    assert all(f"(`{h.rule}`)" in drivers for h in rec.hits)


def test_deciding_factors_name_the_rules_that_put_the_winner_ahead() -> None:
    rec, text = _adr(CHAT)
    outcome = _section(text, "## Decision Outcome")
    assert rec.protocol == "websocket"
    assert "against Server-Sent Events" in outcome
    # mobile-native-websocket gives websocket +1 and sse -1: a lead of 2 for the choice.
    assert "`mobile-native-websocket` (+2 for the choice)" in outcome
    assert "`interactive-acked-commands` (+2 for the choice)" in outcome
    # resume-built-into-sse favours the runner-up: it is a con, not a deciding factor.
    assert "resume-built-into-sse" not in outcome.split("```mermaid")[0]


def test_consequences_carry_the_operational_plan_and_the_tipping_points() -> None:
    rec, text = _adr(CHAT)
    assert rec.plan is not None
    consequences = _section(text, "### Consequences")
    assert f"server pings every {rec.plan.heartbeat_interval_s:g} s" in consequences
    assert "exponential backoff with full jitter" in consequences
    for hop in rec.plan.hops:
        assert f"| {hop.kind}" in consequences
    reverse = _section(consequences, "#### What would reverse this decision")
    for tip in rec.tipping_points:
        assert f"* {tip.description}" in reverse
    for companion in rec.companions:
        assert companion.component in consequences


def test_context_quotes_the_profile() -> None:
    profile = selector.load_profile(CHAT)
    _, text = _adr(CHAT)
    context = _section(text, "## Context and Problem Statement")
    assert profile.description is not None and profile.description.rstrip(".") in context
    assert "50,000 concurrent connections" in context
    assert "aws_alb, then nginx" in context
    assert "each acknowledged by the server" in context


def test_provenance_names_version_full_matrix_hash_and_overlays(write_yaml: Any) -> None:
    overlay = write_yaml("overlay_version: 1\ndisable: [mobile-native-websocket]\n", "org.yaml")
    profile = selector.load_profile(CHAT)
    rec = selector.recommend(profile, matrix=selector.load_matrix([overlay]))
    text = render_adr(profile, rec, date=DAY, status="accepted")
    more = _section(text, "## More Information")
    assert f"selector {selector.__version__}" in more
    assert f"`{rec.provenance.matrix_sha256}`" in more and len(rec.provenance.matrix_sha256) == 64
    assert rec.provenance.matrix_sha256 != selector.recommend(profile).provenance.matrix_sha256
    assert f"`{overlay}`" in more
    assert "status: accepted" in text
    assert "mobile-native-websocket" not in text


def test_every_protocol_vetoed_records_no_choice(write_yaml: Any) -> None:
    profile = selector.load_profile_text(ALL_VETOED)
    rec = selector.recommend(profile, matrix=selector.load_matrix([write_yaml(FORBID_WEBRTC)]))
    text = render_adr(profile, rec, date=DAY)
    assert text.count("\n# No real-time transport fits blocked-call as profiled\n") == 1
    outcome = _section(text, "## Decision Outcome")
    assert "No option is chosen" in outcome and "the network team runs no TURN" in outcome
    assert "#### Operational plan" not in text
    assert all(f"\n{h}\n" in text for h in MADR_HEADINGS)


def test_evidence_is_rendered_under_confirmation() -> None:
    from selector.verify.evidence import DirectionEvidence, RunEvidence, distribution
    from selector.verify.verdict import (
        CandidateReport,
        RunPlanSummary,
        VerifyReport,
        check_run,
        decide,
    )

    profile = selector.load_profile(CHAT)
    lossy = RunEvidence(
        mode="planned",
        server_to_client=DirectionEvidence(
            sent=60, delivered=57, lost=3, duplicated=0, out_of_order=0
        ),
        client_to_server=None,
        ack_rtt_ms=distribution([]),
        delivery_latency_ms=distribution([2.0]),
        detection_s=distribution([0.5]),
        detection_bound_s=0.9,
        undetected=0,
        reconnects=3,
        resumes=3,
        resyncs=0,
        wire_bytes_per_message=500.0,
        leaked_connections=0,
        proxy_faults={},
        duration_s=8.0,
    )
    websocket = CandidateReport(
        protocol="websocket",
        verified=True,
        planned=lossy,
        checks=check_run(profile, lossy, idle_hop=None),
        control_showed_failure=True,
    )
    webrtc = CandidateReport(protocol="webrtc", verified=False, reason="no WebRTC stack")
    report = VerifyReport(
        profile="chat",
        recommended="websocket",
        run=RunPlanSummary(clients=5, full_scale_connections=50000, random_state=3),
        candidates=(websocket, webrtc),
        verdict=decide("websocket", [websocket, webrtc]),
    )
    _, text = _adr(CHAT, evidence=report)
    confirmation = _section(text, "### Confirmation")
    assert "Verified by `selector verify`: **contradicted**." in confirmation
    assert "5 sampled clients for 50000 connections, random state 3" in confirmation
    assert "| FAIL     | no-loss-server-to-client" in confirmation
    assert "3 of 60 lost" in confirmation
    assert "WebRTC: not verified: no WebRTC stack." in confirmation
    assert "the naive control showed the failure the plan prevents" in confirmation
    assert "Not verified in this record" not in confirmation
    _, unverified = _adr(CHAT)
    assert "Not verified in this record" in _section(unverified, "### Confirmation")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _undated(text: str) -> str:
    return re.sub(r"^date: .*$", "date: -", text, count=1, flags=re.M)


def test_cli_prints_the_record_dated_today(capsys: pytest.CaptureFixture[str]) -> None:
    before = datetime.date.today()
    code, out, _ = _run(capsys, "adr", str(CHAT), "--status", "accepted")
    assert code == 0
    date = re.search(r"^date: (\S+)$", out, re.M)
    assert date is not None
    assert before <= datetime.date.fromisoformat(date.group(1)) <= datetime.date.today()
    _, expected = _adr(CHAT, status="accepted", profile_file=str(CHAT))
    assert _undated(out) == _undated(expected)


def test_cli_out_writes_the_same_record_to_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "adr" / "0001-transport.md"
    code, out, err = _run(capsys, "adr", str(CHAT), "--out", str(target))
    assert code == 0 and out == "" and f"wrote {target}" in err
    _, printed, _ = _run(capsys, "adr", str(CHAT))
    assert _undated(target.read_text(encoding="utf-8")) == _undated(printed)
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_cli_out_to_a_folder_is_bad_usage(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(capsys, "adr", str(CHAT), "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert f"{tmp_path}: is a folder" in err


def test_cli_every_protocol_vetoed_still_writes_and_exits_1(
    capsys: pytest.CaptureFixture[str], write_yaml: Any
) -> None:
    profile = write_yaml(ALL_VETOED)
    overlay = write_yaml(FORBID_WEBRTC, "org.yaml")
    code, out, err = _run(capsys, "adr", str(profile), "--matrix", str(overlay))
    assert code == 1
    assert "No option is chosen" in out
    assert "blocked-call: every protocol is vetoed" in err


def test_cli_bad_profile_is_a_located_message_without_traceback(write_yaml: Any) -> None:
    path = write_yaml("schema_version: 1\nname: x\ntraffic: {server_to_client: {rate_hz: -1}}\n")
    result = subprocess.run(
        [sys.executable, "-m", "selector", "adr", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert f"{path}:3:" in result.stderr and "rate_hz" in result.stderr
    assert "Traceback" not in result.stderr


def test_adr_verify_runs_the_harness_and_records_its_evidence(tmp_path: Path) -> None:
    profile = tmp_path / "behind-nginx.yaml"
    profile.write_text(
        "schema_version: 1\nname: behind-nginx\n"
        "traffic:\n  server_to_client: {rate_hz: 5, payload_bytes: 200}\n"
        "  client_to_server: {rate_hz: 5, payload_bytes: 100, needs_ack: true}\n"
        "delivery: {guarantee: reliable_ordered, latency_p99_ms: 500, resume: true}\n"
        "infrastructure: {path: [{kind: nginx}], timeout_control: none}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "selector", "adr", str(profile), "--verify"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    confirmation = _section(result.stdout, "### Confirmation")
    match = re.search(r"Verified by `selector verify`: \*\*(\w[\w ]*)\*\*", confirmation)
    assert match is not None, confirmation
    assert result.returncode == (1 if match.group(1) == "contradicted" else 0)
    assert match.group(1) == "confirmed"
    assert "| pass     | dead-connection-detected" in confirmation
    if aiortc_available():
        assert "WebRTC: not verified" not in confirmation
        assert "ice-loopback" in confirmation
    else:
        assert "WebRTC: not verified" in confirmation


def test_a_plan_that_cannot_be_met_is_a_bad_consequence() -> None:
    profile = selector.load_profile_text(
        "schema_version: 1\nname: ops-feed\n"
        "traffic: {server_to_client: {rate_hz: 0.2, payload_bytes: 500}}\n"
        "clients: [browser]\ninfrastructure: {path: [{kind: other, idle_timeout_s: 3, "
        "controllable: false}, {kind: nginx}]}\n"
    )
    rec = selector.recommend(profile)
    assert rec.plan is not None and rec.plan.problems
    consequences = _section(render_adr(profile, rec, date=DAY), "### Consequences")
    for problem in rec.plan.problems:
        assert (
            f"* Bad, because the operational plan cannot be met as the path stands: "
            f"{problem.message} (fix: {problem.fix})" in consequences
        )


def test_a_fixed_lifetime_cap_is_planned_rotation_not_a_bad_consequence() -> None:
    profile = selector.load_profile_text(
        "schema_version: 1\nname: ops-feed\n"
        "traffic: {server_to_client: {rate_hz: 0.2, payload_bytes: 500}}\n"
        "clients: [browser]\ninfrastructure: {path: [{kind: gcp_lb}, {kind: nginx}]}\n"
    )
    rec = selector.recommend(profile)
    assert rec.plan is not None and rec.plan.feasible
    assert rec.plan.planned_reconnect is not None
    consequences = _section(render_adr(profile, rec, date=DAY), "### Consequences")
    assert "cannot be met" not in consequences


def test_context_says_how_many_connections_send() -> None:
    bike = ROOT / "tests" / "corpus" / "bike-power-tracker-live-workout-sse.yaml"
    context = _section(_adr(bike)[1], "## Context and Problem Statement")
    assert (
        "Client to server: 1 messages/s per sending client (0.2 of the connections send; the "
        "others only receive) of about 200 bytes." in context
    )
    # Every connection sending, as every version 1 file means, reads as before.
    assert "messages/s per client of about" in _section(
        _adr(CHAT)[1], "## Context and Problem Statement"
    )
