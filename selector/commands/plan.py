"""``selector plan``: heartbeats, hop timeouts and reconnect policy for a profile's path."""

from __future__ import annotations

import argparse
import sys

from selector.commands._options import add_matrix_argument
from selector.commands._planning import add_protocol_argument, protocol_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profile", metavar="PROFILE", help="workload profile (YAML)")
    add_protocol_argument(parser, ("websocket", "sse", "webrtc"))
    parser.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="output format"
    )
    add_matrix_argument(parser)


def run(args: argparse.Namespace) -> int:
    from selector.errors import EXIT_NEGATIVE, EXIT_OK
    from selector.loading import load_profile
    from selector.planner import plan_lifetime
    from selector.render.plan import PLAN_FORMATS

    profile = load_profile(args.profile)
    plan = plan_lifetime(profile, protocol_for(args, profile))
    sys.stdout.write(PLAN_FORMATS[args.format](plan, profile.name))
    if not plan.feasible:
        print(
            f"{args.profile}: the plan cannot be met ({len(plan.problems)} problem"
            f"{'s' if len(plan.problems) != 1 else ''} listed in the output)",
            file=sys.stderr,
        )
        return EXIT_NEGATIVE
    return EXIT_OK
