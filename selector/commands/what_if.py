"""``selector what-if``: re-evaluate a profile with overrides and show what changed."""

from __future__ import annotations

import argparse
import sys

from selector.commands.recommend import FORMATS, add_matrix_argument, vetoed_summary

NAME = "what-if"
HELP = "re-evaluate a profile with --set overrides and show what changes"


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
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    add_matrix_argument(parser)


def run(args: argparse.Namespace) -> int:
    from selector.errors import EXIT_NEGATIVE, EXIT_OK
    from selector.render.whatif import render_whatif
    from selector.rules.loading import load_matrix
    from selector.scoring import recommend
    from selector.whatif import compare, load_with_overrides, parse_assignment

    assignments = [parse_assignment(text) for text in args.assignments]
    matrix = load_matrix(args.matrix)
    before_profile, after_profile = load_with_overrides(args.path, assignments)
    result = compare(
        recommend(before_profile, matrix=matrix),
        recommend(after_profile, matrix=matrix),
        assignments,
    )
    print(render_whatif(result, args.format))
    if result.protocol_after is None:
        print(vetoed_summary(result.after), file=sys.stderr)
        return EXIT_NEGATIVE
    return EXIT_OK
