"""What-if: re-evaluate a profile with field overrides and say what changed.

``--set traffic.client_to_server.rate_hz=30`` sets one field (values are read as YAML
scalars or flow lists: ``30``, ``true``, ``"2"``, ``[browser, mobile]``); missing parent
blocks are created, list items are addressed by index (``infrastructure.path.0.kind=nginx``).
The changed profile is validated like a file, and a problem caused by an override is reported
against that ``--set`` instead of a line of the file.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from selector.engine.recommendation import Protocol, Recommendation, RuleHit
from selector.errors import Problem, ProfileError, UsageError
from selector.loading import YamlDocument, problems_from_validation, read_yaml
from selector.profile import Profile

__all__ = [
    "Assignment",
    "ScoreChange",
    "WhatIf",
    "apply_assignments",
    "compare",
    "load_with_overrides",
    "parse_assignment",
]

_Loader: type[yaml.SafeLoader | yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Assignment(BaseModel):
    """One ``--set PATH=VALUE``."""

    model_config = ConfigDict(frozen=True)

    text: str
    path: tuple[str | int, ...]
    #: A YAML scalar or flow list as the safe loader reads it: besides JSON's values, a date,
    #: bytes (``!!binary``) or a set (``!!set``) can arrive, and validation judges them.
    value: object


def parse_assignment(text: str) -> Assignment:
    """Parse ``dotted.path=value``; raise :class:`UsageError` saying what is wrong."""

    def fail(message: str) -> UsageError:
        return UsageError([Problem(message, file=f"--set {text}")])

    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise fail("expected PATH=VALUE, e.g. traffic.client_to_server.rate_hz=30")
    if any(c in raw for c in "\r\n"):
        raise fail("the value must be on one line")
    try:
        value = yaml.load(raw, Loader=_Loader) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise fail(f"cannot read the value as YAML: {getattr(exc, 'problem', exc)}") from None
    if value is None:
        raise fail("missing value after '='")
    if isinstance(value, dict):
        raise fail("set one field at a time (the value is a mapping)")
    # Messages print list items as path[0]; accept that spelling as well as path.0.
    dotted = re.sub(r"\[(\d+)\]", r".\1", name)
    if "[" in dotted or "]" in dotted:
        raise fail(f"list items are addressed as path[0] or path.0, not '{name}'")
    path: list[str | int] = []
    for part in dotted.split("."):
        if not part:
            raise fail(f"empty segment in path '{name}'")
        path.append(int(part) if part.isdigit() else part)
    return Assignment(text=text, path=tuple(path), value=value)


def apply_assignments(
    data: dict[str, object], assignments: Sequence[Assignment]
) -> tuple[dict[str, object], set[tuple[str | int, ...]]]:
    """A deep copy of ``data`` with every assignment applied, and the locations it created."""
    out = copy.deepcopy(data)
    created: set[tuple[str | int, ...]] = set()
    for assignment in assignments:
        node: object = out
        for depth, part in enumerate(assignment.path[:-1]):
            here = assignment.path[: depth + 1]
            if isinstance(node, list) and isinstance(part, int):
                if part >= len(node):
                    raise UsageError.single(
                        f"index {part} is past the end of a list of {len(node)}",
                        file=f"--set {assignment.text}",
                    )
                node = node[part]
            elif isinstance(node, dict) and isinstance(part, str):
                if node.get(part) is None:
                    node[part] = {}
                    created.add(here)
                node = node[part]
            else:
                raise UsageError.single(
                    f"'{_dotted(here)}' is not a block that holds fields",
                    file=f"--set {assignment.text}",
                )
        last = assignment.path[-1]
        # Two tests, not one joined with ``or``: each tells the type checker what ``node``
        # and ``last`` are for its assignment.
        if isinstance(node, dict) and isinstance(last, str):
            node[last] = assignment.value
            continue
        if isinstance(node, list) and isinstance(last, int) and last < len(node):
            node[last] = assignment.value
            continue
        raise UsageError.single(
            f"cannot set '{_dotted(assignment.path)}' here", file=f"--set {assignment.text}"
        )
    return out, created


def _dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in path)


def _field_path(path: Sequence[str | int]) -> str:
    """The path as located problems spell it: ``infrastructure.path[0].kind``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def load_with_overrides(
    path: str | Path, assignments: Sequence[Assignment]
) -> tuple[Profile, Profile]:
    """The profile in ``path`` as written, and with ``assignments`` applied (both validated)."""
    from pydantic import ValidationError

    from selector.loading import load_profile

    before = load_profile(path)
    document = read_yaml(path)
    data, created = apply_assignments(document.data, assignments)
    try:
        after = Profile.model_validate(data)
    except ValidationError as exc:
        # A value YAML read as a number where the field takes text (http_version=1.1) is
        # meant as written: retry those as text before reporting anything.
        as_text = _as_text_where_expected(exc, assignments)
        if as_text is not None:
            return before, load_with_overrides(path, as_text)[1]
        changed = YamlDocument(data=data, source=document.source, file=document.file)
        problems = problems_from_validation(exc, changed, Profile)
        raise ProfileError([_blame(p, assignments, created) for p in problems]) from None
    return before, after


