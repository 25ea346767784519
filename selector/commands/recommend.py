"""``selector recommend``: the recommended protocol for each profile, with every reason."""

from __future__ import annotations

import argparse
import gc
import sys
from typing import TYPE_CHECKING

from selector.commands._options import add_matrix_argument

if TYPE_CHECKING:
    from selector.errors import Problem


FORMATS = ("table", "json", "markdown")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", metavar="PROFILE", help="profile files or folders of *.yaml"
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    add_matrix_argument(parser)
    parser.add_argument(
        "--print-schema",
        action="store_true",
        help="print the JSON Schema of the --format json output and exit",
    )


def vetoed_summary(rec: object) -> str:
    """``NAME: every protocol is vetoed: protocol: reason; ...`` for stderr."""
    from selector.engine.recommendation import Recommendation

    assert isinstance(rec, Recommendation)
    reasons = "; ".join(f"{r.protocol}: {' / '.join(r.veto_reasons)}" for r in rec.ranking)
    return f"{rec.profile}: every protocol is vetoed: {reasons}"


def render(recs: list[object], fmt: str, *, as_list: bool) -> str:
    """Render recommendations in ``fmt``."""
    from selector.engine.recommendation import Recommendation

    typed = [r for r in recs if isinstance(r, Recommendation)]
    if fmt == "json":
        from selector.render.jsonfmt import render_json

        return render_json(typed, as_list=as_list)
    if fmt == "markdown":
        from selector.render.markdown import render_markdown

        return render_markdown(typed).rstrip("\n")
    from selector.render.table import render_tables

    return render_tables(typed)


def _in_file(problem: Problem, file: str) -> Problem:
    """A problem found after loading (no line known) names the file it came from."""
    if problem.line:
        return problem

    return problem.in_file(file)


def run(args: argparse.Namespace) -> int:
    from selector.errors import EXIT_BAD_INPUT, EXIT_NEGATIVE, EXIT_OK, ProfileError, UsageError

    if args.print_schema:
        from selector.engine.recommendation import recommendation_json_schema
        from selector.render.jsonfmt import dumps

        print(dumps(recommendation_json_schema()))
        return EXIT_OK
    if not args.paths:
        raise UsageError.single("give at least one PROFILE file or folder", file="selector")

    from selector.engine.recommend import recommend
    from selector.loading import expand_paths, load_profile
    from selector.rules.loading import load_matrix

    matrix = load_matrix(args.matrix)
    recs: list[object] = []
    problems: list[Problem] = []
    files = list(expand_paths(args.paths))
    if not files:
        raise UsageError.single("no profile files found", file=" ".join(args.paths))
    # A batch holds every recommendation until it renders them: tens of thousands of live
    # objects that the cyclic collector would scan again and again (about a sixth of a
    # 1,000-file run) although loading, scoring and rendering create no reference cycles
    # (reference counting frees all of it). So the collector rests for the batch.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for path in files:
            try:
                recs.append(recommend(load_profile(path), matrix=matrix))
            except ProfileError as exc:
                problems.extend(_in_file(p, str(path)) for p in exc.problems)
        for problem in problems:
            print(problem.format(), file=sys.stderr)
        # One bad file in a folder does not hide the answers for the good ones.
        if recs:
            print(render(recs, args.format, as_list=len(files) > 1 or len(args.paths) > 1))
    finally:
        if collecting:
            gc.enable()
    negative = [r for r in recs if getattr(r, "protocol", None) is None]
    for rec in negative:
        print(vetoed_summary(rec), file=sys.stderr)
    if problems:
        return EXIT_BAD_INPUT
    return EXIT_NEGATIVE if negative else EXIT_OK
