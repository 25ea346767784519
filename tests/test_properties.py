"""Properties of the scoring engine over generated profiles (hypothesis)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from selector.builtin import recommend
from selector.engine.recommendation import Recommendation
from selector.profile import Profile
from selector.rules.facts import (
    derive_buffering,
    derive_uncontrollable,
    format_fact,
    profile_facts,
)
from selector.rules.loading import compile_matrix_text, default_matrix, load_overlay_text
from selector.rules.measures import measure_text
from selector.rules.model import parse_template
from tests.engine_helpers import RATES, profiles, with_field

SETTINGS = settings(max_examples=120, deadline=None)


def _without_provenance(rec: Recommendation) -> dict[str, Any]:
    data = rec.model_dump(mode="json")
    del data["provenance"]
    return data


def _margin(rec: Recommendation, a: str, b: str) -> float:
    return rec.ranked(a).score - rec.ranked(b).score


@SETTINGS
@given(profiles)
def test_deterministic(profile: Profile) -> None:
    first = recommend(profile)
    assert first.model_dump() == recommend(profile).model_dump()
    text = resources.files("selector.rules").joinpath("matrix.yaml").read_text(encoding="utf-8")
    rebuilt = compile_matrix_text(text)
    assert _without_provenance(recommend(profile, matrix=rebuilt)) == _without_provenance(first)


@SETTINGS
@given(profiles, st.randoms(use_true_random=False))
def test_independent_of_rule_order(profile: Profile, random: Any) -> None:
    matrix = default_matrix()
    order = list(range(len(matrix.rules)))
    random.shuffle(order)
    shuffled = recommend(profile, matrix=matrix.reordered(order))
    assert shuffled.model_dump() == recommend(profile).model_dump()


_FORBIDS = [
    load_overlay_text(f"overlay_version: 1\nforbid: {{{p}: org policy}}\n", f"forbid-{p}.yaml")
    for p in ("websocket", "sse", "webrtc")
]


@SETTINGS
@given(profiles, st.sampled_from([None, *_FORBIDS]))
def test_a_vetoed_protocol_never_wins(profile: Profile, matrix: Any) -> None:
    rec = recommend(profile, matrix=matrix)
    viable = [r for r in rec.ranking if not r.vetoed]
    if rec.protocol is None:
        assert not viable
        assert rec.confidence == "none"
    else:
        assert not rec.ranked(rec.protocol).vetoed
        assert rec.ranking[0].protocol == rec.protocol
        assert rec.ranked(rec.protocol).score == max(r.score for r in viable)
    for ranked in rec.ranking:
        assert ranked.vetoed == bool(ranked.veto_reasons)


@SETTINGS
@given(profiles, RATES, RATES)
def test_raising_upstream_rate_never_favours_sse_over_websocket(
    profile: Profile, a: float, b: float
) -> None:
    low, high = sorted((a, b))
    up = profile.traffic.client_to_server
    if up is not None and up.needs_ack and low == 0:
        low = min(high, 0.001) or 0.001
        high = max(high, low)
    try:
        slow = with_field(profile, "traffic.client_to_server.rate_hz", low)
        fast = with_field(profile, "traffic.client_to_server.rate_hz", high)
    except ValueError:
        return  # rate 0 with no other traffic: not a valid profile
    before = _margin(recommend(slow), "sse", "websocket")
    after = _margin(recommend(fast), "sse", "websocket")
    assert after <= before


@SETTINGS
@given(profiles, st.sampled_from(["audio", "video", "audio_video"]))
def test_adding_media_never_lowers_webrtc(profile: Profile, media: str) -> None:
    if profile.media != "none":
        profile = with_field(profile, "media", "none") if _has_traffic(profile) else profile
    if profile.media != "none":
        return
    without = recommend(profile).ranked("webrtc").score
    with_media = recommend(with_field(profile, "media", media)).ranked("webrtc").score
    assert with_media >= without


def _has_traffic(profile: Profile) -> bool:
    t = profile.traffic
    return any(d is not None and d.rate_hz > 0 for d in (t.server_to_client, t.client_to_server))


def _profile_value(profile: Profile, name: str) -> Any:
    """A placeholder's value read straight from the profile model (not from the facts)."""
    infra = profile.infrastructure
    if name == "infrastructure.hop_kinds":
        return frozenset(h.kind for h in infra.path)
    if name == "infrastructure.hosting":
        return infra.effective_hosting  # derived from `serverless` when not given
    if name == "infrastructure.uncontrollable_hop_kinds":
        return frozenset(h.kind for h in infra.path if not infra.hop_controllable(h))
    if name == "infrastructure.buffering_hop_kinds":
        return frozenset(h.kind for h in infra.path if h.buffers_streams)
    node: Any = profile
    for part in name.split("."):
        node = getattr(node, part)
        assert node is not None, f"{name} quotes a field the profile does not have"
    return node


@SETTINGS
@given(profiles)
def test_uncontrollable_hops_under_another_setting_or_path_are_those_of_that_profile(
    profile: Profile,
) -> None:
    """derive_uncontrollable() works on the infrastructure as it is: the same kinds as on a
    copy with the other ``timeout_control``, or with the hops of one kind taken off."""
    infra = profile.infrastructure
    for control in ("full", "partial", "none"):
        changed = infra.model_copy(update={"timeout_control": control})
        expected = frozenset(h.kind for h in changed.path if not changed.hop_controllable(h))
        assert derive_uncontrollable(infra, control) == expected
    for kind in {h.kind for h in infra.path}:
        kept = infra.model_copy(update={"path": tuple(h for h in infra.path if h.kind != kind)})
        expected = frozenset(h.kind for h in kept.path if not kept.hop_controllable(h))
        assert derive_uncontrollable(infra, infra.timeout_control, without=kind) == expected


@SETTINGS
@given(profiles)
def test_buffering_hops_with_a_kind_taken_off_are_those_of_that_path(profile: Profile) -> None:
    """derive_buffering() on the infrastructure as it is, against a copy with the hops of one
    kind taken off (what tipping-point search asks when it takes a hop off the path)."""
    infra = profile.infrastructure
    assert derive_buffering(infra) == frozenset(h.kind for h in infra.path if h.buffers_streams)
    for kind in {h.kind for h in infra.path}:
        kept = tuple(h for h in infra.path if h.kind != kind)
        expected = frozenset(h.kind for h in kept if h.buffers_streams)
        assert derive_buffering(infra, without=kind) == expected


@SETTINGS
@given(profiles)
def test_reasons_quote_values_that_are_in_the_profile(profile: Profile) -> None:
    matrix = default_matrix()
    for hit in recommend(profile).hits:
        rule = matrix.by_id[hit.rule]
        for literal, name in parse_template(rule.rationale):
            assert literal in hit.reason
            if name is not None and name.startswith("measure."):
                # A measure quotes its derivation, computed from the profile's facts.
                assert measure_text(name, profile_facts(profile)) in hit.reason, (rule.id, name)
            elif name is not None:
                assert format_fact(_profile_value(profile, name)) in hit.reason, (rule.id, name)


@SETTINGS
@given(profiles)
def test_every_rendering_works_and_json_round_trips(profile: Profile) -> None:
    from selector.render.jsonfmt import render_json
    from selector.render.markdown import render_markdown
    from selector.render.table import render_table

    rec = recommend(profile)
    assert rec.profile in render_table(rec)
    assert rec.profile in render_markdown([rec])
    assert Recommendation.model_validate_json(render_json([rec], as_list=False)) == rec
