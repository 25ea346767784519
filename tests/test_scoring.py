"""recommend(): ranking, vetoes, ties, confidence, companions and bandwidth."""

from __future__ import annotations

from pathlib import Path

import pytest

from selector import __version__
from selector.builtin import recommend
from selector.engine.recommendation import Recommendation
from selector.errors import MatrixError
from selector.loading import load_profile_text
from selector.profile import Profile
from selector.rules.loading import compile_matrix_text, load_matrix, load_overlay_text


def _profile(body: str) -> Profile:
    return load_profile_text("schema_version: 1\nname: case\n" + body)


PUSH = "traffic:\n  server_to_client: {rate_hz: 1, payload_bytes: 100}\n"


def test_a_vetoed_protocol_ranks_after_viable_ones_whatever_its_score() -> None:
    rec = recommend(_profile(PUSH + "infrastructure: {path: [{kind: azure_front_door}]}\n"))
    sse = rec.ranked("sse")
    assert sse.vetoed and sse.score > rec.ranked("websocket").score
    assert [r.protocol for r in rec.ranking] == ["websocket", "webrtc", "sse"]
    assert rec.protocol == "websocket"
    (reason,) = sse.veto_reasons
    assert "azure_front_door" in reason and reason.endswith("[azure-front-door-no-sse]")


def test_every_protocol_vetoed_means_no_recommendation() -> None:
    forbid = load_overlay_text("overlay_version: 1\nforbid: {webrtc: no TURN servers}\n")
    rec = recommend(
        _profile("media: video\ntopology: peer_to_peer\nclients: [browser]\n"), matrix=forbid
    )
    assert rec.protocol is None
    assert rec.confidence == "none" and rec.margin is None
    assert all(r.vetoed and r.veto_reasons for r in rec.ranking)
    assert rec.companions == []


TIE_MATRIX = """\
matrix_version: 1
rules:
  - id: equal-points
    title: t
    when: {fact: clients, contains: browser}
    effects: {websocket: 1, sse: 1, webrtc: 1}
    rationale: r
    refs: [https://example.com]
"""


def test_ties_go_to_the_protocol_with_fewer_moving_parts() -> None:
    matrix = compile_matrix_text(TIE_MATRIX)
    rec = recommend(_profile(PUSH), matrix=matrix)
    assert [r.protocol for r in rec.ranking] == ["sse", "websocket", "webrtc"]
    assert rec.margin == 0 and rec.confidence == "low"
    forbid_sse = compile_matrix_text(
        TIE_MATRIX
        + """\
  - id: no-sse
    title: t
    when: {fact: clients, contains: browser}
    effects: {sse: veto}
    rationale: r
    refs: [https://example.com]
"""
    )
    assert recommend(_profile(PUSH), matrix=forbid_sse).protocol == "websocket"


def test_confidence_follows_the_margin() -> None:
    # sse +3 (push-only-stream) against websocket -1 (browser-header-auth, which charges both):
    # margin 3, and a rule reads something for the runner-up too.
    push = recommend(_profile(PUSH + "auth: bearer_header\n"))
    assert (push.protocol, push.margin, push.confidence) == ("sse", 3, "medium")
    call = recommend(
        _profile("media: video\nclients: [browser]\ndelivery: {latency_p99_ms: 300}\n")
    )
    assert call.protocol == "webrtc" and call.confidence == "high" and call.margin is not None
    assert call.margin >= 4
    # Left at the default 1 s budget, the call sits within a factor of 2 of the 2 s from
    # which media counts as played back (buffered-media-playback): one level lower.
    unstated = recommend(_profile("media: video\nclients: [browser]\n"))
    assert (unstated.protocol, unstated.confidence) == ("webrtc", "medium")


def test_hits_explain_every_point_of_every_score() -> None:
    rec = recommend(
        _profile(
            "traffic:\n"
            "  server_to_client: {rate_hz: 5, payload_bytes: 900}\n"
            "  client_to_server: {rate_hz: 12, payload_bytes: 300, needs_ack: true}\n"
            "  encoding: binary\n"
            "clients: [browser, mobile]\n"
            "infrastructure: {restrictive_networks: true, serverless: true}\n"
        )
    )
    for ranked in rec.ranking:
        total = sum(h.delta for h in rec.hits if h.protocol == ranked.protocol)
        assert total == pytest.approx(ranked.score)
        vetoes = [h for h in rec.hits if h.protocol == ranked.protocol and h.effect == "veto"]
        assert bool(vetoes) == ranked.vetoed
    assert all(h.refs and h.reason and h.title for h in rec.hits)
    # Above 10 small messages/s the upstream cost is counted once, by the high-rate rule.
    fired = {h.rule for h in rec.hits}
    assert "high-rate-small-mutations" in fired and "steady-upstream" not in fired
    frequent = next(h for h in rec.hits if h.rule == "high-rate-small-mutations")
    assert "12 mutations/s" in frequent.reason