def _as_text_where_expected(
    exc: Exception, assignments: Sequence[Assignment]
) -> list[Assignment] | None:
    """``assignments`` with numbers turned back into their text where validation wanted
    text at exactly that field; None when no such assignment is to blame."""
    from pydantic import ValidationError

    assert isinstance(exc, ValidationError)
    wants_text = {
        tuple(error["loc"])
        for error in exc.errors()
        if error["type"] in ("string_type", "literal_error", "enum")
    }
    retyped = [
        a.model_copy(update={"value": a.text.partition("=")[2].strip()})
        if isinstance(a.value, int | float)
        and not isinstance(a.value, bool)
        and a.path in wants_text
        else a
        for a in assignments
    ]
    return retyped if retyped != list(assignments) else None


def _blame(
    problem: Problem, assignments: Sequence[Assignment], created: set[tuple[str | int, ...]]
) -> Problem:
    """Point a problem at the ``--set`` that caused it, when one did."""
    for assignment in assignments:
        roots = [_field_path(assignment.path)] + [_field_path(c) for c in created]
        for root in roots:
            if problem.path == root or problem.path.startswith((root + ".", root + "[")):
                return Problem(problem.message, file=f"--set {assignment.text}", path=problem.path)
    return problem


class ScoreChange(BaseModel):
    """One protocol's score and veto before and after the overrides."""

    protocol: Protocol
    before: float
    after: float
    vetoed_before: bool
    vetoed_after: bool


class WhatIf(BaseModel):
    """The effect of overrides on a recommendation."""

    profile: str
    overrides: list[str]
    protocol_before: Protocol | None
    protocol_after: Protocol | None
    changed: bool = Field(description="The winner changed.")
    scores: list[ScoreChange]
    rules_fired: list[RuleHit] = Field(description="Effects that apply only after the change.")
    rules_cleared: list[RuleHit] = Field(description="Effects that no longer apply.")
    after: Recommendation
    kind: Literal["what-if"] = "what-if"


def compare(
    before: Recommendation, after: Recommendation, assignments: Sequence[Assignment]
) -> WhatIf:
    """What changed between two recommendations of the same profile."""

    def key(hit: RuleHit) -> tuple[str, str, str, float]:
        return hit.rule, hit.protocol, hit.effect, hit.delta

    old = {key(h): h for h in before.hits}
    new = {key(h): h for h in after.hits}
    scores = [
        ScoreChange(
            protocol=b.protocol,
            before=b.score,
            after=after.ranked(b.protocol).score,
            vetoed_before=b.vetoed,
            vetoed_after=after.ranked(b.protocol).vetoed,
        )
        for b in sorted(before.ranking, key=lambda r: r.protocol)
    ]
    return WhatIf(
        profile=after.profile,
        overrides=[a.text for a in assignments],
        protocol_before=before.protocol,
        protocol_after=after.protocol,
        changed=before.protocol != after.protocol,
        scores=scores,
        rules_fired=[h for k, h in new.items() if k not in old],
        rules_cleared=[h for k, h in old.items() if k not in new],
        after=after,
    )
