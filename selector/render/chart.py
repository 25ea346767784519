"""A Mermaid score chart of a recommendation, for Markdown that GitHub renders.

GitHub renders ``mermaid`` code blocks; ``xychart-beta`` draws a bar chart, but it draws every
bar up from the bottom of the y-axis, not from zero (checked with the Mermaid release pinned in
tests/mermaid): a negative score would look like a positive bar and a score of 0 like a tall one.

The chart therefore draws each score as the difference of two overlapping bar series, both rising
from the axis floor: a coloured bar up to ``max(score, 0)`` and, over it, a bar in the chart's
own background colour up to ``min(score, 0)``. What stays visible runs from zero to the score:
above the zero line for a positive score, below it for a negative one, nothing for 0. A line at 0
marks the baseline, and each axis label carries its score so the numbers read without the bars.
A vetoed protocol keeps its score and says "vetoed" in its label, because a veto is not a score.
"""

from __future__ import annotations

import math

from selector.engine.recommendation import Recommendation
from selector.render.table import number

__all__ = ["CHART_BACKGROUND", "score_chart_mermaid"]

#: The chart's background, also the colour of the masking series: they must be the same.
CHART_BACKGROUND = "#ffffff"
_BAR_COLOUR = "#4e79a7"
_ZERO_LINE_COLOUR = "#333333"
# Plot colours go to the series in order: scores, mask, zero line.
_THEME = (
    '%%{init: {"themeVariables": {"xyChart": {'
    f'"backgroundColor": "{CHART_BACKGROUND}", '
    f'"plotColorPalette": "{_BAR_COLOUR}, {CHART_BACKGROUND}, {_ZERO_LINE_COLOUR}"'
    "}}}}%%"
)


def _label(text: str) -> str:
    # Mermaid strings are double-quoted and have no escape for a quote.
    return '"' + text.replace('"', "'") + '"'


def _axis_bounds(scores: list[float]) -> tuple[int, int]:
    low = math.floor(min(0.0, *scores)) - 1
    high = math.ceil(max(0.0, *scores)) + 1
    return low, high


def _series(values: list[float]) -> str:
    return "[" + ", ".join(number(v).replace(",", "") for v in values) + "]"


def score_chart_mermaid(rec: Recommendation) -> str:
    """A fenced ``mermaid`` block: one bar per protocol (ranking order) from a zero line."""
    scores = [r.score if math.isfinite(r.score) else 0.0 for r in rec.ranking]
    names = [
        f"{r.protocol} ({number(score)}{', vetoed' if r.vetoed else ''})"
        for r, score in zip(rec.ranking, scores, strict=True)
    ]
    low, high = _axis_bounds(scores)
    winner = rec.protocol or "no viable protocol"
    return "\n".join(
        [
            "```mermaid",
            _THEME,
            "xychart-beta",
            f"    title {_label(f'Scores for {rec.profile}: {winner}')}",
            f"    x-axis [{', '.join(_label(n) for n in names)}]",
            f'    y-axis "score" {low} --> {high}',
            f"    bar {_series([max(s, 0.0) for s in scores])}",
            f"    bar {_series([min(s, 0.0) for s in scores])}",
            f"    line {_series([0.0 for _ in scores])}",
            "```",
        ]
    )
