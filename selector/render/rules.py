"""Rendering of the rules matrix: ``selector rules`` (list, facts) and ``selector explain``."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from selector.rules.conditions import OPERATORS, describe
from selector.rules.facts import FACTS
from selector.rules.model import Matrix, Rule

__all__ = ["explain_text", "facts_table", "rule_data", "rules_markdown", "rules_table"]


def _effects(rule: Rule) -> str:
    return ", ".join(
        f"{e.protocol} {'veto' if e.veto else f'{rule.scaled(e):+g}'}" for e in rule.effects
    )


def rule_data(rule: Rule) -> dict[str, Any]:
    """A rule as plain JSON-ready data (``selector rules --format json``)."""
    return {
        "id": rule.id,
        "title": rule.title,
        "when": describe(rule.condition),
        "effects": {e.protocol: "veto" if e.veto else rule.scaled(e) for e in rule.effects},
        "weight": rule.weight,
        "origin": rule.origin,
        "rationale": rule.rationale,
        "refs": list(rule.refs),
    }


def rules_table(matrix: Matrix) -> str:
    """One row per rule: id, effects, title."""
    rows = [[r.id, _effects(r), r.title] for r in matrix.rules]
    return tabulate(rows, headers=["rule", "effects", "title"], tablefmt="simple")


def rules_markdown(matrix: Matrix) -> str:
    """The matrix as a Markdown table, for generated docs."""
    rows = [[f"`{r.id}`", r.title, f"`{describe(r.condition)}`", _effects(r)] for r in matrix.rules]
    table = tabulate(rows, headers=["rule", "title", "when", "effects"], tablefmt="github")
    return table + "\n"


def explain_text(rule: Rule) -> str:
    """Everything about one rule."""
    lines = [
        f"{rule.id}: {rule.title}",
        "",
        f"when:      {describe(rule.condition)}",
        f"effects:   {_effects(rule)}",
    ]
    if rule.weight != 1.0:
        lines.append(f"weight:    {rule.weight:g} (set by an overlay)")
    lines.append(f"origin:    {rule.origin}")
    lines.extend(
        ["", "rationale (placeholders are filled from the profile):", f"  {rule.rationale}"]
    )
    if rule.refs:
        lines.extend(["", "references:"])
        lines.extend(f"  - {ref}" for ref in rule.refs)
    return "\n".join(lines)


def facts_table() -> str:
    """The facts conditions and rationales may name, with their operators."""
    rows = [
        [
            name,
            fact.kind,
            ", ".join(OPERATORS[fact.kind]),
            ", ".join(fact.choices) if fact.kind in ("enum", "set") else "",
            fact.description,
        ]
        for name, fact in FACTS.items()
    ]
    return tabulate(
        rows,
        headers=["fact", "kind", "operators", "values", "meaning"],
        tablefmt="simple",
        maxcolwidths=[None, None, 28, 30, 40],
    )
