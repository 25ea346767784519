"""Tipping points are checked from the outside: apply each one to the profile, validate it
with pydantic and run the full ``recommend()`` again (not the incremental re-scorer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from selector.builtin import recommend
from selector.engine import tipping
from selector.engine.recommendation import TippingPoint
from selector.loading import load_profile, load_profile_text
from selector.profile import Profile
from tests.engine_helpers import fact_is_integer, profiles, with_field

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.yaml"))


def _apply(profile: Profile, tip: TippingPoint, *, near: bool = False) -> Profile:
    """The profile at the tipping point, or (``near``) just on the profile's side of it."""
    field, change, value = tip.field, tip.change, tip.value
    if field == "infrastructure.path":
        assert change == "remove"
        hops = [h.model_dump() for h in profile.infrastructure.path if near or h.kind != value]
        return with_field(profile, field, hops)
    if change in ("add", "remove"):
        current = {
            "clients": profile.clients,
            "infrastructure.managed_protocols": (
                profile.infrastructure.effective_managed_protocols
            ),
        }[field]
        members = [c for c in current if c != value]
        if change == "add" and not near:
            members.append(str(value))
        if change == "remove" and near:
            members.append(str(value))
        return with_field(profile, field, members)
    if field == "infrastructure.hosting" and value != "managed_socket_service" and not near:
        # managed_protocols describes a managed service: a profile without one drops it.
        # Only what the profile states, as with_field keeps it: a channel dumped at its default
        # would become a stated one (the engine reads an unstated channel from the messages).
        data = profile.model_dump(mode="json", exclude_unset=True)
        data.get("infrastructure", {}).pop("managed_protocols", None)
        profile = Profile.model_validate(data)
    if change == "set":
        return with_field(profile, field, tip.current if near else value)
    assert isinstance(value, int | float)
    step = 1 if fact_is_integer(field) else max(abs(value) * 1e-6, 1e-6)
    if change == "above":
        target = value if near else value + step
    elif change == "below":
        target = value if near else value - step
    elif change in ("at_or_above", "at"):
        target = value - step if near else value
    else:  # at_or_below
        target = value + step if near else value
    typed: int | float = int(target) if fact_is_integer(field) else float(target)
    return with_field(profile, field, typed)


def _check(profile: Profile) -> None:
    rec = recommend(profile)
    seen = set()
    for tip in rec.tipping_points:
        changed = _apply(profile, tip)  # validates: a tipping point names a valid profile
        assert recommend(changed).protocol == tip.protocol, tip.description
        key = (tip.field, tip.change in ("above", "at_or_above", "at"), str(tip.value))
        assert key not in seen
        seen.add(key)
        if tip.change in ("above", "below", "at_or_above", "at_or_below"):
            try:
                near = _apply(profile, tip, near=True)
            except ValueError:
                continue  # the near side is outside the field's valid range
            # Nearest: between the profile's value and the tipping point nothing changes.
            assert recommend(near).protocol == rec.protocol, f"not nearest: {tip.description}"


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_corpus_tipping_points_flip_the_winner_where_they_say(path: Path) -> None:
    _check(load_profile(path))


@settings(max_examples=150, deadline=None)
@given(profiles)
def test_tipping_points_are_exact_for_any_profile(profile: Profile) -> None:
    _check(profile)


def test_upstream_rate_tipping_point_matches_the_threshold_rules() -> None:
    profile = load_profile_text(
        """
schema_version: 2
name: feed
traffic:
  server_to_client: {rate_hz: 2, payload_bytes: 300}
  client_to_server: {rate_hz: 0.5, payload_bytes: 200, channel: separate_requests}
clients: [browser]
"""
    )
    rec = recommend(profile)
    assert rec.protocol == "sse"
    (tip,) = [t for t in rec.tipping_points if t.field == "traffic.client_to_server.rate_hz"]
    # 0.5/s: sse +1 (occasional POST). From 1/s on, messages flow steadily both ways
    # (websocket +2, steady-two-way), so websocket overtakes sse at exactly 1/s.
    assert (tip.change, tip.value, tip.protocol) == ("at_or_above", 1, "websocket")
    assert tip.description == (
        "switches to websocket when traffic.client_to_server.rate_hz reaches 1 (now 0.5)"
    )


def test_removing_a_hop_that_vetoes_is_a_tipping_point() -> None:
    profile = load_profile_text(
        """
schema_version: 1
name: feed
traffic:
  server_to_client: {rate_hz: 1, payload_bytes: 300}
infrastructure: {path: [{kind: azure_front_door}, {kind: nginx}]}
"""
    )
    rec = recommend(profile)
    assert rec.protocol == "websocket"
    (tip,) = [t for t in rec.tipping_points if t.field == "infrastructure.path"]
    assert (tip.change, tip.value, tip.protocol) == ("remove", "azure_front_door", "sse")
    assert tip.description == "switches to sse when infrastructure.path drops azure_front_door"


def test_no_tipping_points_when_nothing_single_can_flip() -> None:
    profile = load_profile_text(
        """
schema_version: 1
name: p2p-call
media: audio_video
topology: peer_to_peer
clients: [browser]
"""
    )
    rec = recommend(profile)
    assert rec.protocol == "webrtc"
    # Only leaving peer-to-peer or dropping browser clients can lift the vetoes on the others.
    assert {t.field for t in rec.tipping_points} <= {"topology", "clients", "media"}


@settings(max_examples=150, deadline=None)
@given(profiles)
def test_pruning_never_hides_a_tipping_point(profile: Profile) -> None:
    """The search skips facts whose rules cannot change the winner; without that shortcut
    it must find exactly the same tipping points."""
    pruned = recommend(profile).tipping_points
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tipping._Rescorer, "can_flip", lambda self, base, names: True)
        exhaustive = recommend(profile).tipping_points
    assert pruned == exhaustive
