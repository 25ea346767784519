"""Generated docs: current in the repository, and build/check behave."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from selector import docs_gen
from selector.profile import Profile
from tests.conftest import PROFILES, ROOT


def test_committed_docs_are_current() -> None:
    stale = docs_gen.check(ROOT / "docs")
    assert not stale, f"run `selector docs build`: stale {stale}"


def test_profile_reference_lists_every_field() -> None:
    text = docs_gen.generate()["reference/profile.md"]

    def paths(model: type, prefix: str = "") -> list[str]:
        out = []
        for name, info in model.model_fields.items():  # type: ignore[attr-defined]
            out.append(prefix + name)
            annotation = info.annotation
            for candidate in (annotation, *getattr(annotation, "__args__", ())):
                if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
                    sep = "[]." if name == "path" else "."
                    out += paths(candidate, prefix + name + sep)
        return out

    for path in paths(Profile):
        assert f"| `{path}` |" in text, path


def test_build_then_check_round_trip(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "selector", "docs"]
    check = subprocess.run([*cli, "check", "--out", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 1
    assert "stale or missing" in check.stdout
    build = subprocess.run([*cli, "build", "--out", str(tmp_path)], capture_output=True, text=True)
    assert build.returncode == 0
    assert (tmp_path / "reference" / "profile.md").is_file()
    again = subprocess.run([*cli, "check", "--out", str(tmp_path)], capture_output=True, text=True)
    assert again.returncode == 0, again.stdout
    (tmp_path / "reference" / "profile.md").write_text("edited by hand\n")
    edited = subprocess.run([*cli, "check", "--out", str(tmp_path)], capture_output=True, text=True)
    assert edited.returncode == 1
    assert "reference/profile.md" in edited.stdout


# --- rules reference ---------------------------------------------------------------------------


def test_rules_reference_documents_every_rule() -> None:
    from selector.render.rules import condition_in_words
    from selector.rules.conditions import facts_of
    from selector.rules.loading import default_matrix
    from selector.rules.subjects import SUBJECTS

    text = docs_gen.generate()["reference/rules.md"]
    matrix = default_matrix()
    assert matrix.sha256 in text
    for rule in matrix.rules:
        section = text.split(f"### `{rule.id}`\n", 1)[1].split("\n### ", 1)[0]
        assert f"[`{rule.id}`](#{rule.id})" in text  # summary row links to the section
        assert f"**{rule.title}**" in section
        assert f"> {rule.rationale}" in section
        assert all(f"- <{ref}>" in section for ref in rule.refs)
        assert all(f"`{fact}`" in section for fact in facts_of(rule.condition))
        # The subjects it needs, each with its meaning, then its own condition.
        assert all(f"- `{s}`: {SUBJECTS[s].description}" in section for s in rule.applies_to)
        when = condition_in_words(rule.condition)
        if when == ["- always"]:
            when = ["- its subjects are present"]
        assert "\n".join(when) in section
        for effect in rule.effects:
            if effect.grade is not None:
                # A graded effect lists every band with its delta.
                grade = effect.grade
                assert f"- {effect.protocol} by {grade.measure}: {grade.label()}" in section
                for index, delta in enumerate(grade.deltas):
                    assert f"{delta:+g} {grade.band_label(index)}" in section
                continue
            label = "veto" if effect.veto else f"{effect.delta:+g}"
            assert f"{effect.protocol} {label}" in section


def test_conditions_read_as_nested_lists_in_words() -> None:
    from selector.render.rules import condition_in_words
    from selector.rules.loading import load_overlay_text

    overlay = """\
