"""What-if: re-evaluate a profile with field overrides and say what changed.

``--set traffic.client_to_server.rate_hz=30`` sets one field (values are read as YAML
scalars or flow lists: ``30``, ``true``, ``"2"``, ``[browser, mobile]``); missing parent
blocks are created, list items are addressed by index (``infrastructure.path.0.kind=nginx``).
The loading side (:func:`selector.loading.load_with_overrides`) reads the file, applies the
overrides and validates the changed profile like a file, a problem caused by an override
reported against that ``--set`` instead of a line of the file; this module reads nothing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from selector.engine.recommendation import Recommendation, RuleHit
from selector.errors import Problem, UsageError, field_path
from selector.protocols import Protocol

__all__ = [
    "Assignment",
    "ScoreChange",
    "WhatIf",
    "apply_assignments",
    "compare",
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
                    f"'{field_path(here)}' is not a block that holds fields",
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
            f"cannot set '{field_path(assignment.path)}' here", file=f"--set {assignment.text}"
        )
    return out, created


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
