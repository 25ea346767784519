"""``selector verify``: run the workload through the reference runtime and a fault proxy on
loopback and check the recommendation against what happened."""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING

from selector.commands._argtypes import fraction, positive_int
from selector.commands._options import add_matrix_argument
from selector.render.formats import OutputFormat, add_format_argument

if TYPE_CHECKING:
    from selector.profile import Profile
    from selector.verify.network import Network

#: Each sampled client holds a few sockets in each of two side-by-side runs: beyond this the
#: run measures the machine's file-descriptor limit, not the protocol.
MAX_CLIENTS = 200

#: The formats of ``--format``; ``selector.render.verify.VERIFY_FORMATS`` renders each.
FORMATS: tuple[OutputFormat, ...] = (OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.MARKDOWN)


def bounded_clients(text: str) -> int:
    value = positive_int(text)
    if value > MAX_CLIENTS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_CLIENTS}")
    return value


def milliseconds(text: str) -> float:
    """A finite number of milliseconds >= 0."""
    value = float(text)
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError("must be a finite number of milliseconds >= 0")
    return value


def percent(text: str) -> float:
    """A loss rate in percent, 0 <= PCT < 100."""
    value = float(text)
    if not 0 <= value < 100:
        raise argparse.ArgumentTypeError("must be a percentage in [0, 100)")
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
    parser.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="N",
        help="random state for reproducible runs: the same N draws the same send times and losses",
    )
    parser.add_argument(
        "--protocol",
        action="append",
        choices=("websocket", "sse", "webrtc"),
        help="verify only these candidates (repeatable; default all three)",
    )
    network = parser.add_argument_group(
        "network", "emulated per direction in the fault proxy; nothing is emulated unless asked"
    )
    network.add_argument(
        "--rtt", type=milliseconds, metavar="MS", help="round trip added (half each way)"
    )
    network.add_argument(
        "--jitter",
        type=milliseconds,
        metavar="MS",
        help="random extra delay, up to MS per round trip",
    )
    network.add_argument(
        "--loss",
        type=percent,
        metavar="PCT",
        help="loss per direction: real packet loss in a network namespace of the run's own "
        "when root with ip and iptables, otherwise modelled in the proxy (the report says which)",
    )
    network.add_argument(
        "--network",
        choices=("profile",),
        help="typical figures for the profile's clients (the report says which and why); "
        "--rtt/--jitter/--loss override them",
    )
    add_format_argument(parser, FORMATS)
    add_matrix_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only the heartbeat-plan runs, without the experiments of the deciding rules",
    )
    parser.epilog = (
        "exit codes: 0 confirmed, weakened or not verifiable; 1 contradicted; 2 bad input; "
        "3 the run itself failed on this machine (no verdict)"
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
    options = VerifyOptions(
        clients=args.clients,
        time_scale=args.time_scale,
        random_state=args.random_state,
        network=_network(args, profile),
    )

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"verify: {message}", file=sys.stderr, flush=True)

    report = run_verification(
        profile,
        options,
        matrix=matrix,
        protocols=tuple(args.protocol) if args.protocol else None,
        progress=progress,
        experiments=not args.quick,
    )
    sys.stdout.write(VERIFY_FORMATS[args.format](report))
    if report.recommended is None:
        print(f"{args.profile}: every protocol is vetoed; nothing to verify", file=sys.stderr)
        return EXIT_NEGATIVE
    return EXIT_NEGATIVE if report.verdict.outcome == "contradicted" else EXIT_OK


def _network(args: argparse.Namespace, profile: Profile) -> Network:
    """The network asked for: the profile's typical one, then explicit figures over it."""
    from selector.verify.network import Network, network_for_profile

    base = network_for_profile(profile) if args.network == "profile" else Network()
    given = {"rtt_ms": args.rtt, "jitter_ms": args.jitter, "loss_pct": args.loss}
    flags = {name: value for name, value in given.items() if value is not None}
    if not flags:
        return base
    source = "--rtt/--jitter/--loss" if base.source == "none" else f"{base.source}, overridden"
    return Network(
        rtt_ms=flags.get("rtt_ms", base.rtt_ms),
        jitter_ms=flags.get("jitter_ms", base.jitter_ms),
        loss_pct=flags.get("loss_pct", base.loss_pct),
        source=source,
    )
