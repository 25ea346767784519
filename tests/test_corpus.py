"""The labelled corpus: realistic profiles with the protocol their builders chose (or that
documented engineering reasoning picks), each justified in the file's header comment.

Agreement must stay at or above 90 %; the disagreements are printed so that a change of the
matrix shows which cases it moved. Rules must never be tuned to a corpus profile by name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from selector.engine.recommend import recommend
from selector.loading import load_profile

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.yaml"))
MIN_AGREEMENT = 0.90
_EXPECTED = re.compile(r"^# expected: (websocket|sse|webrtc)$", re.MULTILINE)
_WHY = re.compile(r"^# why: (.+?)(?=^[^#])", re.MULTILINE | re.DOTALL)


def _label(path: Path) -> tuple[str, str]:
    text = path.read_text(encoding="utf-8")
    expected = _EXPECTED.search(text)
    why = _WHY.search(text)
    assert expected, f"{path.name}: no '# expected: PROTOCOL' line"
    assert why, f"{path.name}: no '# why:' comment justifying the label"
    return expected.group(1), why.group(1)


def test_corpus_is_large_and_balanced() -> None:
    labels = [_label(p)[0] for p in FILES]
    assert len(labels) >= 25
    for protocol in ("websocket", "sse", "webrtc"):
        assert labels.count(protocol) >= 5, f"fewer than 5 {protocol} cases"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_label_is_justified_with_a_source(path: Path) -> None:
    _, why = _label(path)
    assert "https://" in why, f"{path.name}: the justification cites no URL"
    assert load_profile(path).name == path.stem, "file name and profile name differ"


def test_agreement_with_the_corpus() -> None:
    misses = []
    for path in FILES:
        expected, _ = _label(path)
        rec = recommend(load_profile(path))
        if rec.protocol != expected:
            scores = ", ".join(f"{r.protocol} {r.score:g}" for r in rec.ranking)
            misses.append(f"{path.stem}: expected {expected}, got {rec.protocol} ({scores})")
    agreement = 1 - len(misses) / len(FILES)
    report = f"corpus agreement {agreement:.0%} ({len(FILES) - len(misses)}/{len(FILES)})"
    print("\n" + report + "".join(f"\n  miss: {m}" for m in misses))
    assert agreement >= MIN_AGREEMENT, report + "\n" + "\n".join(misses)
