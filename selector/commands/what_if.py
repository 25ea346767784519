"""``selector what-if``: re-evaluate a profile with overrides and show what changed."""

from __future__ import annotations

import argparse
import sys

from selector.commands._options import add_matrix_argument
from selector.commands.recommend import FORMATS, vetoed_summary


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

    from selector.engine.recommend import recommend
    from selector.engine.whatif import compare, load_with_overrides, parse_assignment
    from selector.errors import EXIT_NEGATIVE, EXIT_OK, ProfileError
    from selector.render.whatif import render_whatif
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
    print(render_whatif(result, args.format, before.plan))
    if result.protocol_after is None:
        print(vetoed_summary(result.after), file=sys.stderr)
        return EXIT_NEGATIVE
    return EXIT_OK
