"""``selector verify``: run the workload through the reference runtime and a fault proxy on
loopback and check the recommendation against what happened."""

from __future__ import annotations

import argparse
import sys

from selector.commands._argtypes import fraction, positive_int
from selector.commands.recommend import add_matrix_argument

#: Each sampled client holds a few sockets in each of two side-by-side runs: beyond this the
#: run measures the machine's file-descriptor limit, not the protocol.
MAX_CLIENTS = 200


def bounded_clients(text: str) -> int:
    value = positive_int(text)
    if value > MAX_CLIENTS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_CLIENTS}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profile", metavar="PROFILE", help="workload profile (YAML)")
    parser.add_argument(
        "--clients",
        type=bounded_clients,
        default=20,
        help=f"sampled clients (default 20, at most {MAX_CLIENTS})",
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
    add_matrix_argument(parser)
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
    if report.recommended is None:
        print(f"{args.profile}: every protocol is vetoed; nothing to verify", file=sys.stderr)
        return EXIT_NEGATIVE
    return EXIT_NEGATIVE if report.verdict.outcome == "contradicted" else EXIT_OK
