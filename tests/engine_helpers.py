"""Shared helpers for the decision-engine tests: a profile strategy and field setters."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from selector.profile import HOP_KINDS, Profile
from selector.rules.facts import FACTS

RATES = st.sampled_from([0.0, 0.002, 0.1, 0.5, 1.0, 1.5, 10.0, 10.5, 30.0, 120.0]) | st.floats(
    0, 200, allow_nan=False
)
PAYLOADS = st.sampled_from([1, 60, 10240, 10241, 16384, 16385, 65536, 65537, 131073]) | st.integers(
    1, 300_000
)
LATENCIES = st.sampled_from([20.0, 100.0, 100.5, 500.0, 1000.0, 1000.5, 5000.0]) | st.floats(
    1, 10_000, allow_nan=False
)


@st.composite
def profile_data(draw: st.DrawFn) -> dict[str, Any]:
    """Valid profile data covering every fact the matrix reads, thresholds included."""
    traffic: dict[str, Any] = {"encoding": draw(st.sampled_from(["text", "binary"]))}
    if draw(st.booleans()):
        traffic["server_to_client"] = {
            "rate_hz": draw(RATES),
            "payload_bytes": draw(PAYLOADS),
            "client_acks": draw(st.booleans()),
        }
    if draw(st.booleans()):
        rate = draw(RATES)
        traffic["client_to_server"] = {
            "rate_hz": rate,
            "payload_bytes": draw(PAYLOADS),
            "needs_ack": rate > 0 and draw(st.booleans()),
            "channel": draw(st.sampled_from(["separate_requests", "in_band"])),
            "sending_share": draw(st.sampled_from([1.0, 0.5, 0.2]) | st.floats(0.001, 1.0)),
        }
        if rate > 0 and traffic.get("server_to_client", {}).get("rate_hz", 0) > 0:
            traffic["server_to_client"]["per_request"] = draw(st.booleans())
    media = draw(st.sampled_from(["none", "none", "audio", "video", "audio_video"]))
    carries = any(
        traffic.get(d, {}).get("rate_hz", 0) > 0 for d in ("server_to_client", "client_to_server")
    )
    if media == "none" and not carries:
        traffic["server_to_client"] = {"rate_hz": 1.0, "payload_bytes": 100}
    connections = draw(st.integers(1, 1_000_000))
    hops = draw(
        st.lists(
            st.fixed_dictionaries(
                {"kind": st.sampled_from(HOP_KINDS)},
                optional={"controllable": st.booleans(), "buffers_streams": st.booleans()},
            ),
            max_size=3,
        )
    )
    infrastructure: dict[str, Any] = {
        "path": hops,
        "timeout_control": draw(st.sampled_from(["full", "partial", "none"])),
        "http_version": draw(st.sampled_from(["1.1", "2", "3"])),
        "udp_allowed": draw(st.booleans()),
        "serverless": draw(st.booleans()),
        "restrictive_networks": draw(st.booleans()),
    }
    hosting = draw(
        st.sampled_from(
            [None, "long_lived_servers", "serverless_no_socket", "managed_socket_service"]
        )
    )
    if hosting is not None:
        infrastructure["hosting"] = hosting
    if hosting == "managed_socket_service" and draw(st.booleans()):
        infrastructure["managed_protocols"] = draw(
            st.lists(st.sampled_from(["websocket", "sse"]), min_size=1, max_size=2, unique=True)
        )
    return {
        "schema_version": draw(st.sampled_from([1, 2])),
        "name": "generated",
        "traffic": traffic,
        "delivery": {
            "guarantee": draw(
                st.sampled_from(["reliable_ordered", "reliable_unordered", "best_effort"])
            ),
            "latency_p99_ms": draw(LATENCIES),
            "resume": draw(st.booleans()),
        },
        "media": media,
        "topology": draw(st.sampled_from(["client_server", "peer_to_peer"])),
        "clients": draw(
            st.lists(
                st.sampled_from(["browser", "mobile", "server", "device"]),
                min_size=1,
                max_size=3,
                unique=True,
            )
        ),
        "auth": draw(st.sampled_from(["none", "cookie", "bearer_header", "query_token"])),
        "scale": {
            "concurrent_connections": connections,
            "fan_out": draw(st.integers(1, min(connections, 5000))),
            "streams_per_client": draw(st.sampled_from([1, 2, 5, 6, 8])),
        },
        "infrastructure": infrastructure,
    }


profiles = profile_data().map(Profile.model_validate)


def with_field(profile: Profile, field: str, value: Any) -> Profile:
    """``profile`` with one fact-named field set, validated. A missing traffic direction is
    created with 1-byte messages; ``clients`` takes the whole list."""
    # Only what the profile states: a field left to its default stays unstated (the engine
    # reads an unstated channel from the messages).
    data = copy.deepcopy(profile.model_dump(mode="json", exclude_unset=True))
    *parents, last = field.split(".")
    node = data
    for part in parents:
        if node.get(part) is None:
            node[part] = {"payload_bytes": 1} if part.endswith(("_to_client", "_to_server")) else {}
        node = node[part]
    node[last] = value
    return Profile.model_validate(data)


def fact_is_integer(field: str) -> bool:
    return FACTS[field].integer
