"""Rendering of the rules matrix: ``selector rules`` (list, facts) and ``selector explain``."""

from __future__ import annotations

from tabulate import tabulate

from selector.jsonvalue import JsonObject, JsonValue
from selector.rules.conditions import OPERATORS, AllOf, Compare, Condition, Not, describe
from selector.rules.facts import FACTS, format_fact
from selector.rules.model import Effect, Matrix, Rule
from selector.rules.subjects import SUBJECTS

__all__ = [
    "FACT_COLUMNS",
    "SUBJECT_COLUMNS",
    "condition_in_words",
    "explain_text",
    "fact_rows",
    "facts_table",
    "rule_data",
    "rules_markdown",
    "rules_reference_markdown",
    "rules_table",
    "subject_rows",
    "subjects_table",
]


def _effects(rule: Rule) -> str:
    return ", ".join(f"{e.protocol} {_effect_label(rule, e)}" for e in rule.effects)


def _effect_label(rule: Rule, effect: Effect) -> str:
    if effect.veto:
        return "veto"
    if effect.grade is not None:
        # From the lowest band of the measure to the highest (Effect.label, weighted).
        first, last = effect.grade.deltas[0], effect.grade.deltas[-1]
        return f"{first * rule.weight:+g}..{last * rule.weight:+g} by {effect.grade.measure}"
    return f"{rule.scaled(effect):+g}"


def _effect_data(rule: Rule, effect: Effect) -> JsonValue:
    if effect.veto:
        return "veto"
    if effect.grade is not None:
        grade = effect.grade
        bands: list[JsonValue] = [{"delta": grade.deltas[0] * rule.weight}]
        bands += [
            {"from": bound, "delta": delta * rule.weight}
            for bound, delta in zip(grade.bounds, grade.deltas[1:], strict=True)
        ]
        return {"measure": grade.measure, "bands": bands}
    return rule.scaled(effect)


def _grades(rule: Rule) -> list[str]:
    """One line per graded effect: every band with its delta."""
    return [
        f"{e.protocol} by {e.grade.measure}: {e.grade.label(rule.weight)}"
        for e in rule.effects
        if e.grade is not None
    ]


