"""Table tests: one row per case a rule family must (or must not) fire on."""

from __future__ import annotations

import pytest

from selector.builtin import recommend
from selector.loading import load_profile_text
from selector.profile import Upstream
from selector.rules.conditions import AllOf, Compare, Condition, Not
from selector.rules.loading import load_matrix

#: Version 2, so that rows about client messages sent as requests can say so (a channel left
#: unstated reads small messages as in-band: small-messages-read-in-band).
BASE = "schema_version: 2\nname: case\n"

CASES = [
    # traffic shape: two-way, steady
    (
        "traffic: {server_to_client: {rate_hz: 30, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 30, payload_bytes: 80}}\n",
        "steady-two-way",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 30, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 0.5, payload_bytes: 80}}\n",
        "steady-two-way",
        False,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 30, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 30, payload_bytes: 80}}\n"
        "delivery: {guarantee: best_effort}\n",
        "steady-two-way",
        False,
    ),
    # one message a second each way is steady, not occasional: the two never both fire
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 1, payload_bytes: 80}}\n",
        "steady-two-way",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 1, payload_bytes: 80}}\n",
        "occasional-upstream-over-post",
        False,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 0.99, payload_bytes: 80, channel: separate_requests}}\n",
        "occasional-upstream-over-post",
        True,
    ),
    # resumption is built into SSE where an EventSource reconnects, not in native apps
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}}\n"
        "delivery: {resume: true}\nclients: [browser, server]\n",
        "resume-built-into-sse",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}}\n"
        "delivery: {resume: true}\nclients: [browser, mobile]\n",
        "resume-built-into-sse",
        False,
    ),
    # media: conversed over within an interactive budget, or played back within seconds
    (
        "traffic: {server_to_client: {rate_hz: 25, payload_bytes: 4000}}\n"
        "media: video\ndelivery: {latency_p99_ms: 500}\n",
        "media-to-browser-or-mobile",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 25, payload_bytes: 4000}}\n"
        "media: video\ndelivery: {latency_p99_ms: 2000}\n",
        "media-to-browser-or-mobile",
        False,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 25, payload_bytes: 4000}}\n"
        "media: video\ndelivery: {latency_p99_ms: 2000}\n",
        "media-needs-rtp",
        False,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 25, payload_bytes: 4000}}\n"
        "media: video\ndelivery: {latency_p99_ms: 2000}\n",
        "buffered-media-playback",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 25, payload_bytes: 4000}}\n"
        "media: video\ndelivery: {latency_p99_ms: 1999}\n",
        "buffered-media-playback",
        False,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 25, payload_bytes: 4000}}\n"
        "media: video\ndelivery: {latency_p99_ms: 2000}\n",
        "media-over-sse",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 25, payload_bytes: 4000}}\n"
        "media: audio_video\ntopology: peer_to_peer\ndelivery: {latency_p99_ms: 5000}\n",
        "buffered-media-playback",
        False,
    ),
    # upstream cost, counted once
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 5, payload_bytes: 80}}\n",
        "steady-upstream",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 30, payload_bytes: 80}}\n",
        "steady-upstream",
        False,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 30, payload_bytes: 20000}}\n",
        "steady-upstream",
        True,
    ),
    # a shared high-rate feed steered by rare client messages
    (
        "traffic: {server_to_client: {rate_hz: 50, payload_bytes: 200}, "
        "client_to_server: {rate_hz: 0.01, payload_bytes: 80, channel: separate_requests}}\n"
        "scale: {fan_out: 500}\n",
        "high-rate-feed-with-control",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 50, payload_bytes: 200}, "
        "client_to_server: {rate_hz: 0.01, payload_bytes: 80}}\nscale: {fan_out: 500}\n",
        "occasional-upstream-over-post",
        False,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 50, payload_bytes: 20}, "
        "client_to_server: {rate_hz: 0.01, payload_bytes: 80}}\n",
        "high-rate-feed-with-control",
        False,
    ),  # one receiver: a response stream, not a feed
    # acknowledged commands: interactive only from one every 100 s
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 0.01, payload_bytes: 80, needs_ack: true}}\n",
        "interactive-acked-commands",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 0.005, payload_bytes: 80, needs_ack: true}}\n",
        "interactive-acked-commands",
        False,
    ),
    # serverless: a managed gateway holds the sockets
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}}\n"
        "infrastructure: {serverless: true, path: [{kind: aws_api_gateway}]}\n",
        "managed-websocket-gateway",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}}\n"
        "infrastructure: {serverless: true, path: [{kind: aws_api_gateway}]}\n",
        "serverless-backend",
        False,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}}\n"
        "infrastructure: {serverless: true}\n",
        "serverless-backend",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}}\n"
        "infrastructure: {path: [{kind: aws_api_gateway}]}\n",
        "managed-websocket-gateway",
        False,
    ),
    # HTTP/2 credited once: POSTs on the stream's connection, or the handshake and limit
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 0.05, payload_bytes: 80, channel: separate_requests}}\n"
        "infrastructure: {http_version: '2'}\n",
        "http2-posts-share-the-stream",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 0.05, payload_bytes: 80, channel: separate_requests}}\n"
        "infrastructure: {http_version: '2'}\n",
        "http2-multiplexing",
        False,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}}\n"
        "infrastructure: {http_version: '3'}\n",
        "http2-multiplexing",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}}\n"
        "infrastructure: {http_version: '2'}\n",
        "http2-posts-share-the-stream",
        False,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 0.05, payload_bytes: 80}}\n",
        "http2-posts-share-the-stream",
        False,
    ),  # HTTP/1.1: the POSTs need a connection of their own
    # an interactive acknowledged command is judged once, by interactive-acked-commands (400 B:
    # above the size small-messages-read-in-band reads as in-band)
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 0.5, payload_bytes: 400, needs_ack: true}}\n",
        "occasional-upstream-over-post",
        False,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
        "client_to_server: {rate_hz: 0.5, payload_bytes: 400, needs_ack: true}}\n"
        "delivery: {latency_p99_ms: 3000}\n",
        "occasional-upstream-over-post",
        True,
    ),
    # peer-to-peer data through a server relay
    (
        "traffic: {server_to_client: {rate_hz: 5, payload_bytes: 800}}\n"
        "topology: peer_to_peer\nclients: [server]\n",
        "peer-data-server-relay",
        True,
    ),
    (
        "traffic: {server_to_client: {rate_hz: 5, payload_bytes: 800}}\n",
        "peer-data-server-relay",
        False,
    ),
]