def test_provenance_names_the_tool_and_the_matrix() -> None:
    rec = recommend(_profile(PUSH))
    assert rec.provenance.tool_version == __version__
    assert len(rec.provenance.matrix_sha256) == 64
    assert rec.provenance.overlays == ()
    assert rec.plan is not None and rec.plan.protocol == rec.protocol


def _companions(rec: Recommendation) -> set[str]:
    return {c.component for c in rec.companions}


def test_companions_fit_the_winner() -> None:
    call = recommend(
        _profile("media: audio_video\nclients: [browser]\ninfrastructure: {udp_allowed: false}\n")
    )
    assert call.protocol == "webrtc"
    assert {"signalling channel", "STUN and TURN servers"} <= _companions(call)
    turn = next(c for c in call.companions if c.component == "STUN and TURN servers")
    assert "443" in turn.reason
    feed = recommend(
        _profile(
            "traffic:\n"
            "  server_to_client: {rate_hz: 1, payload_bytes: 100}\n"
            "  client_to_server: {rate_hz: 0.1, payload_bytes: 400}\n"
            "delivery: {resume: true}\n"
        )
    )
    assert feed.protocol == "sse"
    assert "HTTP POST endpoint for upstream messages" in _companions(feed)
    assert "event ids and a replay buffer" in _companions(feed)
    terminal = recommend(
        _profile(
            "traffic:\n"
            "  server_to_client: {rate_hz: 20, payload_bytes: 100}\n"
            "  client_to_server: {rate_hz: 5, payload_bytes: 100, needs_ack: true}\n"
            "infrastructure: {restrictive_networks: true}\n"
        )
    )
    assert terminal.protocol == "websocket"
    assert "SSE + POST fallback" in _companions(terminal)


def _bandwidth(rec: Recommendation, protocol: str) -> tuple[float, float]:
    b = next(b for b in rec.bandwidth if b.protocol == protocol)
    return b.downstream_bytes_per_s, b.upstream_bytes_per_s


def test_bandwidth_counts_payload_framing_and_connections() -> None:
    body = (
        "traffic:\n"
        "  server_to_client: {rate_hz: 10, payload_bytes: 3000}\n"
        "  client_to_server: {rate_hz: 2, payload_bytes: 100}\n"
        "  encoding: binary\n"
        "scale: {concurrent_connections: CONN, fan_out: 1}\n"
    )
    one = recommend(_profile(body.replace("CONN", "1000")))
    two = recommend(_profile(body.replace("CONN", "2000")))
    raw_down = 1000 * 10 * 3000
    ws_down, ws_up = _bandwidth(one, "websocket")
    sse_down, sse_up = _bandwidth(one, "sse")
    assert raw_down < ws_down < raw_down * 1.02  # a few header bytes per 3000-byte frame
    assert sse_down > raw_down * 4 / 3  # base64 for binary events
    assert sse_up > ws_up * 3  # a POST's headers dwarf a 100-byte message
    assert _bandwidth(two, "websocket")[0] == pytest.approx(2 * ws_down)
    http2 = recommend(
        _profile(body.replace("CONN", "1000") + 'infrastructure: {http_version: "2"}\n')
    )
    assert _bandwidth(http2, "sse")[1] < sse_up  # header compression


def test_bandwidth_counts_the_planned_heartbeat() -> None:
    # 1,000 connections, one 100-byte event a minute: the heartbeat is a visible share.
    body = (
        "traffic:\n  server_to_client: {rate_hz: 0.0167, payload_bytes: 100}\n"
        "scale: {concurrent_connections: 1000}\n"
    )
    quiet = recommend(_profile(body))
    ws = next(b for b in quiet.bandwidth if b.protocol == "websocket")
    sse = next(b for b in quiet.bandwidth if b.protocol == "sse")
    assert quiet.plan is not None
    planned = next(b for b in quiet.bandwidth if b.protocol == quiet.plan.protocol)
    assert planned.heartbeat_interval_s == quiet.plan.heartbeat_interval_s
    # Ping (2 B) + masked Pong (6 B), each in a 22-byte TLS record, every 25 s.
    assert ws.heartbeat_interval_s == 25
    assert ws.heartbeat_bytes_per_connection_per_s == pytest.approx((24 + 28) / 25, abs=0.01)
    assert ws.upstream_bytes_per_s == pytest.approx(1000 * 28 / 25, rel=0.01)  # only Pongs
    # An SSE comment line (3 B + TLS) every 15 s, nothing upstream.
    assert sse.heartbeat_bytes_per_connection_per_s == pytest.approx(25 / 15, abs=0.01)
    assert sse.upstream_bytes_per_s == 0
    # An uncontrollable hop with a short idle timeout forces a faster, costlier heartbeat.
    tight = recommend(
        _profile(
            body + "infrastructure: {timeout_control: none, path: [{kind: other, "
            "idle_timeout_s: 15}]}\n"
        )
    )
    ws_tight = next(b for b in tight.bandwidth if b.protocol == "websocket")
    assert ws_tight.heartbeat_interval_s == 10
    assert ws_tight.downstream_bytes_per_s > ws.downstream_bytes_per_s


