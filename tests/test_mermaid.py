"""Every Mermaid block in the docs and the golden decision records renders in a real browser
with the Mermaid release pinned in tests/mermaid/package.json, and the score charts put
negative scores below the zero line and keep bar heights in score order.

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
  const bars = [...host.querySelectorAll('[class*="bar-plot"] rect')].map(
    (r) => [Number(r.getAttribute('y')), Number(r.getAttribute('height'))]);
  const lines = [...host.querySelectorAll('[class*="line-plot"] path')].map(
    (p) => p.getAttribute('d'));
  return { bars, lines, length: svg.length };
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


@pytest.mark.parametrize(("name", "source"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_block_renders_and_negative_scores_sit_below_zero(
    page: Any, name: str, source: str
) -> None:
    result = page.evaluate(_RENDER, source)
    assert result["length"] > 1000, name
    bar_line = re.search(r"^\s*bar \[(.*)\]$", source, re.M)
    if bar_line is None:
        return
    scores = [float(v) for v in bar_line.group(1).split(",")]
    (zero_path,) = result["lines"]
    zero_y = {float(y) for y in re.findall(r"[ML][\d.]+,([\d.]+)", zero_path)}
    assert len(zero_y) == 1, "the zero line is horizontal"
    (zero,) = zero_y
    # Where each bar shows its value (SVG y grows downwards). Mermaid releases differ: some
    # draw every bar up from the axis floor (the value is the top), newer ones draw a
    # negative bar down from zero (the value is the bottom).
    bars = result["bars"]
    assert len(bars) == len(scores)
    ends = [
        y + height if score < 0 and abs(y - zero) < 0.01 else y
        for score, (y, height) in zip(scores, bars, strict=True)
    ]
    for score, end in zip(scores, ends, strict=True):
        if score < 0:
            assert end > zero + 0.01, (name, score)
        elif score > 0:
            assert end < zero - 0.01, (name, score)
        else:
            assert abs(end - zero) < 0.01, (name, score)
        for other, other_end in zip(scores, ends, strict=True):
            if score < other:
                assert end > other_end, (name, score, other)
