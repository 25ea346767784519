"""Every Mermaid block in the docs and the golden decision records renders in a real browser
with the Mermaid release pinned in tests/mermaid/package.json, and every score chart draws each
bar from the zero line: a positive score above it, a negative one below it, a 0 score with no
height, and visible lengths in proportion to the scores.

Needs Debian ``chromium`` and ``npm ci`` in tests/mermaid (both done by scripts/system-deps);
skips with the reason otherwise.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.node]

MERMAID_JS = ROOT / "tests" / "mermaid" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _blocks() -> list[tuple[str, str]]:
    pages = sorted((ROOT / "docs").rglob("*.md")) + sorted((ROOT / "tests" / "golden").glob("*.md"))
    found = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for n, block in enumerate(re.findall(r"```mermaid\n(.*?)```", text, re.S)):
            found.append((f"{page.relative_to(ROOT)}#{n}", block))
    return found


BLOCKS = _blocks()

_RENDER = """async (source) => {
  const { svg } = await mermaid.render('chart' + Math.floor(Math.random() * 1e9), source);
  const host = document.getElementById('host');
  host.innerHTML = svg;
  const series = [...host.querySelectorAll('g[class*="bar-plot"]')].map((g) =>
    [...g.querySelectorAll('rect')].map((r) => ({
      x: Number(r.getAttribute('x')),
      y: Number(r.getAttribute('y')),
      height: Number(r.getAttribute('height')),
      fill: r.getAttribute('fill'),
    })));
  const lines = [...host.querySelectorAll('[class*="line-plot"] path')].map(
    (p) => p.getAttribute('d'));
  const background = host.querySelector('.background');
  return {
    series, lines, length: svg.length,
    background: background ? background.getAttribute('fill') : null,
  };
}"""


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    if not MERMAID_JS.is_file():
        pytest.skip("npm mermaid is not installed in tests/mermaid (run scripts/system-deps)")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (run scripts/system-deps as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            tab = browser.new_page()
            tab.set_content("<html><body><div id='host'></div></body></html>")
            tab.add_script_tag(path=str(MERMAID_JS))
            tab.evaluate("mermaid.initialize({ startOnLoad: false })")
            yield tab
        finally:
            browser.close()


def test_the_docs_have_score_charts() -> None:
    reports = [name for name, _ in BLOCKS if name.startswith("docs/reports/")]
    assert len(reports) == len(list((ROOT / "profiles").glob("*.yaml")))


def _visible(bar: dict[str, Any], mask: dict[str, Any]) -> tuple[float, float]:
    """The part of ``bar`` (top, bottom in SVG y, which grows downwards) not covered by ``mask``.

    Both rise from the axis floor and the mask is never taller than the bar, so what shows is
    the bar's span above the mask's top.
    """
    assert bar["x"] == mask["x"]
    return bar["y"], max(bar["y"], mask["y"])


@pytest.mark.parametrize(("name", "source"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_block_renders_and_bars_run_from_zero(page: Any, name: str, source: str) -> None:
    result = page.evaluate(_RENDER, source)
    assert result["length"] > 1000, name
    axis = re.search(r"^\s*x-axis \[(.*)\]$", source, re.M)
    if axis is None or "bar [" not in source:
        return
    # Each label carries its score ("sse (2)", "sse (2, vetoed)").
    labels = re.findall(r'"[^"(]*\((-?[\d.,]+?)(?:, vetoed)?\)"', axis.group(1))
    scores = [float(v.replace(",", "")) for v in labels]
    (zero_path,) = result["lines"]
    zero_y = {float(y) for y in re.findall(r"[ML][\d.]+,([\d.]+)", zero_path)}
    assert len(zero_y) == 1, "the zero line is horizontal"
    (zero,) = zero_y
    bars, masks = result["series"]
    assert len(bars) == len(masks) == len(scores), name
    assert result["background"] is not None
    assert {m["fill"] for m in masks} == {result["background"]}, "the mask hides what it covers"
    assert {b["fill"] for b in bars}.isdisjoint({result["background"]})
    spans = [_visible(bar, mask) for bar, mask in zip(bars, masks, strict=True)]
    for score, (top, bottom) in zip(scores, spans, strict=True):
        if score > 0:
            assert abs(bottom - zero) < 0.01 and top < zero - 0.01, (name, score, top, bottom)
        elif score < 0:
            assert abs(top - zero) < 0.01 and bottom > zero + 0.01, (name, score, top, bottom)
        else:
            assert bottom - top < 0.01, (name, score, top, bottom)
    # Visible length is proportional to the score's magnitude.
    nonzero = [(abs(s), b - t) for s, (t, b) in zip(scores, spans, strict=True) if s]
    for magnitude, length in nonzero:
        for other, other_length in nonzero:
            assert abs(length * other - other_length * magnitude) < 0.01 * magnitude * other + 0.5


def test_chart_of_mixed_signs_draws_from_zero(page: Any) -> None:
    """A positive, a negative and a zero score, including a winner at 0 over negatives."""
    from selector.render.chart import score_chart_mermaid

    for case in ([3.0, 0.0, -3.0], [0.0, -1.0, -4.0], [2.5, 1.0, 0.0]):
        rec = _recommendation(case)
        source = score_chart_mermaid(rec).split("```mermaid\n", 1)[1].rsplit("```", 1)[0]
        test_block_renders_and_bars_run_from_zero(page, f"chart {case}", source)


def _recommendation(scores: list[float]) -> Any:
    import selector

    rec = selector.recommend(selector.load_profile(ROOT / "profiles" / "chat.yaml"))
    ranking = [
        ranked.model_copy(update={"score": score, "vetoed": False})
        for ranked, score in zip(rec.ranking, scores, strict=True)
    ]
    return rec.model_copy(update={"ranking": ranking})
