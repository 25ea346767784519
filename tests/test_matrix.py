"""The rules matrix: the packaged data, its JSON Schema, located errors and org overlays."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from jsonschema import Draft202012Validator

from selector.builtin import recommend
from selector.errors import MatrixError
from selector.loading import load_profile_text
from selector.profile import Profile
from selector.rules.conditions import AllOf, Compare, Condition, predicate
from selector.rules.facts import profile_facts
from selector.rules.loading import (
    compile_matrix_text,
    default_matrix,
    load_matrix,
    load_overlay_text,
)
from selector.rules.model import _implied
from selector.rules.schema import matrix_schema, overlay_schema
from selector.rules.subjects import subject_condition
from tests.engine_helpers import profiles

DOCS = Path(__file__).resolve().parent.parent / "docs"

PUSH = """
schema_version: 1
name: push
traffic:
  server_to_client: {rate_hz: 1, payload_bytes: 100}
"""


def _problems(exc: pytest.ExceptionInfo[MatrixError]) -> list[str]:
    return [p.format() for p in exc.value.problems]


def test_packaged_matrix_is_valid_against_its_schema() -> None:
    raw = resources.files("selector.rules").joinpath("matrix.yaml").read_text(encoding="utf-8")
    errors = list(Draft202012Validator(matrix_schema()).iter_errors(yaml.safe_load(raw)))
    assert errors == []


def test_rule_ids_are_unique_kebab_case_and_sourced() -> None:
    rules = default_matrix().rules
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    for rule in rules:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.id)
        assert rule.refs and all(ref.startswith("https://") for ref in rule.refs), rule.id


@pytest.mark.parametrize(
    ("name", "schema"),
    [
        ("matrix.schema.json", matrix_schema),
        ("matrix-overlay.schema.json", overlay_schema),
    ],
)
def test_committed_matrix_schemas_are_current(name: str, schema: object) -> None:
    assert callable(schema)
    committed = json.loads((DOCS / name).read_text(encoding="utf-8"))
    kind = "matrix" if name == "matrix.schema.json" else "overlay"
    assert committed == schema(), f"regenerate: selector rules --schema {kind} > docs/{name}"


BROKEN_MATRIX = """\
matrix_version: 1
rules:
  - id: Bad_Id
    title: t
    when: {fact: traffic.client_to_server.rate_hz, gt: ten}
    effects: {sse: 1}
    rationale: r
    refs: [https://example.com]
  - id: unknown-fact
    title: t
    when: {fact: traffic.client_to_server.rate, gt: 1}
    effects: {sse: 1}
    rationale: r
    refs: [https://example.com]
  - id: wrong-operator
    title: t
    when:
      all:
        - {fact: media, gt: 1}
    effects: {sse: 1, quic: 2}
    rationale: "{nope}"
    refs: [https://example.com]
"""


def test_broken_matrix_reports_schema_errors_with_file_line_and_column() -> None:
    with pytest.raises(MatrixError) as exc:
        compile_matrix_text(BROKEN_MATRIX, "m.yaml")
    problems = _problems(exc)
    assert any(p.startswith("m.yaml:3:9: rules[0].id:") for p in problems), problems
    assert any(p.startswith("m.yaml:20:23: rules[2].effects.quic: unknown key") for p in problems)


def test_broken_matrix_reports_meaning_errors_at_the_value() -> None:
    text = BROKEN_MATRIX.replace("id: Bad_Id", "id: bad-id").replace(", quic: 2", "")
    with pytest.raises(MatrixError) as exc:
        compile_matrix_text(text, "m.yaml")
    problems = _problems(exc)
    assert "m.yaml:5:56: rules[0].when.gt: expected a number, got 'ten'" in problems[0]
    assert any(
        "m.yaml:11:18: rules[1].when.fact: unknown fact 'traffic.client_to_server.rate'; "
        "did you mean 'traffic.client_to_server.rate_hz'?" in p
        for p in problems
    ), problems
    assert any(
        "rules[2].when.all[0].gt: operator 'gt' does not apply to enum" in p for p in problems
    )
    assert any("rules[2].rationale: placeholder {nope} is not a fact" in p for p in problems)


def test_condition_shapes_are_checked() -> None:
    text = """\
matrix_version: 1
rules:
  - id: two-operators
    title: t
    when: {all: [{fact: media, eq: audio, ne: video}]}
    effects: {sse: 1}
    rationale: r
    refs: [https://example.com]
"""
    with pytest.raises(MatrixError) as exc:
        compile_matrix_text(text, "m.yaml")
    (problem,) = _problems(exc)
    assert "rules[0].when.all[0]: a comparison is {fact: NAME, OPERATOR: VALUE}" in problem


def test_duplicate_rule_ids_are_refused() -> None:
    rule = """
  - id: same
    title: t
    when: {fact: media, eq: audio}
    effects: {webrtc: 1}
    rationale: r
    refs: [https://example.com]"""
    with pytest.raises(MatrixError) as exc:
        compile_matrix_text("matrix_version: 1\nrules:" + rule + rule, "m.yaml")
    assert "rule id 'same' is already defined" in _problems(exc)[0]


# --- overlays ---------------------------------------------------------------------------------


def test_overlay_disables_reweights_adds_and_forbids() -> None:
    profile = load_profile_text(PUSH)
    base = recommend(profile)
    assert base.protocol == "sse"
    overlay = load_overlay_text(
        """\
overlay_version: 1
disable: [push-only-stream]
weights: {datachannel-infrastructure-cost: 0.5}
rules:
  - id: org-prefers-websocket
    title: Our gateway speaks WebSocket
    when: {fact: clients, contains: browser}
    effects: {websocket: 2}
    rationale: "clients are {clients}: our gateway only terminates WebSocket"
    refs: [https://example.com/gateway]
forbid: {sse: "the proxy team does not allow long-lived HTTP responses"}
""",
        "org.yaml",
    )
    rec = recommend(profile, matrix=overlay)
    assert rec.protocol == "websocket"
    assert rec.ranked("websocket").score == 2
    # -3 at half weight, and reliable-data-over-datachannel at full weight
    assert rec.ranked("webrtc").score == -1.5 - 2
    assert rec.ranked("sse").vetoed
    assert rec.ranked("sse").veto_reasons == [
        "the proxy team does not allow long-lived HTTP responses [forbid-sse]"
    ]
    assert "push-only-stream" not in {h.rule for h in rec.hits}
    added = next(h for h in rec.hits if h.rule == "org-prefers-websocket")
    assert added.reason == "clients are browser: our gateway only terminates WebSocket"
    assert rec.provenance.overlays == ("org.yaml",)
    assert rec.provenance.matrix_sha256 != base.provenance.matrix_sha256


def test_overlay_problems_are_located(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        """\
overlay_version: 1
disable: [push-only-strem]
weights: {steady-upstream: -1}
forbid: {quic: "no"}
rules:
  - id: push-only-stream
    title: clash
    when: {fact: media, eq: audio}
    effects: {webrtc: 1}
    rationale: r
    refs: [https://example.com]
""",
        encoding="utf-8",
    )
    with pytest.raises(MatrixError) as exc:
        load_matrix([path])
    problems = _problems(exc)
    assert any(f"{path}:3:28: weights.steady-upstream:" in p for p in problems), problems
    assert any(f"{path}:4:10: forbid.quic: unknown key 'quic'" in p for p in problems), problems


def test_overlay_meaning_problems_are_located(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        """\
overlay_version: 1
disable: [push-only-strem]
rules:
  - id: push-only-stream
    title: clash
    when: {fact: media, eq: audio}
    effects: {webrtc: 1}
    rationale: r
    refs: [https://example.com]
""",
        encoding="utf-8",
    )
    with pytest.raises(MatrixError) as exc:
        load_matrix([path])
    problems = _problems(exc)
    assert (
        f"{path}:2:11: disable[0]: no rule with id 'push-only-strem'; "
        "did you mean 'push-only-stream'?" in problems
    )
    assert f"{path}:4:9: rules[0].id: rule id 'push-only-stream' is already defined" in problems


def test_overlay_file_that_is_not_yaml_is_a_matrix_error(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text("overlay_version: [1\n", encoding="utf-8")
    with pytest.raises(MatrixError) as exc:
        load_matrix([path])
    assert _problems(exc)[0].startswith(f"{path}:")
    with pytest.raises(MatrixError):
        load_matrix([tmp_path / "missing.yaml"])


@pytest.mark.parametrize(
    ("combinator", "levels", "limit"), [("not", 300, 64), ("all", 300, 64), ("not", 40, 32)]
)
def test_an_overlay_nested_too_deep_is_a_located_error(
    tmp_path: Path, combinator: str, levels: int, limit: int
) -> None:
    """Reading, schema validation and compilation recurse over conditions: 300 levels ended
    in a RecursionError traceback before nesting was bounded (64 for any file, 32 for a
    rules file)."""
    inner = "{fact: auth, eq: cookie}"
    for _ in range(levels):
        inner = f"{{not: {inner}}}" if combinator == "not" else f"{{all: [{inner}]}}"
    path = tmp_path / "deep.yaml"
    path.write_text(
        "overlay_version: 1\nrules:\n  - id: deep\n    title: Deep\n"
        f"    when: {inner}\n    effects: {{sse: 1}}\n    rationale: r\n"
        "    refs: [https://example.com]\n",
        encoding="utf-8",
    )
    with pytest.raises(MatrixError) as exc:
        load_matrix([path])
    (problem,) = _problems(exc)
    assert problem.startswith(f"{path}:5:")
    assert f"rules[0].when.{combinator}" in problem
    assert f"nested more than {limit} levels deep" in problem


def test_an_overlay_condition_within_the_nesting_bound_compiles() -> None:
    inner = "{fact: auth, eq: cookie}"
    for _ in range(10):
        inner = f"{{not: {{not: {inner}}}}}"
    overlay = load_overlay_text(
        "overlay_version: 1\nrules:\n  - id: deep\n    title: Deep\n"
        f"    when: {inner}\n    effects: {{sse: 1}}\n    rationale: r\n"
        "    refs: [https://example.com]\n"
    )
    assert "deep" in overlay.by_id


def test_default_matrix_is_compiled_once() -> None:
    assert default_matrix() is default_matrix()
    assert load_matrix([]) is default_matrix()


def test_overlay_numbers_must_be_finite_and_effects_well_formed() -> None:
    with pytest.raises(MatrixError) as exc:
        load_overlay_text(
            "overlay_version: 1\n"
            "weights: {steady-upstream: .inf}\n"
            "rules:\n"
            "  - {id: a, title: t, when: {fact: media, eq: audio}, effects: {sse: .nan},"
            " rationale: r, refs: ['https://example.com']}\n",
            "org.yaml",
        )
    assert _problems(exc) == [
        "org.yaml:2:28: weights.steady-upstream: weight must be a finite number, got inf",
        "org.yaml:4:70: rules[0].effects.sse: score delta must be finite, got nan",
    ]
    with pytest.raises(MatrixError) as exc:
        load_overlay_text(
            "overlay_version: 1\n"
            "rules:\n"
            "  - {id: a, title: t, when: {fact: media, eq: audio}, effects: {sse: vetoo},"
            " rationale: r, refs: ['https://example.com']}\n",
            "org.yaml",
        )
    assert _problems(exc) == [
        "org.yaml:3:70: rules[0].effects.sse: expected a non-zero number, 'veto' or "
        "{measure, bands}, got 'vetoo'"
    ]


@settings(max_examples=200, deadline=None)
@given(profiles)
def test_a_gated_condition_is_true_exactly_when_all_of_its_parts_are(profile: Profile) -> None:
    """Scoring tests each rule's gated condition, from which repeated conjuncts and bounds
    implied by a tighter one (``rate_hz > 0`` beside ``rate_hz > 1``) are dropped; every
    subject test and every part of the rule's own condition must still hold when it fires."""
    facts = profile_facts(profile)
    for rule, test in zip(default_matrix().rules, default_matrix().tests, strict=True):
        parts = [*_conjuncts(subject_condition(rule.applies_to)), *_conjuncts(rule.condition)]
        assert test(facts) == all(predicate(p)(facts) for p in parts), rule.id


def test_implied_bounds_are_dropped_from_a_gated_condition() -> None:
    rule = default_matrix().by_id["steady-upstream"]
    gated = rule.gated
    assert isinstance(gated, AllOf)
    rate = "traffic.client_to_server.rate_hz"
    assert Compare(rate, "gt", 0) not in gated.parts  # implied by rate_hz > 1
    assert Compare(rate, "gt", 1) in gated.parts
    # At equal constants a strict bound implies the loose one, never the reverse.
    assert _implied(Compare(rate, "ge", 1), by=Compare(rate, "gt", 1))
    assert not _implied(Compare(rate, "gt", 1), by=Compare(rate, "ge", 1))
    assert _implied(Compare(rate, "le", 5), by=Compare(rate, "lt", 5))
    assert not _implied(Compare(rate, "lt", 5), by=Compare(rate, "le", 5))
    assert not _implied(Compare(rate, "gt", 1), by=Compare(rate, "lt", 5))
    assert not _implied(Compare(rate, "gt", 1), by=Compare("scale.fan_out", "gt", 9))


def _conjuncts(condition: Condition) -> tuple[Condition, ...]:
    return condition.parts if isinstance(condition, AllOf) else (condition,)
