"""``selector config``: ready-to-paste proxy configuration with timeouts from the plan."""

from __future__ import annotations

import argparse
import sys

from selector.commands._argtypes import listen_port
from selector.planner.names import CONFIG_TARGETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=CONFIG_TARGETS, help="which proxy to configure")
    parser.add_argument("profile", metavar="PROFILE", help="workload profile (YAML)")
    parser.add_argument(
        "--protocol",
        choices=("websocket", "sse"),
        default=None,
        help="write only this protocol's location (default: both /ws and /sse)",
    )
    parser.add_argument(
        "--upstream",
        metavar="HOST:PORT",
        default=None,
        help="backend address (default 127.0.0.1:8080; for ingress_nginx the Service, "
        "default PROFILE-NAME:8080)",
    )
    parser.add_argument(
        "--listen", type=listen_port, default=80, metavar="PORT", help="port the proxy listens on"
    )


def run(args: argparse.Namespace) -> int:
    from selector.errors import EXIT_NEGATIVE, EXIT_OK
    from selector.loading import load_profile
    from selector.planner.configs import render_config
    from selector.planner.solver import plan_lifetime

    profile = load_profile(args.profile)
    protocols = (args.protocol,) if args.protocol else ("websocket", "sse")
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
    default_upstream = f"{profile.name}:8080" if args.target == "ingress_nginx" else None
    config = render_config(
        args.target,
        profile,
        plans.get("websocket"),
        plans.get("sse"),
        upstream=args.upstream or default_upstream or "127.0.0.1:8080",
        listen=args.listen,
    )
    sys.stdout.write(config.text)
    for line in config.explanation:
        print(f"# {line}", file=sys.stderr)
    return EXIT_OK
