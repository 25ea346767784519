"""Rendering of ``selector what-if`` results."""

from __future__ import annotations

from collections.abc import Callable

from tabulate import tabulate

from selector.engine.whatif import WhatIf
from selector.planner.compare import plan_changes
from selector.planner.model import LifetimePlan
from selector.render.formats import OutputFormat
from selector.render.table import number

__all__ = [
    "WHATIF_FORMATS",
    "render_whatif_json",
    "render_whatif_markdown",
    "render_whatif_text",
]


def _effect(delta: float, effect: str) -> str:
    return "veto" if effect == "veto" else f"{delta:+g}"


def render_whatif_json(result: WhatIf, before_plan: LifetimePlan | None = None) -> str:
    """The comparison as JSON (``before_plan`` is not part of it)."""
    from selector.render.jsonfmt import dumps

    return dumps(result.model_dump(mode="json"))


def render_whatif_text(result: WhatIf, before_plan: LifetimePlan | None = None) -> str:
    """The comparison for people; with ``before_plan`` (the lifetime plan of the profile as
    written), also what the overrides change in the plan."""
    return _whatif_document(result, before_plan, markdown=False)


def render_whatif_markdown(result: WhatIf, before_plan: LifetimePlan | None = None) -> str:
    """As :func:`render_whatif_text`, in Markdown."""
    return _whatif_document(result, before_plan, markdown=True)


def _whatif_document(result: WhatIf, before_plan: LifetimePlan | None, *, markdown: bool) -> str:
    tablefmt = "github" if markdown else "simple"
    before = result.protocol_before or "nothing (all vetoed)"
    after = result.protocol_after or "nothing (all vetoed)"
    verdict = f"{before} -> {after}" if result.changed else f"{after} (unchanged)"
    heading = "## " if markdown else ""
    lines = [
        f"{heading}{result.profile} with {', '.join(result.overrides)}",
        "",
        f"winner: {verdict}",
        "",
    ]
    rows = [
        [
            s.protocol,
            number(s.before) + (" (vetoed)" if s.vetoed_before else ""),
            number(s.after) + (" (vetoed)" if s.vetoed_after else ""),
            f"{s.after - s.before:+g}",
        ]
        for s in result.scores
    ]
    lines.append(
        tabulate(rows, headers=["protocol", "before", "after", "change"], tablefmt=tablefmt)
    )
    for title, hits in (
        ("now fires", result.rules_fired),
        ("no longer fires", result.rules_cleared),
    ):
        if not hits:
            continue
        lines.extend(["", f"{'### ' if markdown else ''}{title}:"])
        for h in hits:
            lines.append(f"  - {h.protocol} {_effect(h.delta, h.effect)} [{h.rule}] {h.reason}")
    if not result.rules_fired and not result.rules_cleared:
        lines.extend(["", "no rule changed: the overrides do not touch any rule's condition"])
    changes = plan_changes(before_plan, result.after.plan)
    if changes:
        lines.extend(["", f"{'### ' if markdown else ''}plan changes:"])
        lines.extend(f"  - {line}" for line in changes)
    elif before_plan is not None:
        lines.extend(["", "the lifetime plan is unchanged"])
    return "\n".join(lines)


#: Output format -> renderer, for ``selector what-if --format``.
WHATIF_FORMATS: dict[OutputFormat, Callable[[WhatIf, LifetimePlan | None], str]] = {
    OutputFormat.TEXT: render_whatif_text,
    OutputFormat.JSON: render_whatif_json,
    OutputFormat.MARKDOWN: render_whatif_markdown,
}