def rule_data(rule: Rule) -> JsonObject:
    """A rule as plain JSON-ready data (``selector rules --format json``)."""
    return {
        "id": rule.id,
        "title": rule.title,
        "when": describe(rule.condition),
        "applies_to": list(rule.applies_to),
        "evidence": rule.evidence,
        "effects": {e.protocol: _effect_data(rule, e) for e in rule.effects},
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
    rows = [
        [f"`{r.id}`", r.title, _applies(r), f"`{describe(r.condition)}`", _effects(r)]
        for r in matrix.rules
    ]
    table = tabulate(
        rows, headers=["rule", "title", "applies to", "when", "effects"], tablefmt="github"
    )
    return table + "\n"


def explain_text(rule: Rule) -> str:
    """Everything about one rule."""
    lines = [
        f"{rule.id}: {rule.title}",
        "",
        f"applies:   {_applies(rule)}",
        f"when:      {_when(rule)}",
        f"effects:   {_effects(rule)}",
    ]
    lines += [f"graded:    {line}" for line in _grades(rule)]
    if rule.evidence:
        lines.append(f"evidence:  {rule.evidence} (a `selector verify` experiment)")
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


def _when(rule: Rule) -> str:
    # A rule whose subjects say all there is to check has an empty `when`.
    if isinstance(rule.condition, AllOf) and not rule.condition.parts:
        return "its subjects are present"
    return describe(rule.condition)


def _applies(rule: Rule) -> str:
    return ", ".join(rule.applies_to) or "every profile"


#: Column names of the vocabulary listings (``rules --subjects`` and ``rules --facts``).
SUBJECT_COLUMNS = ("subject", "meaning", "present when")
FACT_COLUMNS = ("fact", "kind", "operators", "values", "meaning")


def subject_rows() -> list[list[str]]:
    """The closed vocabulary of ``applies_to`` and what makes each subject present, one row
    per subject (:data:`SUBJECT_COLUMNS`)."""
    return [
        [name, subject.description, subject.shown or describe(subject.condition)]
        for name, subject in SUBJECTS.items()
    ]


def subjects_table() -> str:
    """The closed vocabulary of ``applies_to`` and what makes each subject present."""
    return tabulate(subject_rows(), headers=list(SUBJECT_COLUMNS), tablefmt="simple")


def fact_rows() -> list[list[str]]:
    """The facts and measures conditions and rationales may name, with their operators, one
    row per fact (:data:`FACT_COLUMNS`)."""
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
    # Measures: rationales quote them (with their derivation), conditions compare them with
    # {measure: NAME, OP: VALUE}, graded effects take their size from them.
    from selector.rules.measures import MEASURE_OPERATORS, MEASURES

    rows += [
        [name, "measure", ", ".join(MEASURE_OPERATORS), m.unit, m.description]
        for name, m in MEASURES.items()
    ]
    return rows


def facts_table() -> str:
    """The facts conditions and rationales may name, with their operators."""
    return tabulate(
        fact_rows(),
        headers=list(FACT_COLUMNS),
        tablefmt="simple",
        maxcolwidths=[None, None, 28, 30, 40],
    )


_WORDS = {
    "eq": "is",
    "ne": "is not",
    "gt": "is above",
    "ge": "is at least",
    "lt": "is below",
    "le": "is at most",
    "in": "is one of",
    "not_in": "is none of",
    "contains": "includes",
    "contains_any": "includes any of",
    "only": "includes nothing but",
}


def _compare_in_words(compare: Compare) -> str:
    return f"`{compare.fact}` {_WORDS[compare.op]} {format_fact(compare.value)}"


def condition_in_words(condition: Condition, indent: int = 0) -> list[str]:
    """A condition as nested Markdown list items (``indent`` levels deep), in words:
    ``- all of:`` / ``  - `traffic.client_to_server.rate_hz` is above 10``."""
    pad = "  " * indent
    if isinstance(condition, Compare):
        return [f"{pad}- {_compare_in_words(condition)}"]
    if isinstance(condition, Not):
        return [f"{pad}- not:", *condition_in_words(condition.part, indent + 1)]
    if not condition.parts:
        return [f"{pad}- {'always' if isinstance(condition, AllOf) else 'never'}"]
    if len(condition.parts) == 1:
        return condition_in_words(condition.parts[0], indent)
    head = "all of:" if isinstance(condition, AllOf) else "any of:"
    lines = [f"{pad}- {head}"]
    for part in condition.parts:
        lines += condition_in_words(part, indent + 1)
    return lines


def _rule_section(rule: Rule) -> list[str]:
    lines = [f"### `{rule.id}`", "", f"**{rule.title}**", "", "Applies to (each present):", ""]
    lines += [f"- `{name}`: {SUBJECTS[name].description}" for name in rule.applies_to] or [
        "- every profile"
    ]
    lines += ["", "When:", ""]
    if isinstance(rule.condition, AllOf) and not rule.condition.parts:
        lines.append(f"- {_when(rule)}")
    else:
        lines += condition_in_words(rule.condition)
    lines += ["", f"Effects: {_effects(rule)}"]
    if rule.weight != 1.0:
        lines[-1] += f" (weight {rule.weight:g}, set by an overlay)"
    grades = _grades(rule)
    if grades:
        lines += ["", "Graded (the delta is the band the measure falls in):", ""]
        lines += [f"- {line}" for line in grades]
    if rule.origin != "default":
        lines += ["", f"Added by: `{rule.origin}`"]
    # Placeholders stay visible: the reader sees which profile values a reason will quote.
    lines += ["", "Rationale (`{...}` is filled from the profile):", "", f"> {rule.rationale}"]
    if rule.refs:
        lines += ["", "References:", ""]
        lines += [f"- <{ref}>" for ref in rule.refs]
    return lines


def rules_reference_markdown(matrix: Matrix) -> str:
    """The whole matrix as a Markdown reference: a summary table linking to one section per
    rule (condition in words, effects, rationale template, references)."""
    rows = [[f"[`{r.id}`](#{r.id})", _effects(r), r.title] for r in matrix.rules]
    out = [tabulate(rows, headers=["rule", "effects", "title"], tablefmt="github"), ""]
    for rule in matrix.rules:
        out += _rule_section(rule)
        out.append("")
    return "\n".join(out)
