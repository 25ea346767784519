"""``selector recommend``: the recommended protocol for each profile, with every reason."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from selector.commands._options import add_matrix_argument
from selector.render.formats import OutputFormat, add_format_argument

if TYPE_CHECKING:
    from selector.engine.recommendation import Recommendation
    from selector.errors import Problem


def _tables(recs: list[Recommendation], as_list: bool) -> str:
    from selector.render.table import render_tables

    return render_tables(recs)


def _json(recs: list[Recommendation], as_list: bool) -> str:
    from selector.render.jsonfmt import render_json

    return render_json(recs, as_list=as_list)


def _markdown(recs: list[Recommendation], as_list: bool) -> str:
    from selector.render.markdown import render_markdown

    return render_markdown(recs).rstrip("\n")


#: Output format -> renderer of the recommendations (``as_list``: JSON gives a list even of
#: one, for a folder or several paths). ``run`` writes JSON as each one is ready instead.
RENDERERS: dict[OutputFormat, Callable[[list[Recommendation], bool], str]] = {
    OutputFormat.TEXT: _tables,
    OutputFormat.JSON: _json,
    OutputFormat.MARKDOWN: _markdown,
}
FORMATS: tuple[OutputFormat, ...] = tuple(RENDERERS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", metavar="PROFILE", help="profile files or folders of *.yaml"
    )
    add_format_argument(parser, FORMATS)
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


def render(recs: list[object], fmt: OutputFormat, *, as_list: bool) -> str:
    """Render recommendations in ``fmt``."""
    from selector.engine.recommendation import Recommendation

    typed = [r for r in recs if isinstance(r, Recommendation)]
    return RENDERERS[fmt](typed, as_list)


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

        if args.paths:
            raise UsageError.single(
                "--print-schema takes no PROFILE: it prints the schema and exits",
                path="--print-schema",
            )
        if args.format is OutputFormat.MARKDOWN:
            raise UsageError.single("a JSON Schema is JSON: no markdown", path="--format")
        print(dumps(recommendation_json_schema()))
        return EXIT_OK
    if not args.paths:
        raise UsageError.single("give at least one PROFILE file or folder", file="selector")

    from selector.builtin import recommend
    from selector.loading import expand_paths, load_profile
    from selector.rules.loading import load_matrix

    matrix = load_matrix(args.matrix)
    recs: list[object] = []
    problems: list[Problem] = []
    files = list(expand_paths(args.paths))
    if not files:
        raise UsageError.single("no profile files found", file=" ".join(args.paths))
    as_list = len(files) > 1 or len(args.paths) > 1
    # JSON is rendered as each recommendation is ready, which then goes: a batch of 1,000
    # profiles kept every object until the end (peak RSS 94 MB, 170 ms system time; 69 MB
    # and 135 ms rendered as it goes, with the faster loading). Written once, at the end,
    # so a failure half-way leaves stdout empty, as before.
    streamed = args.format is OutputFormat.JSON
    rendered: list[bytes] = []
    negative: list[str] = []
    # A batch makes tens of thousands of objects per profile, and keeps the tables and
    # markdown ones until the end: the cyclic collector would scan them and the start-up's
    # modules and matrix again and again (about a sixth of a 1,000-file run) although
    # loading, scoring and rendering create no reference cycles (reference counting frees
    # all of it). So the collector rests for the batch.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if streamed:
            from selector.render.jsonfmt import join_json_items, json_item
        for path in files:
            try:
                rec = recommend(load_profile(path), matrix=matrix)
            except ProfileError as exc:
                problems.extend(_in_file(p, str(path)) for p in exc.problems)
                continue
            if rec.protocol is None:
                negative.append(vetoed_summary(rec))
            if streamed:
                rendered.append(json_item(rec, as_list=as_list))
            else:
                recs.append(rec)
        for problem in problems:
            print(problem.format(), file=sys.stderr)
        # One bad file in a folder does not hide the answers for the good ones.
        if rendered:
            # The newline written on its own: adding it to the output copied all of it.
            _write_bytes(join_json_items(rendered, as_list=as_list))
            _write_bytes(b"\n")
        elif recs:
            print(render(recs, args.format, as_list=as_list))
    finally:
        if collecting:
            gc.enable()
    for summary in negative:
        print(summary, file=sys.stderr)
    if problems:
        return EXIT_BAD_INPUT
    return EXIT_NEGATIVE if negative else EXIT_OK


def _write_bytes(data: bytes) -> None:
    """Write UTF-8 ``data`` to stdout as ``print`` would write its text."""
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    if buffer is None or out.encoding.lower().replace("-", "") != "utf8":
        out.write(data.decode())
        return
    out.flush()
    buffer.write(data)
