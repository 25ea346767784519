"""``selector plan``: heartbeats, hop timeouts and reconnect policy for a profile's path."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from selector.commands._options import add_from_argument, add_matrix_argument
from selector.commands._planning import add_protocol_argument, protocol_for
from selector.render.formats import OutputFormat, add_format_argument

if TYPE_CHECKING:
    from selector.profile import Profile

#: The formats of ``--format``; ``selector.render.plan.PLAN_FORMATS`` renders each.
FORMATS: tuple[OutputFormat, ...] = (OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.MARKDOWN)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profile", metavar="PROFILE", help="workload profile (YAML)")
    add_protocol_argument(parser, ("websocket", "sse", "webrtc"))
    add_from_argument(
        parser,
        "deployed configuration (as for 'selector lint --from') whose timeouts replace "
        "the profile's hops of the same kind",
    )
    add_format_argument(parser, FORMATS)
    add_matrix_argument(parser)


def _filled(profile: Profile, sources: list[str], protocol: str) -> Profile:
    """The profile with its hops' timeouts read from ``sources``; says where each came from."""
    from selector.planner.sources import read_sources
    from selector.planner.sources.apply import fill_hops

    # WebRTC's signalling WebSocket is what crosses the proxies.
    carried = "sse" if protocol == "sse" else "websocket"
    filled_profile, filled = fill_hops(profile, read_sources(sources), carried)
    for hop in filled:
        parts = [
            f"{label} {t.seconds:g} s from {t.where}" + ("" if t.stated else " (default)")
            for label, t in (("idle timeout", hop.idle), ("lifetime cap", hop.lifetime))
            if t is not None
        ]
        added = " (added to the path)" if hop.added else ""
        print(f"note: {hop.kind}{added}: {'; '.join(parts) or 'no timeout'}", file=sys.stderr)
    return filled_profile


def run(args: argparse.Namespace) -> int:
    from selector.builtin import plan_lifetime
    from selector.errors import EXIT_NEGATIVE, EXIT_OK
    from selector.loading import load_profile
    from selector.render.plan import PLAN_FORMATS

    profile = load_profile(args.profile)
    protocol = protocol_for(args, profile)
    if args.sources:
        profile = _filled(profile, args.sources, protocol)
    plan = plan_lifetime(profile, protocol)
    sys.stdout.write(PLAN_FORMATS[args.format](plan, profile.name))
    if not plan.feasible:
        print(
            f"{args.profile}: the plan cannot be met ({len(plan.problems)} problem"
            f"{'s' if len(plan.problems) != 1 else ''} listed in the output)",
            file=sys.stderr,
        )
        return EXIT_NEGATIVE
    return EXIT_OK
