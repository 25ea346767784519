"""Read, validate and compile the rules matrix and org overlays.

Both files go through the project's one YAML reader (:func:`selector.loading.read_yaml`), then
their JSON Schema (jsonschema), then the semantic checks of the condition compiler. Every
problem is a :class:`selector.errors.MatrixError` located at ``FILE:LINE:COL``.

Overlay format (``--matrix FILE``, ``matrix=`` in the API)::

    overlay_version: 1
    disable: [rule-id, ...]            # switch rules off
    weights: {rule-id: 0.5}            # multiply a rule's score deltas
    rules: [ {id, title, when, effects, rationale, refs}, ... ]   # add rules
    forbid: {webrtc: "our network team does not run TURN"}        # veto outright
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from importlib import resources
from os import PathLike
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict, cast

from selector.errors import MatrixError
from selector.loading import YamlDocument, parse_yaml, read_yaml
from selector.protocols import PROTOCOLS, Protocol
from selector.rules.advice import companion_table, planner_note_table
from selector.rules.conditions import AllOf, unknown_measure
from selector.rules.model import (
    Advice,
    Effect,
    Grade,
    Matrix,
    Rule,
)
from selector.rules.rows import Collector, Loc, compile_row_text, schema_problems
from selector.rules.schema import matrix_schema, overlay_schema

if TYPE_CHECKING:
    from jsonschema.protocols import Validator


__all__ = [
    "DEFAULT_MATRIX_NAME",
    "MatrixArg",
    "compile_matrix_text",
    "default_matrix",
    "load_matrix",
    "load_overlay_text",
    "resolve_matrix",
]

DEFAULT_MATRIX_NAME = "matrix.yaml"
PathArg = str | PathLike[str]

# The data of a matrix or overlay file once its JSON Schema (selector.rules.schema) has
# accepted it: the compiler reads it as these shapes, which that schema guarantees.

#: One band of a graded effect; every band but the first has ``from``.
_Band = TypedDict("_Band", {"from": NotRequired[float], "delta": float})


class _Graded(TypedDict):
    measure: str
    bands: list[_Band]


class _RuleData(TypedDict):
    id: str
    title: str
    #: A condition: its operators' constants are whatever the file wrote.
    when: dict[str, object]
    #: A non-zero score delta, a veto or a graded effect, by protocol.
    effects: dict[Protocol, float | Literal["veto"] | _Graded]
    rationale: str
    refs: list[str]
    applies_to: NotRequired[list[str]]
    evidence: NotRequired[str]


class _MatrixData(TypedDict):
    #: 1, the schema's ``const`` (which 1.0 matches too).
    matrix_version: float
    rules: list[_RuleData]


class _OverlayData(TypedDict):
    #: 1, the schema's ``const`` (which 1.0 matches too).
    overlay_version: float
    disable: NotRequired[list[str]]
    weights: NotRequired[dict[str, float]]
    rules: NotRequired[list[_RuleData]]
    forbid: NotRequired[dict[Protocol, str]]


@functools.cache
def _validator(kind: str) -> Validator:
    from jsonschema import Draft202012Validator

    schema = matrix_schema() if kind == "matrix" else overlay_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _schema_problems(document: YamlDocument, kind: str, found: Collector) -> None:
    schema_problems(document, _validator(kind), found)


def _compile_rule(
    data: _RuleData, loc: tuple[str | int, ...], origin: str, found: Collector
) -> Rule | None:
    before = len(found.problems)
    from selector.rules.facts import FACTS
    from selector.rules.measures import MEASURES

    condition, template = compile_row_text(data, loc, "rationale", [*FACTS, *MEASURES], found)
    from selector.rules.subjects import EVIDENCE, SUBJECTS

    for i, subject in enumerate(data.get("applies_to", ())):
        if subject not in SUBJECTS:
            close = difflib.get_close_matches(subject, SUBJECTS, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else "; allowed: " + ", ".join(SUBJECTS)
            found.add((*loc, "applies_to", i), f"unknown subject '{subject}'{hint}")
    evidence = data.get("evidence")
    if evidence is not None and evidence not in EVIDENCE:
        found.add(
            (*loc, "evidence"), f"unknown experiment '{evidence}'; allowed: " + ", ".join(EVIDENCE)
        )
    effects: list[Effect] = []
    for name, value in data["effects"].items():
        if isinstance(value, dict):
            grade = _compile_grade(value, (*loc, "effects", name), template, found)
            if grade is not None:
                largest = max(grade.deltas, key=abs)
                effects.append(Effect(protocol=_protocol(name), delta=largest, grade=grade))
        elif value == "veto":
            effects.append(Effect(protocol=_protocol(name), veto=True))
        elif not math.isfinite(value):
            found.add((*loc, "effects", name), f"score delta must be finite, got {value}")
        else:
            effects.append(Effect(protocol=_protocol(name), delta=float(value)))
    if condition is None or len(found.problems) > before:
        return None
    return Rule(
        id=data["id"],
        title=data["title"],
        condition=condition,
        effects=tuple(effects),
        rationale=data["rationale"],
        refs=tuple(data["refs"]),
        origin=origin,
        applies_to=tuple(data.get("applies_to", ())),
        evidence=evidence,
        template=template,
    )


def _compile_grade(
    data: _Graded,
    loc: Loc,
    template: tuple[tuple[str, str | None], ...],
    found: Collector,
) -> Grade | None:
    """A graded effect: a known measure the rationale quotes (so the derivation is printed),
    a first band without ``from``, then bands whose ``from`` strictly rises, finite deltas."""
    from selector.rules.measures import MEASURES

    before = len(found.problems)
    measure = data["measure"]
    if measure not in MEASURES:
        found.add((*loc, "measure"), unknown_measure(measure))
    elif measure not in {name for _, name in template}:
        found.add(
            (*loc, "measure"),
            f"a graded effect must quote its measure: add {{{measure}}} to the rationale",
        )
    bounds: list[float] = []
    deltas: list[float] = []
    for i, band in enumerate(data["bands"]):
        if i == 0 and "from" in band:
            found.add(
                (*loc, "bands", 0, "from"),
                "the first band has no 'from': it covers everything below the second band's 'from'",
            )
        elif i > 0 and "from" not in band:
            found.add((*loc, "bands", i), "every band after the first needs 'from'")
        elif i > 0:
            bound = band["from"]
            if not math.isfinite(bound):
                found.add((*loc, "bands", i, "from"), f"'from' must be finite, got {bound}")
            elif bounds and bound <= bounds[-1]:
                found.add(
                    (*loc, "bands", i, "from"),
                    f"'from' must rise from band to band: {bound:g} follows {bounds[-1]:g}",
                )
            bounds.append(float(bound))
        if not math.isfinite(band["delta"]):
            found.add((*loc, "bands", i, "delta"), f"delta must be finite, got {band['delta']}")
        deltas.append(float(band["delta"]))
    if len(found.problems) > before:
        return None
    return Grade(measure=measure, bounds=tuple(bounds), deltas=tuple(deltas))


def _protocol(name: Protocol) -> Protocol:
    assert name in PROTOCOLS  # the schema admits only protocol names
    return name


def _compile_rules(
    items: Iterable[_RuleData],
    loc: tuple[str | int, ...],
    origin: str,
    found: Collector,
    taken: set[str],
) -> list[Rule]:
    rules = []
    for i, data in enumerate(items):
        rule_loc = (*loc, i)
        if data["id"] in taken:
            found.add((*rule_loc, "id"), f"rule id '{data['id']}' is already defined")
            continue
        taken.add(data["id"])
        rule = _compile_rule(data, rule_loc, origin, found)
        if rule is not None:
            rules.append(rule)
    return rules


def _compile_matrix_document(document: YamlDocument) -> list[Rule]:
    found = Collector(document)
    _schema_problems(document, "matrix", found)
    data = cast(_MatrixData, document.data)  # the schema has accepted it
    rules = _compile_rules(data["rules"], ("rules",), "default", found, set())
    found.raise_if_any()
    return rules


def _unknown_rule(rule_id: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(rule_id, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else "; `selector rules` lists them"
    return f"no rule with id '{rule_id}'{hint}"


def _apply_overlay(rules: list[Rule], document: YamlDocument) -> list[Rule]:
    found = Collector(document)
    _schema_problems(document, "overlay", found)
    data = cast(_OverlayData, document.data)  # the schema has accepted it
    known = {r.id: r for r in rules}
    disabled: set[str] = set()
    for i, rule_id in enumerate(data.get("disable", [])):
        if rule_id not in known:
            found.add(("disable", i), _unknown_rule(rule_id, known))
        disabled.add(rule_id)
    weights: dict[str, float] = {}
    for rule_id, weight in data.get("weights", {}).items():
        if rule_id not in known:
            found.add(("weights", rule_id), _unknown_rule(rule_id, known), key=True)
        elif rule_id in disabled:
            found.add(
                ("weights", rule_id), f"rule '{rule_id}' is both disabled and re-weighted", key=True
            )
        if not math.isfinite(weight):
            found.add(("weights", rule_id), f"weight must be a finite number, got {weight}")
        weights[rule_id] = float(weight)
    added = _compile_rules(data.get("rules", []), ("rules",), document.file, found, set(known))
    forbidden = [
        Rule(
            id=f"forbid-{protocol}",
            title=f"Organisation forbids {protocol}",
            condition=AllOf(()),
            effects=(Effect(protocol=_protocol(protocol), veto=True),),
            rationale=reason,
            refs=(),
            origin=document.file,
            template=((reason, None),),
        )
        for protocol, reason in data.get("forbid", {}).items()
    ]
    for rule in forbidden:
        if rule.id in known:
            found.add(("forbid", rule.id.removeprefix("forbid-")), "already forbidden", key=True)
    found.raise_if_any()
    kept = [
        _reweighted(r, weights[r.id]) if r.id in weights else r
        for r in rules
        if r.id not in disabled
    ]
    return [*kept, *added, *forbidden]


def _reweighted(rule: Rule, weight: float) -> Rule:
    from dataclasses import replace

    return replace(rule, weight=rule.weight * weight)


def _default_bytes() -> tuple[bytes, str]:
    resource = resources.files("selector.rules").joinpath(DEFAULT_MATRIX_NAME)
    return resource.read_bytes(), str(resource)


def _digest(documents: Iterable[YamlDocument]) -> str:
    """Hash of what the documents say (canonical JSON), so comments and layout do not count."""
    digest = hashlib.sha256()
    for document in documents:
        chunk = json.dumps(document.data, sort_keys=True, separators=(",", ":")).encode()
        # Length-prefixed so that moving content between files changes the hash.
        digest.update(len(chunk).to_bytes(8, "big"))
        digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def _default_rules() -> tuple[tuple[Rule, ...], YamlDocument]:
    raw, file = _default_bytes()
    document = parse_yaml(raw, file, error=MatrixError)
    return tuple(_compile_matrix_document(document)), document


class _AdviceTables(TypedDict):
    companions: tuple[Advice, ...]
    notes: tuple[Advice, ...]


def _advice_tables() -> _AdviceTables:
    """The built-in companion and planner-note rows every compiled matrix carries (an
    overlay or a matrix of one's own changes rules, not advice)."""
    return {"companions": companion_table(), "notes": planner_note_table()}


@functools.cache
def default_matrix() -> Matrix:
    """The built-in matrix, compiled once per process."""
    rules, document = _default_rules()
    return Matrix(rules, sha256=_digest([document]), sources=(), **_advice_tables())


def _overlaid(documents: Sequence[YamlDocument]) -> Matrix:
    base_rules, base_document = _default_rules()
    rules = list(base_rules)
    for document in documents:
        rules = _apply_overlay(rules, document)
    return Matrix(
        tuple(rules),
        sha256=_digest([base_document, *documents]),
        sources=tuple(document.file for document in documents),
        **_advice_tables(),
    )


def load_matrix(overlays: Sequence[PathArg] = ()) -> Matrix:
    """The default matrix extended by each overlay file in turn (reads the files).

    Raises :class:`selector.errors.MatrixError` with located problems for a broken overlay.
    """
    if not overlays:
        return default_matrix()
    return _overlaid([read_yaml(os.fspath(path), error=MatrixError) for path in overlays])


def load_overlay_text(text: str, file: str = "<overlay>") -> Matrix:
    """The default matrix extended by one overlay given as YAML text (no file I/O)."""
    return _overlaid([parse_yaml(text.encode("utf-8"), file, error=MatrixError)])


def compile_matrix_text(text: str, file: str = "<matrix>") -> Matrix:
    """Compile a complete matrix given as YAML text (tests and tools that build their own)."""
    document = parse_yaml(text.encode("utf-8"), file, error=MatrixError)
    rules = _compile_matrix_document(document)
    return Matrix(tuple(rules), sha256=_digest([document]), sources=(file,), **_advice_tables())


MatrixArg = Matrix | str | PathLike[str] | Sequence[str | PathLike[str]] | None


def resolve_matrix(matrix: MatrixArg) -> Matrix:
    """The :class:`Matrix` to use: the cached default, a given one, or default + overlay files."""
    if matrix is None:
        return default_matrix()
    if isinstance(matrix, Matrix):
        return matrix
    if isinstance(matrix, str | PathLike):
        return load_matrix([matrix])
    return load_matrix(list(matrix))
