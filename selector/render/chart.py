"""A Mermaid score chart of a recommendation, for Markdown that GitHub renders.

GitHub renders ``mermaid`` code blocks; ``xychart-beta`` draws a bar chart. Older Mermaid
releases draw every bar up from the bottom of the axis rather than from zero, which would make
a negative score look like a positive bar. The chart therefore always includes 0 in the axis
range and draws a zero line over the bars: a bar whose top is under the line is a negative
score, whichever release draws it. Vetoed protocols are labelled on the axis, because a veto
is not a score.
"""

from __future__ import annotations

import math

from selector.engine.recommendation import Recommendation
from selector.render.table import number

__all__ = ["score_chart_mermaid"]


def _label(text: str) -> str:
    # Mermaid strings are double-quoted and have no escape for a quote.
    return '"' + text.replace('"', "'") + '"'


def _axis_bounds(scores: list[float]) -> tuple[int, int]:
    low = math.floor(min(0.0, *scores)) - 1
    high = math.ceil(max(0.0, *scores)) + 1
    return low, high


def score_chart_mermaid(rec: Recommendation) -> str:
    """A fenced ``mermaid`` block: one bar per protocol (ranking order) and a zero line."""
    scores = [r.score if math.isfinite(r.score) else 0.0 for r in rec.ranking]
    names = [f"{r.protocol} (vetoed)" if r.vetoed else r.protocol for r in rec.ranking]
    low, high = _axis_bounds(scores)
    values = ", ".join(number(s).replace(",", "") for s in scores)
    winner = rec.protocol or "no viable protocol"
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f"    title {_label(f'Scores for {rec.profile}: {winner}')}",
            f"    x-axis [{', '.join(_label(n) for n in names)}]",
            f'    y-axis "score" {low} --> {high}',
            f"    bar [{values}]",
            f"    line [{', '.join('0' for _ in scores)}]",
            "```",
        ]
    )
