"""``selector lint``: check a team's current heartbeat and timeouts against the profile's path."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from selector.commands._argtypes import seconds
from selector.commands._options import add_matrix_argument
from selector.commands._planning import add_protocol_argument, protocol_for

if TYPE_CHECKING:
    from selector.errors import Problem
    from selector.loading import YamlDocument
    from selector.planner.lint import LintFinding
    from selector.profile import Profile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from selector.planner.names import HEARTBEAT_MECHANISMS

    parser.add_argument("profile", metavar="PROFILE", help="workload profile (YAML)")
    add_protocol_argument(parser, ("websocket", "sse"))
    add_matrix_argument(parser)
    parser.add_argument(
        "--heartbeat",
        type=seconds,
        metavar="SECONDS",
        help="heartbeat interval in use (WebSocket ping or SSE comment); 0 = none",
    )
    parser.add_argument(
        "--client-timeout",
        type=seconds,
        metavar="SECONDS",
        help="seconds of silence after which clients give the connection up",
    )
    parser.add_argument(
        "--proxy-timeout",
        action="append",
        default=[],
        metavar="HOP=SECONDS",
        help="idle timeout configured on a hop, by its index in infrastructure.path (0 = "
        "outermost) or its kind if unique on the path; repeatable",
    )
    parser.add_argument(
        "--heartbeat-via",
        choices=HEARTBEAT_MECHANISMS,
        help="how the heartbeat is sent",
    )
    parser.add_argument(
        "--sse-buffering",
        choices=("on", "off"),
        help="whether proxy buffering is on for the SSE location",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text: FILE:LINE:COL: field: message [check]; json; github: Actions annotations",
    )


def _hop_index(ref: str, profile: Profile) -> int:
    """A ``--proxy-timeout`` hop reference (index or unique kind) as an index."""
    from selector.errors import UsageError

    path = profile.infrastructure.path
    listing = ", ".join(f"{i}={hop.kind}" for i, hop in enumerate(path)) or "the path is empty"
    if ref.isdigit():
        index = int(ref)
        if index < len(path):
            return index
        raise UsageError.single(
            f"--proxy-timeout: no hop {index} on infrastructure.path ({listing})"
        )
    matches = [i for i, hop in enumerate(path) if hop.kind == ref]
    if len(matches) == 1:
        return matches[0]
    why = "is not on" if not matches else "appears more than once on"
    raise UsageError.single(
        f"--proxy-timeout: {ref!r} {why} infrastructure.path; name the hop by index ({listing})"
    )


def _proxy_timeouts(values: list[str], profile: Profile) -> dict[int, float]:
    from selector.errors import UsageError

    timeouts: dict[int, float] = {}
    for value in values:
        ref, sep, seconds_text = value.partition("=")
        try:
            parsed = seconds(seconds_text) if sep else 0.0
        except argparse.ArgumentTypeError as exc:
            raise UsageError.single(f"--proxy-timeout {value!r}: {exc}") from None
        if not sep or parsed <= 0:
            raise UsageError.single(
                f"--proxy-timeout {value!r}: expected HOP=SECONDS with SECONDS > 0"
            )
        timeouts[_hop_index(ref.strip(), profile)] = parsed
    return timeouts


def _as_problem(finding: LintFinding, document: YamlDocument) -> Problem:
    from selector.errors import Problem

    if finding.hop_index is not None:
        loc = ("infrastructure", "path", finding.hop_index)
        line, col = document.source.locate(loc)
        path = f"infrastructure.path[{finding.hop_index}]"
    else:
        line, col, path = 0, 0, finding.setting
    message = f"{finding.message} [{finding.check}]; fix: {finding.fix}"
    return Problem(message=message, file=document.file, line=line, col=col, path=path)


def run(args: argparse.Namespace) -> int:
    import json

    from selector.errors import EXIT_NEGATIVE, EXIT_OK
    from selector.loading import load_profile, read_yaml
    from selector.planner.lint import CurrentSettings, lint_settings
    from selector.render.annotations import github_annotation

    profile = load_profile(args.profile)
    # Read again for the source map, so findings point at the hop's line in the profile.
    document = read_yaml(args.profile)
    settings = CurrentSettings(
        heartbeat_s=args.heartbeat,
        client_timeout_s=args.client_timeout,
        proxy_timeouts=_proxy_timeouts(args.proxy_timeout, profile),
        heartbeat_via=args.heartbeat_via,
        sse_buffering=None if args.sse_buffering is None else args.sse_buffering == "on",
    )
    protocol = protocol_for(args, profile)
    if protocol not in ("websocket", "sse"):
        # The engine may recommend WebRTC; only its signalling WebSocket crosses the proxies.
        print(f"note: linting the signalling WebSocket of {protocol}", file=sys.stderr)
        protocol = "websocket"
    findings = lint_settings(profile, protocol, settings)
    problems = [_as_problem(f, document) for f in findings]
    if args.format == "json":
        report = {
            "profile": args.profile,
            "protocol": protocol,
            "clean": not findings,
            "findings": [
                {**f.model_dump(mode="json"), "line": p.line, "col": p.col, "path": p.path}
                for f, p in zip(findings, problems, strict=True)
            ],
        }
        print(json.dumps(report, indent=2))
    else:
        for problem in problems:
            print(github_annotation(problem) if args.format == "github" else problem.format())
    count = len(findings)
    verdict = "clean" if not count else f"{count} finding{'s' if count != 1 else ''}"
    print(f"{args.profile}: {protocol}: {verdict}", file=sys.stderr)
    return EXIT_NEGATIVE if findings else EXIT_OK