def test_overlay_files_are_read_by_load_matrix_and_the_engine_takes_the_result(
    tmp_path: Path,
) -> None:
    overlay = tmp_path / "org.yaml"
    overlay.write_text("overlay_version: 1\ndisable: [push-only-stream]\n", encoding="utf-8")
    second = tmp_path / "team.yaml"
    second.write_text("overlay_version: 1\nweights: {large-fan-out: 2}\n", encoding="utf-8")
    profile = _profile(PUSH)
    by_str = recommend(profile, matrix=load_matrix([str(overlay)]))
    by_list = recommend(profile, matrix=load_matrix([overlay, second]))
    assert by_str.provenance.overlays == (str(overlay),)
    assert by_list.provenance.overlays == (str(overlay), str(second))
    with pytest.raises(MatrixError, match="no rule with id 'push-only-stream'"):
        load_matrix([overlay, overlay])  # already disabled by the first
    assert "push-only-stream" not in {h.rule for h in by_str.hits}
    assert by_str.ranked("sse").score == recommend(profile).ranked("sse").score - 3
    # The engine itself reads no file: a path is refused with the way to read it.
    for path in (str(overlay), overlay, [overlay]):
        with pytest.raises(TypeError, match=r"selector\.load_matrix\(paths\)"):
            recommend(profile, matrix=path)  # type: ignore[arg-type]


# Audio to a recogniser versus audio for a listener (rule audio-to-a-recogniser): the chunk
# sizes below are the ones speech APIs document (20 ms to 1 s of 16 kHz 16-bit PCM).
_SPEECH_UP = {
    "20 ms chunks": "{rate_hz: 50, payload_bytes: 640}",
    "250 ms chunks": "{rate_hz: 4, payload_bytes: 8000}",
    "1 s chunks": "{rate_hz: 1, payload_bytes: 32000}",
}


@pytest.mark.parametrize("chunks", sorted(_SPEECH_UP))
def test_speech_streamed_to_a_recogniser_from_a_browser_goes_over_websocket(chunks: str) -> None:
    rec = recommend(
        _profile(
            "traffic:\n"
            "  server_to_client: {rate_hz: 4, payload_bytes: 400}\n"
            f"  client_to_server: {_SPEECH_UP[chunks]}\n"
            "media: audio\nclients: [browser]\ndelivery: {latency_p99_ms: 500}\n"
        )
    )
    assert rec.protocol == "websocket"
    assert "audio-to-a-recogniser" in {h.rule for h in rec.hits}
    assert "media-to-browser-or-mobile" not in {h.rule for h in rec.hits}


def test_audio_coming_back_to_a_listener_keeps_the_media_rules() -> None:
    # A voice conversation: speech up and synthesised speech back at the same rate.
    rec = recommend(
        _profile(
            "traffic:\n"
            "  server_to_client: {rate_hz: 50, payload_bytes: 640}\n"
            "  client_to_server: {rate_hz: 50, payload_bytes: 640}\n"
            "media: audio\nclients: [browser]\ndelivery: {latency_p99_ms: 300}\n"
        )
    )
    assert rec.protocol == "webrtc"
    assert "audio-to-a-recogniser" not in {h.rule for h in rec.hits}
    assert "media-to-browser-or-mobile" in {h.rule for h in rec.hits}


def test_audio_between_peers_has_a_listener_whatever_its_rate() -> None:
    # Peer-to-peer audio at speech rates with little coming back is still heard by a person:
    # the recogniser rule stands aside and declaring the media only strengthens WebRTC.
    body = (
        "traffic:\n"
        "  server_to_client: {rate_hz: 2, payload_bytes: 100}\n"
        "  client_to_server: {rate_hz: 20, payload_bytes: 800}\n"
        "clients: [browser]\ntopology: peer_to_peer\ndelivery: {latency_p99_ms: 300}\n"
    )
    data_only = recommend(_profile(body))
    with_audio = recommend(_profile(body + "media: audio\n"))
    assert "audio-to-a-recogniser" not in {h.rule for h in with_audio.hits}
    assert "media-needs-rtp" in {h.rule for h in with_audio.hits}
    assert with_audio.ranked("webrtc").score > data_only.ranked("webrtc").score


def test_an_answer_one_rule_decides_alone_is_one_level_less_sure() -> None:
    # sse +3 against websocket 0, margin 3 (medium by the margin); push-only-stream is the only
    # rule that separates them and nothing is read for websocket: one reading of the profile.
    alone = recommend(_profile(PUSH))
    assert (alone.protocol, alone.margin, alone.confidence) == ("sse", 3, "low")
    assert {hit.rule for hit in alone.hits if hit.protocol != "webrtc"} == {"push-only-stream"}
    # A second rule for the winner (resume-built-into-sse, margin 4) keeps it high, and a rule
    # that weighs the runner-up (restrictive-networks, websocket -1) keeps it too.
    resume = recommend(_profile(PUSH + "delivery: {resume: true}\n"))
    assert (resume.margin, resume.confidence) == (4, "high")
    weighed = recommend(_profile(PUSH + "infrastructure: {restrictive_networks: true}\n"))
    assert (weighed.margin, weighed.confidence) == (4, "high")
