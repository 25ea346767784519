"""Small builders of valid profiles for the planner tests."""

from __future__ import annotations

from typing import Any

from selector.profile import Profile


def make_profile(
    *hops: dict[str, Any],
    connections: int = 1000,
    accept_rate: float | None = None,
    resume: bool = False,
    clients: tuple[str, ...] = ("browser",),
    down: dict[str, Any] | None = None,
    up: dict[str, Any] | None = None,
    **infrastructure: Any,
) -> Profile:
    """A valid profile whose path is ``hops`` (each a Hop mapping, e.g. {"kind": "nginx"})."""
    traffic: dict[str, Any] = {"server_to_client": down or {"rate_hz": 2.0, "payload_bytes": 400}}
    if up is not None:
        traffic["client_to_server"] = up
    return Profile.model_validate(
        {
            "schema_version": 1,
            "name": "test-profile",
            "traffic": traffic,
            "delivery": {"resume": resume},
            "clients": list(clients),
            "scale": {"concurrent_connections": connections}
            | ({} if accept_rate is None else {"accept_rate_per_s": accept_rate}),
            "infrastructure": {"path": list(hops), **infrastructure},
        }
    )
