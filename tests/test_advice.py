"""Companions and planner notes are data rows with ids: every row can be reached, a broken
row is a located load error, and the ids reach the JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, find, settings

from selector.builtin import plan_lifetime
from selector.cli import main
from selector.engine.companions import companions_for
from selector.errors import MatrixError
from selector.loading import load_profile, load_profile_text
from selector.planner.solver import COMPUTED_NOTE_IDS
from selector.profile import Profile
from selector.rules.advice import (
    Advice,
    companion_table,
    compile_companions_text,
    compile_notes_text,
    planner_note_table,
)
from selector.rules.facts import profile_facts
from selector.rules.loading import default_matrix
from tests.engine_helpers import profiles

ROOT = Path(__file__).resolve().parent.parent
KNOWN = [
    load_profile(p)
    for p in sorted((ROOT / "profiles").glob("*.yaml"))
    + sorted((ROOT / "tests/corpus").glob("*.yaml"))
]


def _companion_ids(profile: Profile, protocol: str) -> set[str]:
    return {c.id for c in companions_for(default_matrix(), protocol, profile_facts(profile))}


def _note_ids(profile: Profile, protocol: str) -> set[str]:
    return set(plan_lifetime(profile, protocol).note_ids)


def _reachable(row: Advice, protocol: str, ids: object) -> None:
    reaches = lambda p: row.id in ids(p, protocol)  # type: ignore[operator]  # noqa: E731
    if any(reaches(p) for p in KNOWN):
        return
    # No example shows it: a generated profile must (find raises if none does).
    find(
        profiles,
        reaches,
        settings=settings(max_examples=2000, suppress_health_check=list(HealthCheck)),
    )


@pytest.mark.parametrize(
    ("row", "protocol"),
    [(r, p) for r in companion_table() for p in sorted(r.protocols)],
    ids=lambda x: x.id if isinstance(x, Advice) else x,
)
def test_every_companion_row_is_reachable(row: Advice, protocol: str) -> None:
    _reachable(row, protocol, _companion_ids)


@pytest.mark.parametrize(
    ("row", "protocol"),
    [(r, p) for r in planner_note_table() for p in sorted(r.protocols)],
    ids=lambda x: x.id if isinstance(x, Advice) else x,
)
def test_every_planner_note_row_is_reachable(row: Advice, protocol: str) -> None:
    _reachable(row, protocol, _note_ids)


def test_ids_are_unique_and_apart_from_the_computed_notes() -> None:
    companions = [r.id for r in companion_table()]
    notes = [r.id for r in planner_note_table()]
    assert len(set(companions)) == len(companions)
    assert len(set(notes)) == len(notes)
    assert not set(notes) & set(COMPUTED_NOTE_IDS)


COMPANIONS = """\
companions_version: 1
companions:
  - id: one
    protocol: sse
    when: {fact: delivery.resume, eq: true}
    component: thing
    reason: needs {scale.fan_out}
    source: https://example.com/a
"""

NOTES = """\
notes_version: 1
notes:
  - id: one
    protocols: [sse]
    when: {all: []}
    text: advice
    source: https://example.com/a
"""


def _problems(compile_text: object, text: str) -> list[str]:
    with pytest.raises(MatrixError) as caught:
        compile_text(text, "t.yaml")  # type: ignore[operator]
    return [p.format() for p in caught.value.problems]


@pytest.mark.parametrize(
    ("compile_text", "text", "expected"),
    [
        (
            compile_companions_text,
            COMPANIONS.replace("    reason:", "    reasn:"),
            "t.yaml:7:5: companions[0].reasn: unknown key 'reasn'; did you mean 'reason'?",
        ),
        (
            compile_notes_text,
            NOTES.replace("    source:", "    sauce: x\n    source:"),
            "t.yaml:7:5: notes[0].sauce: unknown key 'sauce'",
        ),
        (
            compile_companions_text,
            COMPANIONS.replace("delivery.resume", "delivery.resumes"),
            "companions[0].when.fact: unknown fact 'delivery.resumes'; did you mean "
            "'delivery.resume'?",
        ),
        (
            compile_companions_text,
            COMPANIONS.replace("{scale.fan_out}", "{scale.fanout}"),
            "companions[0].reason: placeholder {scale.fanout} is not a fact",
        ),
        (
            compile_notes_text,
            NOTES + NOTES.split("notes:\n", 1)[1],
            "notes[1].id: id 'one' is already defined",
        ),
    ],
)
def test_a_broken_row_is_a_located_load_error(
    compile_text: object, text: str, expected: str
) -> None:
    problems = _problems(compile_text, text)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("t.yaml:") for p in problems)


def test_a_good_row_compiles_and_quotes_the_profile() -> None:
    (row,) = compile_companions_text(COMPANIONS)
    assert row.id == "one" and row.protocols == {"sse"} and row.source == "https://example.com/a"
    assert row.test({"delivery.resume": True}) and not row.test({"delivery.resume": False})
    assert row.text({"scale.fan_out": 40}) == "needs 40"


def test_ids_reach_the_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["recommend", "--format", "json", str(ROOT / "profiles" / "chat.yaml")])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    table = {r.id: r for r in companion_table()}
    assert data["companions"]
    for companion in data["companions"]:
        assert table[companion["id"]].component == companion["component"]
        assert companion["source"] == table[companion["id"]].source
    plan = data["plan"]
    assert len(plan["note_ids"]) == len(plan["notes"]) > 0
    known = {r.id for r in planner_note_table()} | set(COMPUTED_NOTE_IDS)
    assert set(plan["note_ids"]) <= known


def test_an_sse_plan_for_answers_streamed_per_request_says_how_each_ends() -> None:
    text = (
        "schema_version: 2\nname: answers\ntraffic:\n"
        "  server_to_client: {rate_hz: 30, payload_bytes: 200, per_request: true}\n"
        "  client_to_server: {rate_hz: 0.05, payload_bytes: 900}\n"
    )
    streamed = load_profile_text(text)
    feed = load_profile_text(text.replace(", per_request: true", ""))
    assert "sse-answer-ends-its-stream" in _note_ids(streamed, "sse")
    assert "sse-answer-ends-its-stream" not in _note_ids(feed, "sse")
    # A WebSocket keeps its connection between requests: the note is about SSE responses.
    assert "sse-answer-ends-its-stream" not in _note_ids(streamed, "websocket")
