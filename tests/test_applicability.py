"""Applicability: a rule never fires on a profile that lacks one of its ``applies_to`` subjects.

The subjects are re-stated here against the profile model itself (not the engine's facts), so
the property checks the engine's gating against the meaning of each subject.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings

from selector.builtin import recommend
from selector.errors import MatrixError
from selector.loading import load_profile_text
from selector.profile import Profile
from selector.rules.facts import FACTS
from selector.rules.loading import compile_matrix_text, default_matrix, load_overlay_text
from selector.rules.subjects import SUBJECTS
from tests.engine_helpers import profiles


def _down(p: Profile) -> bool:
    return p.traffic.server_to_client is not None and p.traffic.server_to_client.rate_hz > 0


def _up(p: Profile) -> bool:
    return p.traffic.client_to_server is not None and p.traffic.client_to_server.rate_hz > 0


def _audio_to_a_recogniser(p: Profile) -> bool:
    up, down = p.traffic.client_to_server, p.traffic.server_to_client
    up_rate = up.rate_hz if up else 0.0
    up_bytes = up_rate * up.payload_bytes if up else 0.0
    down_bytes = down.rate_hz * down.payload_bytes if down else 0.0
    return (
        p.media == "audio"
        and p.topology != "peer_to_peer"
        and up_rate >= 1
        and up_bytes >= 16000
        and down_bytes < 16000
    )


PRESENT: dict[str, Callable[[Profile], bool]] = {
    "connections": lambda p: True,
    "server_to_client": _down,
    "client_to_server": _up,
    "acked_commands": lambda p: _up(p) and bool(p.traffic.client_to_server.needs_ack),  # type: ignore[union-attr]
    "browser_clients": lambda p: "browser" in p.clients,
    "mobile_clients": lambda p: "mobile" in p.clients,
    "app_clients": lambda p: "browser" in p.clients or "mobile" in p.clients,
    "server_clients_only": lambda p: set(p.clients) == {"server"},
    "media": lambda p: p.media != "none",
    "media_to_a_listener": lambda p: p.media != "none" and not _audio_to_a_recogniser(p),
    "audio_to_a_recogniser": _audio_to_a_recogniser,
    "data_only": lambda p: p.media == "none",
    "peer_to_peer": lambda p: p.topology == "peer_to_peer",
    "hops": lambda p: bool(p.infrastructure.path),
    "buffering_hop": lambda p: any(hop.buffers_streams for hop in p.infrastructure.path),
    "serverless_backend": lambda p: (
        p.infrastructure.hosting in ("serverless_no_socket", "managed_socket_service")
        or (p.infrastructure.hosting is None and p.infrastructure.serverless)
    ),
    "in_band_control": lambda p: (
        _up(p) and p.traffic.client_to_server.channel == "in_band"  # type: ignore[union-attr]
    ),
    "request_streams": lambda p: (
        _down(p) and p.traffic.server_to_client.per_request  # type: ignore[union-attr]
    ),
    "client_acked_events": lambda p: (
        _down(p) and p.traffic.server_to_client.client_acks  # type: ignore[union-attr]
    ),
    "device_clients": lambda p: "device" in p.clients,
    "restrictive_network": lambda p: p.infrastructure.restrictive_networks,
    "udp_blocked": lambda p: not p.infrastructure.udp_allowed,
    "best_effort_delivery": lambda p: p.delivery.guarantee == "best_effort",
}


def test_every_subject_is_restated_here() -> None:
    assert set(PRESENT) == set(SUBJECTS)


def test_every_default_rule_declares_its_subjects() -> None:
    missing = [r.id for r in default_matrix().rules if not r.applies_to]
    assert not missing, f"rules without applies_to: {missing}"


@settings(max_examples=300, deadline=None)
@given(profiles)
def test_no_rule_fires_without_its_subject(profile: Profile) -> None:
    fired = {h.rule for h in recommend(profile).hits}
    for rule in default_matrix().rules:
        absent = [s for s in rule.applies_to if not PRESENT[s](profile)]
        if absent:
            assert rule.id not in fired, f"{rule.id} fired without {absent}"


def _fired(text: str) -> set[str]:
    profile = load_profile_text("schema_version: 1\nname: case\n" + text)
    return {h.rule for h in recommend(profile).hits}


@pytest.mark.parametrize(
    ("profile", "absent_rule"),
    [
        # An upload-only fleet has no stream to resume.
        (
            "traffic: {client_to_server: {rate_hz: 0.1, payload_bytes: 500}}\n"
            "delivery: {resume: true}\nclients: [server]\n",
            "resume-built-into-sse",
        ),
        # With nothing streamed to clients, there is no SSE stream to multiplex.
        (
            "traffic: {client_to_server: {rate_hz: 5, payload_bytes: 200}}\n"
            "clients: [server]\ninfrastructure: {http_version: '2'}\n",
            "http2-multiplexing",
        ),
        # A control message every few minutes is not an interactive command stream.
        (
            "traffic:\n  server_to_client: {rate_hz: 5, payload_bytes: 200}\n"
            "  client_to_server: {rate_hz: 0.005, payload_bytes: 100, needs_ack: true}\n",
            "interactive-acked-commands",
        ),
        # A position every 5 s: TCP resends a lost one after its retransmission timeout (at
        # least 1 s, RFC 6298 section 2.4), before the next update, so dropping it gains nothing.
        (
            "traffic: {server_to_client: {rate_hz: 0.2, payload_bytes: 200}}\n"
            "delivery: {guarantee: best_effort}\nclients: [browser, mobile]\n",
            "best-effort-delivery",
        ),
        # Updates 5 times a second within a 1 s budget: TCP repairs a loss in time (a tail-loss
        # probe after about two round trips, RFC 8985), so dropping it gains nothing.
        (
            "traffic: {server_to_client: {rate_hz: 5, payload_bytes: 500}}\n"
            "delivery: {guarantee: best_effort, latency_p99_ms: 1000}\nclients: [server]\n",
            "best-effort-delivery",
        ),
        # Mobile apps that only send have no stream for an SSE client to read.
        (
            "traffic: {client_to_server: {rate_hz: 1, payload_bytes: 300}}\nclients: [mobile]\n",
            "mobile-native-websocket",
        ),
        # A media-only call carries no server-to-client messages either.
        ("media: audio\nclients: [mobile]\n", "mobile-native-websocket"),
    ],
)
def test_named_faults_stay_fixed(profile: str, absent_rule: str) -> None:
    assert absent_rule not in _fired(profile)


@pytest.mark.parametrize(
    ("profile", "rule"),
    [
        (
            "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 200}}\n"
            "delivery: {guarantee: best_effort, latency_p99_ms: 500}\n",
            "best-effort-delivery",
        ),
        (
            "traffic: {client_to_server: {rate_hz: 30, payload_bytes: 60}}\n"
            "delivery: {guarantee: best_effort, latency_p99_ms: 999}\n",
            "best-effort-delivery",
        ),
        (
            "traffic: {server_to_client: {rate_hz: 0.1, payload_bytes: 300}}\nclients: [mobile]\n",
            "mobile-native-websocket",
        ),
    ],
)
def test_fixed_rules_still_fire_where_their_subject_is(profile: str, rule: str) -> None:
    assert rule in _fired(profile)


# Client messages at exactly one a second, a rate profiles often state: steady-upstream starts
# above it, so occasional-upstream-over-post reads it, unless steady-two-way reads the traffic
# as steady both ways (then only that one does: the two never describe the same rate).
@pytest.mark.parametrize(
    ("down_rate", "guarantee", "expected"),
    [
        (0.5, "reliable_ordered", "occasional-upstream-over-post"),
        (2, "best_effort", "occasional-upstream-over-post"),
        (2, "reliable_ordered", "steady-two-way"),
    ],
)
def test_one_client_message_a_second_is_read_by_exactly_one_rate_rule(
    down_rate: float, guarantee: str, expected: str
) -> None:
    fired = _fired(
        f"traffic:\n  server_to_client: {{rate_hz: {down_rate}, payload_bytes: 500}}\n"
        # 400 B: above the size an unstated channel is read as in-band up to, so the POST
        # rules are the ones to read these messages.
        "  client_to_server: {rate_hz: 1, payload_bytes: 400}\n"
        f"delivery: {{guarantee: {guarantee}, latency_p99_ms: 2000}}\n"
    )
    rate_rules = {"occasional-upstream-over-post", "steady-two-way", "steady-upstream"}
    assert fired & rate_rules == {expected}


@pytest.mark.parametrize("kind", sorted(FACTS["infrastructure.hop_kinds"].choices))
def test_a_buffering_hop_of_any_kind_holds_sse_back(kind: str) -> None:
    # hop-buffers-streams lists the hop kinds in its condition: a kind added to the profile
    # model and missed there would let SSE through a buffering hop of that kind.
    on_path = f"infrastructure: {{path: [{{kind: {kind}, buffers_streams: true}}]}}\n"
    assert "hop-buffers-streams" in _fired(
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 200}}\n" + on_path
    )
    assert "hop-buffers-streams" not in _fired(
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 200}}\n"
        + on_path.replace(", buffers_streams: true", "")
    )


def test_upload_only_fleet_gets_no_point_for_sse() -> None:
    profile = load_profile_text(
        "schema_version: 1\nname: fleet\n"
        "traffic: {client_to_server: {rate_hz: 0.1, payload_bytes: 500}}\n"
        "delivery: {resume: true}\nclients: [server]\n"
    )
    rec = recommend(profile)
    assert not [h for h in rec.hits if h.protocol == "sse" and h.delta > 0]


_RULE = """
  - id: {id}
    title: A rule
    {extra}when: {{fact: media, eq: none}}
    effects: {{websocket: 1}}
    rationale: because
    refs: [https://example.org]
"""


def test_unknown_subject_and_experiment_are_refused_at_load() -> None:
    text = "matrix_version: 1\nrules:" + _RULE.format(
        id="x", extra="applies_to: [server_to_clent]\n    evidence: wire-byte\n    "
    )
    with pytest.raises(MatrixError) as exc:
        compile_matrix_text(text, "m.yaml")
    message = str(exc.value)
    assert "m.yaml:5:18: rules[0].applies_to[0]: 'server_to_clent' is not one of" in message
    assert "rules[0].evidence: 'wire-byte' is not one of" in message


def test_overlay_rule_without_subjects_applies_to_every_profile() -> None:
    overlay = load_overlay_text("overlay_version: 1\nrules:" + _RULE.format(id="org", extra=""))
    (rule,) = [r for r in overlay.rules if r.id == "org"]
    assert rule.applies_to == ()
    profile = load_profile_text(
        "schema_version: 1\nname: p\ntraffic: {server_to_client: {rate_hz: 1, payload_bytes: 9}}\n"
    )
    assert "org" in {h.rule for h in recommend(profile, matrix=overlay).hits}
