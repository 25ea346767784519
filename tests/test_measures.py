"""Measures: derived quantities quoted in rationales with their derivation."""

from __future__ import annotations

import pytest

from selector.loading import load_profile_text
from selector.rules.facts import profile_facts
from selector.rules.measures import (
    BROWSER_CONNECTIONS_PER_ORIGIN,
    MEASURES,
    POST_HEADERS_H1_BYTES,
    POST_HEADERS_H2_BYTES,
    RECONNECT_SPREAD_S,
    measure_text,
)


def _facts(extra: str) -> dict[str, object]:
    profile = load_profile_text(
        "schema_version: 1\nname: m\n"
        "traffic:\n  server_to_client: {rate_hz: 4, payload_bytes: 500}\n"
        "  client_to_server: {rate_hz: 12, payload_bytes: 300}\n" + extra
    )
    return profile_facts(profile)


@pytest.mark.parametrize(
    ("version", "headers"), [("1.1", POST_HEADERS_H1_BYTES), ("2", POST_HEADERS_H2_BYTES)]
)
def test_post_overhead_ratio_is_headers_over_payload(version: str, headers: int) -> None:
    facts = _facts(f"infrastructure: {{http_version: '{version}'}}\n")
    value, text = MEASURES["measure.post_overhead_ratio"].compute(facts)
    assert value == pytest.approx(headers / 300)
    assert f"POST headers ~{headers} B over HTTP/{version} for a 300 B payload at 12/s" in text
    assert f"{headers / 300:.1f}x the payload" in text


def test_requests_and_fan_out_scale_with_connections() -> None:
    facts = _facts("scale: {concurrent_connections: 5000}\n")
    requests, text = MEASURES["measure.post_requests_per_s"].compute(facts)
    assert requests == 60_000 and "= 60,000 HTTP requests/s" in text
    fan_out, text = MEASURES["measure.fan_out_bytes_per_s"].compute(facts)
    assert fan_out == 4 * 500 * 5000 and "= 10 MB/s" in text
    reconnects, _ = MEASURES["measure.reconnects_per_s"].compute(facts)
    assert reconnects == pytest.approx(5000 / RECONNECT_SPREAD_S)


@pytest.mark.parametrize(("streams", "left"), [(1, 5), (4, 2), (6, 0), (9, 0)])
def test_origin_connections_held_counts_what_the_streams_leave(streams: int, left: int) -> None:
    facts = _facts(f"scale: {{streams_per_client: {streams}}}\n")
    held, text = MEASURES["measure.origin_connections_held"].compute(facts)
    assert held == streams
    assert f"{streams} streams hold {streams} of the {BROWSER_CONNECTIONS_PER_ORIGIN}" in text
    assert f"leaving {left} for page loads" in text


def test_rationale_prints_the_derivation() -> None:
    from selector.builtin import recommend

    profile = load_profile_text(
        "schema_version: 1\nname: m\n"
        "traffic:\n  server_to_client: {rate_hz: 4, payload_bytes: 500}\n"
        "  client_to_server: {rate_hz: 12, payload_bytes: 300}\n"
    )
    (hit,) = [h for h in recommend(profile).hits if h.rule == "high-rate-small-mutations"]
    assert measure_text("measure.post_overhead_ratio", profile_facts(profile)) in hit.reason
    assert "1.4x the payload" in hit.reason
