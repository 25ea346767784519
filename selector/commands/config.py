"""``selector config``: ready-to-paste proxy configuration with timeouts from the plan."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from selector.commands._argtypes import listen_port
from selector.commands._options import add_matrix_argument
from selector.planner.names import CONFIG_TARGETS

if TYPE_CHECKING:
    from selector.profile import Profile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=CONFIG_TARGETS, help="which proxy to configure")
    parser.add_argument("profile", metavar="PROFILE", help="workload profile (YAML)")
    parser.add_argument(
        "--protocol",
        choices=("websocket", "sse"),
        default=None,
        help="write only this protocol's location (default: /ws and /sse, leaving out one "
        "the rules veto for the profile)",
    )
    add_matrix_argument(parser)
    parser.add_argument(
        "--upstream",
        metavar="HOST:PORT",
        default=None,
        help="backend address (default 127.0.0.1:8765, where 'selector serve' listens; for "
        "ingress_nginx the Service, default PROFILE-NAME:8765)",
    )
    parser.add_argument(
        "--listen", type=listen_port, default=80, metavar="PORT", help="port the proxy listens on"
    )


def _allowed_protocols(profile: Profile, matrix_files: list[str]) -> tuple[str, ...]:
    """WebSocket and SSE, less the one the rules (with ``--matrix`` overlays) veto; both when
    both are vetoed, since the configuration then serves whichever is built anyway."""
    from selector.builtin import recommend
    from selector.rules.loading import load_matrix

    ranking = recommend(profile, matrix=load_matrix(matrix_files)).ranking
    vetoed = {rank.protocol for rank in ranking if rank.veto_reasons}
    allowed = tuple(p for p in ("websocket", "sse") if p not in vetoed)
    return allowed or ("websocket", "sse")


def run(args: argparse.Namespace) -> int:
    from selector.builtin import plan_lifetime
    from selector.errors import EXIT_NEGATIVE, EXIT_OK, Problem, UsageError
    from selector.loading import load_profile
    from selector.planner.configs import render_config

    profile = load_profile(args.profile)
    protocols = (args.protocol,) if args.protocol else _allowed_protocols(profile, args.matrix)
    if all(hop.kind != args.target for hop in profile.infrastructure.path):
        # Users add hops before they declare them, so the file is still written.
        print(
            f"{args.profile}: warning: infrastructure.path has no {args.target} hop; the "
            "timeouts in it are planned as if one stood in front of the servers",
            file=sys.stderr,
        )
    plans = {protocol: plan_lifetime(profile, protocol) for protocol in protocols}
    problems = [(protocol, p) for protocol, plan in plans.items() for p in plan.problems]
    if problems:
        for protocol, problem in problems:
            print(
                f"{args.profile}: {protocol}: [{problem.code}] {problem.message}; "
                f"fix: {problem.fix}",
                file=sys.stderr,
            )
        print(
            f"{args.profile}: no configuration written: the plan cannot be met "
            "(see 'selector plan'; --protocol writes one protocol's location only)",
            file=sys.stderr,
        )
        return EXIT_NEGATIVE
    default_upstream = f"{profile.name}:8765" if args.target == "ingress_nginx" else None
    try:
        config = render_config(
            args.target,
            profile,
            plans.get("websocket"),
            plans.get("sse"),
            upstream=args.upstream or default_upstream or "127.0.0.1:8765",
            listen=args.listen,
        )
    except UsageError as error:
        # The library names its arguments; here they were given as options.
        raise UsageError(
            [
                Problem(p.message, p.file, p.line, p.col, f"--{p.path}" if p.path else "")
                for p in error.problems
            ]
        ) from None
    sys.stdout.write(config.text)
    for line in config.explanation:
        print(f"# {line}", file=sys.stderr)
    return EXIT_OK
