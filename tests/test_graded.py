"""Measures in rule conditions and graded effect sizes: the forms, their load-time errors,
their bounds, and tipping points that name the profile fields a measure is computed from."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selector.builtin import recommend
from selector.cli import main
from selector.errors import MatrixError
from selector.loading import load_profile_text
from selector.profile import Profile
from selector.rules.facts import profile_facts
from selector.rules.loading import compile_matrix_text, default_matrix, load_overlay_text
from selector.rules.measures import MEASURES
from selector.rules.model import Grade, Matrix
from tests.engine_helpers import profiles
from tests.test_tipping import _apply

BASE = """\
matrix_version: 1
rules:
  - id: always-sse
    title: A constant to beat
    when: {all: []}
    effects: {sse: 1}
    rationale: Baseline.
    refs: [https://example.com/a]
"""

REQUESTS_RULE = """\
  - id: many-posts
    title: Many POSTs
    when: {measure: measure.post_requests_per_s, ge: 1000}
    effects: {websocket: 2}
    rationale: "{measure.post_requests_per_s}"
    refs: [https://example.com/b]
"""

GRADED_RULE = """\
  - id: graded-posts
    title: POST cost graded by load
    applies_to: [client_to_server]
    when: {fact: traffic.client_to_server.rate_hz, gt: 0}
    effects:
      sse:
        measure: measure.post_requests_per_s
        bands: [{delta: -1}, {from: 1000, delta: -2}, {from: 100000, delta: -3}]
      webrtc: -1
    rationale: "{measure.post_requests_per_s}"
    refs: [https://example.com/c]
"""


def _profile(rate: float, connections: int, payload: int = 300, version: str = "1.1") -> Profile:
    return load_profile_text(
        "schema_version: 1\nname: m\n"
        "traffic:\n  server_to_client: {rate_hz: 4, payload_bytes: 500}\n"
        f"  client_to_server: {{rate_hz: {rate}, payload_bytes: {payload}}}\n"
        f"scale: {{concurrent_connections: {connections}, fan_out: 1}}\n"
        f"infrastructure: {{http_version: '{version}'}}\n"
    )


def _fired(matrix: Matrix, profile: Profile) -> set[str]:
    return {h.rule for h in recommend(profile, matrix=matrix).hits}


# --- the condition form -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "constant", "rate", "connections", "fires"),
    [
        ("ge", 1000, 10, 100, True),  # exactly 1,000 requests/s
        ("ge", 1000, 9.99, 100, False),
        ("gt", 1000, 10, 100, False),
        ("gt", 1000, 10, 101, True),
        ("lt", 1000, 9, 100, True),
        ("le", 1000, 10, 100, True),
        ("le", 1000, 10, 101, False),
    ],
)
def test_measure_condition_compares_the_measure_with_its_constant(
    operator: str, constant: float, rate: float, connections: int, fires: bool
) -> None:
    rule = REQUESTS_RULE.replace("ge: 1000", f"{operator}: {constant}")
    matrix = compile_matrix_text(BASE + rule)
    assert ("many-posts" in _fired(matrix, _profile(rate, connections))) is fires


def test_overhead_ratio_condition_reads_the_http_version() -> None:
    rule = REQUESTS_RULE.replace(
        "{measure: measure.post_requests_per_s, ge: 1000}",
        "{measure: measure.post_overhead_ratio, gt: 1}",
    )
    matrix = compile_matrix_text(BASE + rule)
    # ~420 B of HTTP/1.1 headers outweigh a 300 B payload; ~60 B of HTTP/2 ones do not.
    assert "many-posts" in _fired(matrix, _profile(12, 10, version="1.1"))
    assert "many-posts" not in _fired(matrix, _profile(12, 10, version="2"))


# --- the graded effect form -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "connections", "delta", "band"),
    [
        (1, 999, -1, "below 1,000 requests/s"),
        (1, 1000, -2, "1,000 to 100,000 requests/s"),
        (10, 9999, -2, "1,000 to 100,000 requests/s"),
        (10, 10000, -3, "from 100,000 requests/s"),
        (200, 1_000_000, -3, "from 100,000 requests/s"),
    ],
)
def test_graded_effect_takes_the_delta_of_the_band_the_measure_falls_in(
    rate: float, connections: int, delta: float, band: str
) -> None:
    matrix = compile_matrix_text(BASE + GRADED_RULE)
    rec = recommend(_profile(rate, connections), matrix=matrix)
    (sse,) = [h for h in rec.hits if h.rule == "graded-posts" and h.protocol == "sse"]
    (webrtc,) = [h for h in rec.hits if h.rule == "graded-posts" and h.protocol == "webrtc"]
    assert sse.delta == delta and rec.ranked("sse").score == 1 + delta
    assert webrtc.delta == -1 and webrtc.grade is None  # a constant beside a graded effect
    assert sse.grade is not None and f"band {band} gives {delta:+g}" in sse.grade
    # The derivation is printed: the rationale quotes the measure, then the band.
    requests = f"{rate * connections:,.0f}".replace(".0", "")
    assert f"= {requests} HTTP requests/s" in sse.reason and sse.reason.endswith(sse.grade)


def test_overlay_weight_scales_every_band() -> None:
    overlay = "overlay_version: 1\nweights: {steady-upstream: 0.5}\nrules:\n" + GRADED_RULE.replace(
        "applies_to: [client_to_server]\n    ", ""
    ).replace("\n      webrtc: -1", "")
    matrix = load_overlay_text(overlay)
    rec = recommend(_profile(3, 300), matrix=matrix)  # 900 requests/s
    (hit,) = [h for h in rec.hits if h.rule == "steady-upstream"]
    assert hit.delta == -0.5  # band "below 1,000" (-1) at weight 0.5
    assert hit.grade is not None and "bands: -0.5 below 1,000 requests/s" in hit.grade
    # An overlay may add a graded rule of its own.
    assert [h.delta for h in rec.hits if h.rule == "graded-posts"] == [-1]


def test_default_matrix_grades_the_post_cost_rules_by_request_load() -> None:
    graded = {
        r.id: e.grade.measure
        for r in default_matrix().rules
        for e in r.effects
        if e.grade is not None
    }
    assert graded == {
        "steady-upstream": "measure.post_requests_per_s",
        "high-rate-small-mutations": "measure.post_requests_per_s",
        "sse-http1-connection-limit": "measure.origin_connections_held",
    }
    small = recommend(_profile(3, 200))  # 600 requests/s
    large = recommend(_profile(3, 2000))  # 6,000 requests/s
    assert [h.delta for h in small.hits if h.rule == "steady-upstream"] == [-1]
    assert [h.delta for h in large.hits if h.rule == "steady-upstream"] == [-2]


def _streams(streams: int, version: str = "1.1") -> Profile:
    return load_profile_text(
        "schema_version: 1\nname: m\n"
        "traffic:\n  server_to_client: {rate_hz: 1, payload_bytes: 500}\n"
        f"scale: {{streams_per_client: {streams}}}\n"
        f"infrastructure: {{http_version: '{version}'}}\n"
    )


@pytest.mark.parametrize(("streams", "delta", "left"), [(3, -1, 3), (4, -2, 2), (5, -3, 1)])
def test_sse_streams_over_http1_cost_more_as_they_leave_fewer_connections(
    streams: int, delta: float, left: int
) -> None:
    rec = recommend(_streams(streams))
    (hit,) = [h for h in rec.hits if h.rule == "sse-http1-connection-limit"]
    assert hit.protocol == "sse" and hit.delta == delta
    assert f"leaving {left} for page loads" in hit.reason
    assert not any(h.rule == "sse-http1-connection-exhaustion" for h in rec.hits)


def test_two_sse_streams_over_http1_cost_nothing() -> None:
    # Two streams leave four of the six connections: the cost starts where they hold half.
    assert not any(h.rule.startswith("sse-http1-") for h in recommend(_streams(2)).hits)
    assert any(h.rule == "sse-http1-connection-limit" for h in recommend(_streams(3)).hits)


def test_six_sse_streams_over_http1_veto_sse_and_http2_lifts_the_cost() -> None:
    vetoed = recommend(_streams(6))
    # The veto carries the cost alone there: the graded rule stops at five streams.
    assert [h.rule for h in vetoed.hits if h.rule.startswith("sse-http1-")] == [
        "sse-http1-connection-exhaustion"
    ]
    assert [r.vetoed for r in vetoed.ranking if r.protocol == "sse"] == [True]
    for streams in (2, 5, 6):
        hits = recommend(_streams(streams, version="2")).hits
        assert not any(h.rule.startswith("sse-http1-") for h in hits)


def _requests(streams: int, *, per_request: bool) -> Profile:
    return load_profile_text(
        "schema_version: 2\nname: m\ntraffic:\n"
        f"  server_to_client: {{rate_hz: 1, payload_bytes: 500, per_request: {per_request}}}\n"
        "  client_to_server: {rate_hz: 0.05, payload_bytes: 500, channel: separate_requests}\n"
        f"scale: {{streams_per_client: {streams}}}\n"
        "infrastructure: {http_version: '1.1'}\n"
    )


@pytest.mark.parametrize("streams", [3, 5, 6, 9])
def test_streams_that_each_answer_one_request_hold_no_connection_for_good(streams: int) -> None:
    """A stream that answers one request and ends with it (per_request) queues like any
    request over HTTP/1.1: neither connection rule charges SSE for it; held open, it is."""
    rec = recommend(_requests(streams, per_request=True))
    assert not any(h.rule.startswith("sse-http1-") for h in rec.hits)
    assert [r.vetoed for r in rec.ranking if r.protocol == "sse"] == [False]
    held = recommend(_requests(streams, per_request=False))
    assert any(h.rule.startswith("sse-http1-") for h in held.hits)


@settings(max_examples=200, deadline=None)
@given(
    bounds=st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=5, unique=True),
    deltas=st.lists(
        st.floats(-10, 10, allow_nan=False).filter(lambda d: d != 0), min_size=6, max_size=6
    ),
    value=st.floats(allow_nan=False),
)
def test_a_grade_never_leaves_its_declared_deltas(
    bounds: list[float], deltas: list[float], value: float
) -> None:
    grade = Grade(
        "measure.post_requests_per_s", tuple(sorted(bounds)), tuple(deltas[: len(bounds) + 1])
    )
    assert grade.delta(value) in grade.deltas
    assert min(grade.deltas) <= grade.delta(value) <= max(grade.deltas)


@settings(max_examples=150, deadline=None)
@given(profiles)
def test_graded_effects_stay_within_their_declared_bands_on_any_profile(profile: Profile) -> None:
    matrix = compile_matrix_text(BASE + GRADED_RULE)
    for m in (matrix, default_matrix()):
        rec = recommend(profile, matrix=m)
        for hit in rec.hits:
            rule = m.by_id[hit.rule]
            (effect,) = [e for e in rule.effects if e.protocol == hit.protocol]
            if effect.grade is None:
                continue
            scaled = [d * rule.weight for d in effect.grade.deltas]
            assert min(scaled) <= hit.delta <= max(scaled)
            assert hit.delta in scaled


# --- load-time errors -------------------------------------------------------------------------


def _problems(text: str) -> list[str]:
    with pytest.raises(MatrixError) as caught:
        compile_matrix_text(text, "m.yaml")
    return [p.format() for p in caught.value.problems]


def test_unknown_measure_in_a_condition_is_located_with_a_suggestion() -> None:
    text = BASE + REQUESTS_RULE.replace(
        "measure.post_requests_per_s, ge", "measure.post_request, ge"
    )
    (problem,) = _problems(text)
    assert problem.startswith("m.yaml:11:")
    assert "rules[1].when.measure: unknown measure 'measure.post_request'" in problem
    assert "did you mean 'measure.post_requests_per_s'?" in problem


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "measure: measure.post_requests_per_s\n",
            "measure: measure.fan_out\n",
            "effects.sse.measure: unknown measure 'measure.fan_out'",
        ),
        (
            "[{delta: -1}, {from: 1000",
            "[{from: 1, delta: -1}, {from: 1000",
            "effects.sse.bands[0].from: the first band has no 'from'",
        ),
        (
            "{from: 100000, delta: -3}",
            "{from: 500, delta: -3}",
            "effects.sse.bands[2].from: 'from' must rise from band to band: 500 follows 1000",
        ),
        (
            "{from: 100000, delta: -3}",
            "{delta: -3}",
            "effects.sse.bands[2]: every band after the first needs 'from'",
        ),
        (
            'rationale: "{measure.post_requests_per_s}"',
            "rationale: No derivation.",
            "a graded effect must quote its measure: add {measure.post_requests_per_s}",
        ),
    ],
)
def test_graded_effect_errors_are_located(old: str, new: str, expected: str) -> None:
    assert old in GRADED_RULE
    (problem,) = _problems(BASE + GRADED_RULE.replace(old, new))
    assert problem.startswith("m.yaml:") and expected in problem


def test_measure_takes_only_threshold_operators() -> None:
    (problem,) = _problems(BASE + REQUESTS_RULE.replace("ge: 1000", "eq: 1000"))
    assert "operator 'eq' does not apply to measure 'measure.post_requests_per_s'" in problem


def test_overlay_with_unknown_measure_exits_2_with_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overlay = tmp_path / "org.yaml"
    overlay.write_text(
        "overlay_version: 1\nrules:\n"
        + REQUESTS_RULE.replace("post_requests_per_s, ge", "posts, ge"),
        encoding="utf-8",
    )
    profile = tmp_path / "p.yaml"
    profile.write_text(_profile(1, 10).model_dump_json(), encoding="utf-8")
    code = main(["recommend", str(profile), "--matrix", str(overlay)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith(f"{overlay}:5:")
    assert "rules[0].when.measure: unknown measure 'measure.posts'" in err
    assert "Traceback" not in err


# --- tipping points ---------------------------------------------------------------------------


def _check_tips(matrix: Matrix, profile: Profile) -> list[tuple[str, str, object]]:
    """Every tipping point applied to the profile changes the winner as it says, and just on
    the profile's side of it nothing changes (the test_tipping check, with a matrix)."""
    rec = recommend(profile, matrix=matrix)
    for tip in rec.tipping_points:
        assert recommend(_apply(profile, tip), matrix=matrix).protocol == tip.protocol, tip
        if tip.change in ("above", "below", "at_or_above", "at_or_below"):
            near = _apply(profile, tip, near=True)
            assert recommend(near, matrix=matrix).protocol == rec.protocol, tip.description
    return [(t.field, t.change, t.value) for t in rec.tipping_points]


def test_tipping_points_of_a_measure_condition_name_the_fields_it_derives_from() -> None:
    matrix = compile_matrix_text(BASE + REQUESTS_RULE)  # websocket +2 from 1,000 requests/s
    tips = _check_tips(matrix, _profile(2, 100))  # 200 requests/s: sse wins 1 to 0
    assert ("traffic.client_to_server.rate_hz", "at_or_above", 10) in tips
    assert ("scale.concurrent_connections", "at_or_above", 500) in tips
    assert not any(field.startswith("measure.") for field, _, _ in tips)
    rec = recommend(_profile(2, 100), matrix=matrix)
    assert any(
        t.description
        == "switches to websocket when scale.concurrent_connections reaches 500 (now 100)"
        for t in rec.tipping_points
    )


def test_tipping_points_of_a_decreasing_measure_flip_the_direction() -> None:
    rule = REQUESTS_RULE.replace(
        "{measure: measure.post_requests_per_s, ge: 1000}",
        "{measure: measure.post_overhead_ratio, gt: 2}",
    ).replace("measure.post_requests_per_s", "measure.post_overhead_ratio")
    matrix = compile_matrix_text(BASE + rule)
    # 420 B / 300 B = 1.4: the ratio passes 2 when the payload drops below 210 B.
    tips = _check_tips(matrix, _profile(12, 10, payload=300))
    assert ("traffic.client_to_server.payload_bytes", "below", 210) in tips


def test_tipping_points_of_a_graded_effect_are_its_band_edges() -> None:
    matrix = compile_matrix_text(
        BASE.replace("{sse: 1}", "{sse: 2.5}") + GRADED_RULE.replace("webrtc: -1", "websocket: 0.5")
    )
    # 5,000 requests/s: sse 2.5 - 2 = 0.5 against websocket 0.5, sse wins the tie-break;
    # from 100,000 requests/s (rate 200) the band gives -3 and websocket wins.
    profile = _profile(5, 1000)
    tips = _check_tips(matrix, profile)
    assert ("traffic.client_to_server.rate_hz", "at_or_above", 100) in tips
    assert ("scale.concurrent_connections", "at_or_above", 20000) in tips


@settings(max_examples=100, deadline=None)
@given(profiles)
def test_measure_tipping_points_are_exact_for_any_profile(profile: Profile) -> None:
    matrix = compile_matrix_text(BASE + REQUESTS_RULE + GRADED_RULE)
    _check_tips(matrix, profile)


def test_every_measure_is_a_product_its_levers_solve() -> None:
    facts = profile_facts(_profile(3, 700, payload=250))
    for name, measure in MEASURES.items():
        assert facts[name] == pytest.approx(measure.compute(facts)[0])
        for lever in measure.levers:
            target = 2 * facts[name] if facts[name] else 1.0
            value = lever.solve(facts, target)
            assert value is not None
            moved = dict(facts, **{lever.fact: value})
            assert measure.value(moved) == pytest.approx(target), (name, lever.fact)


@settings(max_examples=100, deadline=None)
@given(profiles)
def test_each_grader_gives_every_effects_delta_on_the_facts(profile: Profile) -> None:
    """The compiled graders (one effect looked up inline, or several in a loop) give what
    Rule.delta_on says for each effect, with the rule's other effects fixed."""
    facts = profile_facts(profile)
    matrix = default_matrix()
    for index, grader in matrix.graders.items():
        rule = matrix.rules[index]
        expected = [0.0, 0.0, 0.0]
        for effect in rule.effects:
            expected[("websocket", "sse", "webrtc").index(effect.protocol)] = rule.delta_on(
                effect, facts
            )
        assert grader(facts) == tuple(expected), rule.id