@pytest.mark.parametrize(("profile", "rule", "fires"), CASES)
def test_rule_fires_exactly_where_it_should(profile: str, rule: str, fires: bool) -> None:
    rec = recommend(load_profile_text(BASE + profile))
    assert (rule in {h.rule for h in rec.hits}) is fires


def test_whiteboard_with_cursors_both_ways_is_not_a_zero_score_win() -> None:
    rec = recommend(
        load_profile_text(
            BASE + "traffic: {server_to_client: {rate_hz: 30, payload_bytes: 120}, "
            "client_to_server: {rate_hz: 30, payload_bytes: 120}}\n"
        )
    )
    assert rec.protocol == "websocket"
    assert rec.ranked("websocket").score > 0
    winner_rules = {h.rule for h in rec.hits if h.protocol == "websocket" and h.delta > 0}
    assert "steady-two-way" in winner_rules


def test_restrictive_networks_charge_websocket_and_give_sse_nothing() -> None:
    # One cost, charged once: the fallback WebSocket needs behind inspecting proxies.
    rec = recommend(
        load_profile_text(
            BASE + "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}}\n"
            "infrastructure: {restrictive_networks: true}\n"
        )
    )
    effects = {h.protocol: h.delta for h in rec.hits if h.rule == "restrictive-networks"}
    assert effects == {"websocket": -1, "webrtc": -2}


def test_in_band_control_messages_are_not_posts_sharing_the_stream() -> None:
    rec = recommend(
        load_profile_text(
            "schema_version: 2\nname: case\n"
            "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 80}, "
            "client_to_server: {rate_hz: 0.05, payload_bytes: 80, channel: in_band}}\n"
            "infrastructure: {http_version: '2'}\n"
        )
    )
    fired = {h.rule for h in rec.hits}
    assert "http2-posts-share-the-stream" not in fired
    assert {"in-band-control", "http2-multiplexing"} <= fired


def test_a_feed_steered_in_band_pays_the_steering_cost_once() -> None:
    # The same high-rate shared feed, its rare control messages beside the stream or on it:
    # high-rate-feed-with-control judges the first, in-band-control the second, never both.
    feed = (
        "schema_version: 2\nname: case\n"
        "traffic: {server_to_client: {rate_hz: 50, payload_bytes: 200}, "
        "client_to_server: {rate_hz: 0.01, payload_bytes: 80, channel: %s}}\n"
        "scale: {fan_out: 500}\n"
    )
    beside = recommend(load_profile_text(feed % "separate_requests"))
    on_it = recommend(load_profile_text(feed % "in_band"))
    sse_costs = {
        name: {h.rule: h.delta for h in rec.hits if h.protocol == "sse" and h.delta < 0}
        for name, rec in (("beside", beside), ("on_it", on_it))
    }
    assert sse_costs == {
        "beside": {"high-rate-feed-with-control": -2},
        "on_it": {"in-band-control": -2},
    }