overlay_version: 1
rules:
  - id: example
    title: Example
    when:
      all:
        - {fact: traffic.client_to_server.rate_hz, gt: 10}
        - any:
            - {fact: clients, contains: mobile}
            - not: {fact: infrastructure.udp_allowed, eq: true}
    effects: {sse: -1}
    rationale: Example.
    refs: [https://example.org/]
"""
    rule = load_overlay_text(overlay).by_id["example"]
    assert condition_in_words(rule.condition) == [
        "- all of:",
        "  - `traffic.client_to_server.rate_hz` is above 10",
        "  - any of:",
        "    - `clients` includes mobile",
        "    - not:",
        "      - `infrastructure.udp_allowed` is true",
    ]


# --- reports and the score chart ---------------------------------------------------------------


def _chart(text: str) -> dict[str, list[str]]:
    block = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    lines = [line.strip() for line in block.splitlines()]
    assert lines[0].startswith("%%{init:") and lines[1] == "xychart-beta"
    chart: dict[str, list[str]] = {}
    for line in lines[2:]:
        key, value = line.split(" ", 1)
        chart.setdefault(key, []).append(value)
    return chart


def _values(scores: list[float]) -> str:
    return "[" + ", ".join(f"{s:g}" for s in scores) + "]"


def test_one_report_per_example_profile_with_chart_reasons_and_plan() -> None:
    import selector

    generated = docs_gen.generate()
    profiles = sorted(PROFILES.glob("*.yaml"))
    assert sorted(k for k in generated if k.startswith("reports/")) == sorted(
        f"reports/{p.stem}.md" for p in profiles
    )
    for path in profiles:
        text = generated[f"reports/{path.stem}.md"]
        rec = selector.recommend(selector.load_profile(path))
        assert text.startswith(f"# {rec.profile}\n")
        assert f"**Recommended: {rec.protocol}**" in text
        assert f"](../../profiles/{path.name})" in text
        assert all(f"`{hit.rule}`" in text for hit in rec.hits)
        assert all(tip.description in text for tip in rec.tipping_points)
        assert rec.plan is not None and f"## Lifetime plan for `{rec.profile}`" in text
        chart = _chart(text)
        # Two bar series, both from the axis floor: the score's positive part, then its
        # negative part drawn over it in the background colour.
        scores = [r.score for r in rec.ranking]
        assert chart["bar"] == [
            _values([max(s, 0.0) for s in scores]),
            _values([min(s, 0.0) for s in scores]),
        ]


def test_chart_axis_spans_zero_and_negative_scores_and_labels_vetoes() -> None:
    import selector
    from selector.render.chart import score_chart_mermaid

    # p2p-file-transfer: WebRTC wins, WebSocket and SSE are vetoed, one score is negative.
    rec = selector.recommend(selector.load_profile(PROFILES / "p2p-file-transfer.yaml"))
    chart = _chart(score_chart_mermaid(rec))
    scores = [r.score for r in rec.ranking]
    assert min(scores) < 0
    (y_axis,) = chart["y-axis"]
    low, high = (float(v) for v in y_axis.removeprefix('"score" ').split(" --> "))
    assert low < min(scores) and high > max(scores) and low < 0 < high
    for ranked in rec.ranking:
        vetoed = ", vetoed" if ranked.vetoed else ""
        label = f'"{ranked.protocol} ({ranked.score:g}{vetoed})"'
        assert label in chart["x-axis"][0]
    assert chart["line"] == [_values([0.0 for _ in scores])]


# --- index, links, library API ----------------------------------------------------------------


def test_every_relative_link_in_the_docs_resolves() -> None:
    import re

    docs = ROOT / "docs"
    pages = [*docs.rglob("*.md"), ROOT / "README.md"]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("#"):
                continue
            resolved = (page.parent / target.split("#", 1)[0]).resolve()
            if not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_index_links_every_guide_reference_and_report() -> None:
    from selector.docs_gen.index import GUIDES, REFERENCES

    generated = docs_gen.generate()
    index = generated["README.md"]
    for path, _ in GUIDES + REFERENCES:
        assert f"]({path})" in index
    for relative in generated:
        if relative.startswith("reports/"):
            assert f"]({relative})" in index
    # Every top-level page that is not generated is a hand-written guide.
    guides = {p.name for p in (ROOT / "docs").glob("*.md")} - set(generated)
    assert guides <= {path for path, _ in GUIDES}, "a guide in docs/ is missing from the index"


def test_library_api_documents_every_public_name() -> None:
    import inspect

    import selector

    text = docs_gen.generate()["library-api.md"]
    for name in selector.__all__:
        if name == "__version__":
            continue
        assert f"### `{name}`" in text
        first_line = (inspect.getdoc(getattr(selector, name)) or "").splitlines()[0]
        words = first_line.replace("``", "`").split(":")[0][:30]
        assert words in text, (name, words)


def test_library_api_lists_each_key_of_a_typed_dict_as_written() -> None:
    from selector.runtime.client import ClientOptions

    text = docs_gen.generate()["library-api.md"]
    section = text.split("### `ClientOptions`", 1)[1].split("\n### ", 1)[0]
    keys = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    assert keys == list(ClientOptions.__annotations__)
    # An alias keeps its name rather than its expansion, and no ForwardRef leaks through.
    assert "| `on_event` | `EventCallback \\| None` |" in section
    assert "ForwardRef" not in section


def test_build_removes_and_check_flags_reports_no_longer_generated(tmp_path: Path) -> None:
    docs_gen.build(tmp_path)
    orphan = tmp_path / "reports" / "deleted-profile.md"
    orphan.write_text("# deleted-profile\n")
    assert docs_gen.check(tmp_path) == [orphan]
    assert orphan in docs_gen.build(tmp_path)
    assert not orphan.exists() and docs_gen.check(tmp_path) == []


def test_yaml_examples_in_the_guides_load() -> None:
    """Profiles and overlays shown in the hand-written docs are real: they validate."""
    import re

    import selector
    from selector.rules.loading import load_overlay_text

    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    seen = {"profile": 0, "overlay": 0}
    for page in pages:
        for block in re.findall(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
            if "..." in block:  # an abridged illustration, not a complete file
                continue
            if block.startswith("schema_version:"):
                selector.load_profile_text(block, file=str(page))
                seen["profile"] += 1
            elif block.startswith("overlay_version:"):
                load_overlay_text(block, file=str(page))
                seen["overlay"] += 1
    assert seen["profile"] >= 2 and seen["overlay"] >= 1, seen


def test_build_into_an_unwritable_place_is_bad_usage(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = subprocess.run(
        [sys.executable, "-m", "selector", "docs", "build", "--out", str(blocker / "docs")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_checking_a_folder_that_is_not_there_is_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from selector.cli import main

    missing = tmp_path / "no-docs-here"
    assert main(["docs", "check", "--out", str(missing)]) == 2
    assert f"{missing}: not a folder" in capsys.readouterr().err
    a_file = tmp_path / "readme.md"
    a_file.write_text("x", encoding="utf-8")
    assert main(["docs", "check", "--out", str(a_file)]) == 2
