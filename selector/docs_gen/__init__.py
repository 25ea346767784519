"""Generated documentation: references, reports and decision records from the same source
of truth that computes the answers, so the docs cannot drift from behaviour.

``generate()`` is pure apart from reading package data and the example profiles; writing and
comparing files is done by :func:`build` and :func:`check`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from selector.atomic import write_atomically, write_files_atomically

if TYPE_CHECKING:
    from selector.engine.recommendation import Recommendation
    from selector.profile import Profile

__all__ = ["build", "check", "generate", "generators", "write_atomically"]

#: Files under the docs folder that ``selector docs`` owns, relative path -> generator.
Generator = Callable[[], str]


def _profile_schema() -> str:
    from selector.schemas import profile_json_schema

    return json.dumps(profile_json_schema(), indent=2) + "\n"


def _recommendation_schema() -> str:
    from selector.engine.recommendation import recommendation_json_schema
    from selector.render.jsonfmt import dumps

    return dumps(recommendation_json_schema()) + "\n"


def _matrix_schema() -> str:
    from selector.render.jsonfmt import dumps
    from selector.rules.schema import matrix_schema

    return dumps(matrix_schema()) + "\n"


def _overlay_schema() -> str:
    from selector.render.jsonfmt import dumps
    from selector.rules.schema import overlay_schema

    return dumps(overlay_schema()) + "\n"


def _profile_reference() -> str:
    from selector.docs_gen.profile_reference import render_profile_reference

    return render_profile_reference()


def _rules_reference() -> str:
    from selector.docs_gen.rules_reference import render_rules_reference

    return render_rules_reference()


Examples = Callable[[], "dict[Path, tuple[Profile, Recommendation]]"]


def _report(path: Path, examples: Examples) -> Generator:
    def make() -> str:
        from selector.docs_gen.reports import render_report

        profile, rec = examples()[path]
        return render_report(profile, rec, f"../../profiles/{path.name}")

    return make


def _library_api() -> str:
    from selector.docs_gen.library_api import render_library_api

    return render_library_api()


def _index(examples: Examples) -> Generator:
    def make() -> str:
        from selector.docs_gen.index import render_index

        reports = [
            (Path("reports") / f"{path.stem}.md", rec) for path, (_, rec) in examples().items()
        ]
        return render_index(reports)

    return make


def _agreement() -> str:
    from selector.corpus import evaluate, load_corpus, v2_field_effects
    from selector.docs_gen.agreement import render_agreement

    cases = load_corpus()
    return render_agreement(evaluate(cases), v2_field_effects(cases))


def generators() -> dict[str, Generator]:
    """Every generated file, by path relative to the docs folder."""
    from selector.docs_gen.reports import example_profiles, example_recommendations

    # Scored once per table, on first use, and shared by the reports and the index.
    examples: Examples = functools.cache(example_recommendations)

    table: dict[str, Generator] = {
        "profile.schema.json": _profile_schema,
        "recommendation.schema.json": _recommendation_schema,
        "matrix.schema.json": _matrix_schema,
        "matrix-overlay.schema.json": _overlay_schema,
        "reference/profile.md": _profile_reference,
        "reference/rules.md": _rules_reference,
        "library-api.md": _library_api,
        "agreement.md": _agreement,
        "README.md": _index(examples),
    }
    for path in example_profiles():
        table[f"reports/{path.stem}.md"] = _report(path, examples)
    return table


def generate() -> dict[str, str]:
    """The content of every generated file, by relative path."""
    return {path: make() for path, make in generators().items()}


#: Folders under the docs folder that hold generated files only: a file there that is no
#: longer generated (the report of a deleted profile) is stale too.
OWNED_FOLDERS: tuple[str, ...] = ("reports",)


def _orphans(out: Path, generated: dict[str, str]) -> list[Path]:
    found = []
    for folder in OWNED_FOLDERS:
        if (out / folder).is_dir():
            for path in sorted((out / folder).glob("*.md")):
                if path.relative_to(out).as_posix() not in generated:
                    found.append(path)
    return found


def build(out: Path) -> list[Path]:
    """Write every generated file under ``out`` and delete orphaned ones from the folders
    ``selector docs`` owns; returns the files that changed or went.

    Everything is rendered and compared first, then every changed file is written to a
    temporary file beside it, and only when all are written are they renamed into place: a
    failure before that leaves the tree as it was. Raises :class:`OSError` naming the file."""
    generated = generate()
    writes = {
        out / relative: content
        for relative, content in generated.items()
        if _differs(out / relative, content)
    }
    orphans = _orphans(out, generated)
    write_files_atomically(writes)
    for path in orphans:
        path.unlink()
    return [*writes, *orphans]


def _differs(path: Path, content: str) -> bool:
    if not path.exists():
        return True
    try:
        return path.read_text(encoding="utf-8") != content
    except UnicodeDecodeError:
        return True  # not what we generate: replaced like any stale file


def check(out: Path) -> list[Path]:
    """Generated files under ``out`` that are missing or differ from what would be generated,
    and orphaned files in the folders ``selector docs`` owns."""
    generated = generate()
    stale = [out / rel for rel, content in generated.items() if _differs(out / rel, content)]
    return stale + _orphans(out, generated)
