"""``selector adr``: an Architecture Decision Record (MADR) for a workload profile."""

from __future__ import annotations

import argparse
import sys

from selector.commands._options import add_matrix_argument
from selector.commands._output import OUT_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profile", metavar="PROFILE", help="workload profile (YAML)")
    parser.add_argument(
        "--status",
        choices=("proposed", "accepted"),
        default="proposed",
        help="the record's MADR status (default: proposed)",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="run the verification harness first and record its evidence under Confirmation",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        default=None,
        help="write the record to FILE (atomically; missing folders are created) instead of "
        f"stdout; {OUT_HELP}",
    )
    add_matrix_argument(parser)


def run(args: argparse.Namespace) -> int:
    import datetime

    from selector.builtin import recommend
    from selector.commands._output import write_output
    from selector.errors import EXIT_NEGATIVE, EXIT_OK
    from selector.loading import load_profile
    from selector.render.adr import render_adr
    from selector.rules.loading import load_matrix

    matrix = load_matrix(args.matrix)
    profile = load_profile(args.profile)
    rec = recommend(profile, matrix=matrix)
    evidence = None
    if args.verify:
        from selector.verify.runner import run_verification

        evidence = run_verification(profile, matrix=matrix)
    text = render_adr(
        profile,
        rec,
        date=datetime.date.today(),
        status=args.status,
        evidence=evidence,
        profile_file=args.profile,
    )
    write_output(text, args.out)
    if rec.protocol is None:
        from selector.commands.recommend import vetoed_summary

        print(vetoed_summary(rec), file=sys.stderr)
        return EXIT_NEGATIVE
    if evidence is not None and evidence.verdict.outcome == "contradicted":
        print(f"{args.profile}: the verification contradicts the choice", file=sys.stderr)
        return EXIT_NEGATIVE
    return EXIT_OK
