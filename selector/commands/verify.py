"""``selector verify``: run the workload through the reference runtime and a fault proxy on
loopback and check the recommendation against what happened."""

from __future__ import annotations

import argparse
import sys

from selector.commands._argtypes import fraction, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profile", metavar="PROFILE", help="workload profile (YAML)")
    parser.add_argument(
        "--clients", type=positive_int, default=20, help="sampled clients (default 20)"
    )
    parser.add_argument(
        "--time-scale",
        type=fraction,
        default=None,
        metavar="X",
        help="multiply heartbeats, timeouts and hop limits by X (default: the path's shortest "
        "idle window lasts about 1 s); message rates and latency budgets are not scaled",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for reproducible runs")
    parser.add_argument(
        "--protocol",
        action="append",
        choices=("websocket", "sse", "webrtc"),
        help="verify only these candidates (repeatable; default all three)",
    )
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    parser.add_argument(
        "--matrix", action="append", metavar="FILE", help="org overlay for the rules matrix"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.epilog = (
        "exit codes: 0 confirmed, weakened or not verifiable; 1 contradicted; 2 bad input"
    )


def run(args: argparse.Namespace) -> int:
    from selector.errors import EXIT_NEGATIVE, EXIT_OK
    from selector.loading import load_profile
    from selector.render.verify import VERIFY_FORMATS
    from selector.rules.loading import load_matrix
    from selector.verify.runner import run_verification
    from selector.verify.traffic import VerifyOptions

    profile = load_profile(args.profile)
    matrix = load_matrix(args.matrix) if args.matrix else None
    options = VerifyOptions(clients=args.clients, time_scale=args.time_scale, seed=args.seed)

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"verify: {message}", file=sys.stderr, flush=True)

    report = run_verification(
        profile,
        options,
        matrix=matrix,
        protocols=tuple(args.protocol) if args.protocol else None,
        progress=progress,
    )
    sys.stdout.write(VERIFY_FORMATS[args.format](report))
    return EXIT_NEGATIVE if report.verdict.outcome == "contradicted" else EXIT_OK
