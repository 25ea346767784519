"""``selector what-if``: re-evaluate a profile with overrides and show what changed."""

from __future__ import annotations

import argparse
import sys

from selector.commands._options import add_matrix_argument
from selector.commands.recommend import vetoed_summary
from selector.render.formats import OutputFormat, add_format_argument

#: The formats of ``--format``; ``selector.render.whatif.WHATIF_FORMATS`` renders each.
FORMATS: tuple[OutputFormat, ...] = (OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.MARKDOWN)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PROFILE", help="profile file")
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        required=True,
        metavar="PATH=VALUE",
        help="override a field, e.g. traffic.client_to_server.rate_hz=30 (repeatable)",
    )
    add_format_argument(parser, FORMATS)
    add_matrix_argument(parser)


def run(args: argparse.Namespace) -> int:

    from selector.builtin import recommend
    from selector.engine.whatif import compare, parse_assignment
    from selector.errors import EXIT_NEGATIVE, EXIT_OK, ProfileError
    from selector.loading import load_with_overrides
    from selector.render.whatif import WHATIF_FORMATS
    from selector.rules.loading import load_matrix

    assignments = [parse_assignment(text) for text in args.assignments]
    matrix = load_matrix(args.matrix)
    before_profile, after_profile = load_with_overrides(args.path, assignments)
    try:
        before = recommend(before_profile, matrix=matrix)
    except ProfileError as exc:
        raise ProfileError([p.in_file(args.path) for p in exc.problems]) from None
    try:
        after = recommend(after_profile, matrix=matrix)
    except ProfileError as exc:
        blamed = " ".join(f"--set {text}" for text in args.assignments)
        raise ProfileError([p.in_file(blamed) for p in exc.problems]) from None
    result = compare(before, after, assignments)
    print(WHATIF_FORMATS[args.format](result, before.plan))
    if result.protocol_after is None:
        print(vetoed_summary(result.after), file=sys.stderr)
        return EXIT_NEGATIVE
    return EXIT_OK