#: A stream with client messages whose channel the file may leave out (a v1 file must).
_UNPLACED = (
    "schema_version: {version}\nname: case\n"
    "traffic: {{server_to_client: {{rate_hz: 2, payload_bytes: 400}}, "
    "client_to_server: {{rate_hz: {rate}, payload_bytes: {size}{extra}}}}}\n"
)


def _fired(version: int = 1, rate: float = 0.05, size: int = 120, extra: str = "") -> set[str]:
    text = _UNPLACED.format(version=version, rate=rate, size=size, extra=extra)
    return {h.rule for h in recommend(load_profile_text(text)).hits}


@pytest.mark.parametrize(
    ("version", "rate", "size", "extra", "read_in_band"),
    [
        (1, 0.05, 120, "", True),  # small and unacknowledged: subscribe-like
        (2, 0.05, 120, "", True),  # a v2 file that leaves the channel out reads the same
        (1, 1, 300, "", True),  # at the size bound, which belongs to the reading
        (1, 0.05, 301, "", False),  # above 300 B: prompts, forms, documents go as requests
        (1, 1.5, 120, "", True),  # any rate, as a stated channel's cost holds at any rate
        (1, 0.05, 120, ", needs_ack: true", True),  # acknowledged too: a subscribe and its reply
        (2, 0.05, 120, ", channel: separate_requests", False),  # stated, even at the default
        (2, 0.05, 120, ", channel: in_band", False),  # stated: in-band-control judges it
    ],
)
def test_small_unplaced_client_messages_read_as_in_band(
    version: int, rate: float, size: int, extra: str, read_in_band: bool
) -> None:
    fired = _fired(version, rate, size, extra)
    assert ("small-messages-read-in-band" in fired) is read_in_band
    if read_in_band:
        # The cost is in-band-control's, read instead of stated: the POST rules stand aside.
        assert not fired & {"in-band-control", "occasional-upstream-over-post"}


def test_a_read_channel_charges_sse_as_a_stated_one_and_credits_nothing() -> None:
    def scores(extra: str) -> dict[str, float]:
        text = _UNPLACED.format(version=2, rate=0.05, size=120, extra=extra)
        return {r.protocol: r.score for r in recommend(load_profile_text(text)).ranking}

    read, in_band, apart = (
        scores(""),
        scores(", channel: in_band"),
        scores(", channel: separate_requests"),
    )
    assert read["sse"] == in_band["sse"] < apart["sse"]
    # A reading weighs less than a statement: WebSocket gains nothing from it.
    assert read["websocket"] == apart["websocket"] < in_band["websocket"]
    assert read["webrtc"] == apart["webrtc"]


def test_no_stream_no_reading() -> None:
    # Upload only: the messages steer nothing, so there is nothing to read them as.
    text = (
        "schema_version: 1\nname: case\n"
        "traffic: {client_to_server: {rate_hz: 0.05, payload_bytes: 120}}\n"
    )
    assert "small-messages-read-in-band" not in {
        h.rule for h in recommend(load_profile_text(text)).hits
    }


def test_stating_the_channel_is_a_tipping_point_where_it_is_read() -> None:
    text = _UNPLACED.format(version=1, rate=0.05, size=120, extra="")
    rec = recommend(load_profile_text(text))
    assert rec.protocol == "websocket"
    (tip,) = [t for t in rec.tipping_points if t.field == "traffic.client_to_server.channel"]
    assert (tip.change, tip.value, tip.protocol, tip.current) == (
        "set",
        "separate_requests",
        "sse",
        "in_band",
    )
    assert tip.description == (
        "switches to sse when traffic.client_to_server.channel is set to separate_requests "
        "(now read as in_band: the profile does not state it)"
    )


def test_the_channel_field_documents_the_reading_the_matrix_makes() -> None:
    # The field's description names the size up to which an unstated channel reads as
    # in-band; it must be the constant the rule compares with, not a copy gone stale.
    def compares(condition: Condition) -> list[Compare]:
        if isinstance(condition, Compare):
            return [condition]
        if isinstance(condition, Not):
            return compares(condition.part)
        assert isinstance(condition, AllOf)
        return [c for part in condition.parts for c in compares(part)]

    rule = load_matrix().by_id["small-messages-read-in-band"]
    (size,) = [
        c for c in compares(rule.condition) if c.fact == "traffic.client_to_server.payload_bytes"
    ]
    assert size.op == "le"
    description = Upstream.model_fields["channel"].description or ""
    assert f"of up to {size.value:g} B" in description
    assert "small-messages-read-in-band" in description
