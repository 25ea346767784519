"""``selector lint``: check a team's current heartbeat and timeouts against the path.

The path is the profile's hops, the deployed proxy configuration read with ``--from``, or
both. Exit codes: 0 nothing found, 1 findings, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from selector.commands._argtypes import seconds
from selector.commands._options import add_from_argument, add_matrix_argument
from selector.commands._planning import add_protocol_argument, protocol_for
from selector.render.formats import OutputFormat, add_format_argument

if TYPE_CHECKING:
    from selector.errors import Problem
    from selector.loading import YamlDocument
    from selector.planner.lint import CurrentSettings, LintFinding
    from selector.planner.sources import MeasuredHop
    from selector.profile import Profile


class _Outcome(NamedTuple):
    """What a lint run found, for the renderers: each finding beside its located problem.
    A NamedTuple, not a dataclass: ``dataclasses`` brings ``inspect``, the largest import
    ``selector lint --help`` would make."""

    profile: str | None
    sources: list[str]
    protocols: list[str]
    findings: list[LintFinding]
    problems: list[Problem]


def _lines(outcome: _Outcome, fmt: OutputFormat) -> str:
    from selector.render.annotations import PROBLEM_LINES

    line = PROBLEM_LINES[fmt]
    return "".join(f"{line(problem)}\n" for problem in outcome.problems)


def _text(outcome: _Outcome) -> str:
    return _lines(outcome, OutputFormat.TEXT)


def _github(outcome: _Outcome) -> str:
    return _lines(outcome, OutputFormat.GITHUB)


def _json(outcome: _Outcome) -> str:
    from selector.jsonvalue import JsonValue
    from selector.render.jsonfmt import dumps

    findings: list[JsonValue] = [
        {
            **f.model_dump(mode="json"),
            "file": p.file,
            "line": p.line,
            "col": p.col,
            "path": p.path,
        }
        for f, p in zip(outcome.findings, outcome.problems, strict=True)
    ]
    report: JsonValue = {
        "profile": outcome.profile,
        "sources": list[JsonValue](outcome.sources),
        "protocol": outcome.protocols[0],
        "protocols": list[JsonValue](outcome.protocols),
        "clean": not outcome.findings,
        "findings": findings,
    }
    return dumps(report) + "\n"


#: Output format -> renderer of the findings.
RENDERERS: dict[OutputFormat, Callable[[_Outcome], str]] = {
    OutputFormat.TEXT: _text,
    OutputFormat.JSON: _json,
    OutputFormat.GITHUB: _github,
}
FORMATS: tuple[OutputFormat, ...] = tuple(RENDERERS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from selector.planner.names import HEARTBEAT_MECHANISMS

    parser.epilog = "exit codes: 0 nothing found, 1 findings, 2 bad input or usage"
    parser.add_argument(
        "profile",
        metavar="PROFILE",
        nargs="?",
        help="workload profile (YAML); optional with --from",
    )
    add_from_argument(
        parser,
        "deployed configuration to read: nginx (.conf, includes followed), HAProxy (.cfg), "
        "Envoy or Kubernetes Ingress YAML (ingress-nginx annotations), the JSON of "
        "'aws elbv2 describe-load-balancer-attributes'; findings name FILE:LINE",
    )
    parser.add_argument(
        "--settings",
        metavar="FILE",
        help="the application's settings as YAML (heartbeat_s, client_timeout_s, heartbeat_via, "
        "sse_buffering); flags win over it",
    )
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
    add_format_argument(
        parser,
        FORMATS,
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


def _as_problem(finding: LintFinding, document: YamlDocument | None, fallback: str) -> Problem:
    from selector.errors import Problem

    message = f"{finding.message} [{finding.check}]; fix: {finding.fix}"
    if finding.file:
        return Problem(message, file=finding.file, line=finding.line, col=1, path=finding.setting)
    if finding.hop_index is not None and document is not None:
        line, col = document.source.locate(("infrastructure", "path", finding.hop_index))
        path = f"infrastructure.path[{finding.hop_index}]"
        return Problem(message=message, file=document.file, line=line, col=col, path=path)
    # A finding about the application's own settings: the profile, else the settings file.
    file = document.file if document is not None else fallback
    return Problem(message=message, file=file, path=finding.setting)


def _nothing() -> CurrentSettings:
    from selector.planner.lint import CurrentSettings

    return CurrentSettings()


def _settings(args: argparse.Namespace, profile: Profile | None) -> CurrentSettings:
    """Flags over the ``--settings`` file."""
    from pydantic import ValidationError

    from selector.errors import UsageError
    from selector.loading import problems_from_validation, read_yaml
    from selector.planner.lint import AppSettings, CurrentSettings

    stated = AppSettings()
    if args.settings:
        document = read_yaml(args.settings, error=UsageError)
        try:
            stated = AppSettings.model_validate(document.data)
        except ValidationError as exc:
            raise UsageError(problems_from_validation(exc, document, AppSettings)) from None
    if args.proxy_timeout and profile is None:
        raise UsageError.single("--proxy-timeout names a hop of a PROFILE: pass the profile")
    buffering = stated.sse_buffering
    if args.sse_buffering is not None:
        buffering = args.sse_buffering == "on"
    return CurrentSettings(
        heartbeat_s=args.heartbeat if args.heartbeat is not None else stated.heartbeat_s,
        client_timeout_s=(
            args.client_timeout if args.client_timeout is not None else stated.client_timeout_s
        ),
        proxy_timeouts=_proxy_timeouts(args.proxy_timeout, profile) if profile else {},
        heartbeat_via=args.heartbeat_via or stated.heartbeat_via,
        sse_buffering=buffering,
    )


def _protocols(
    args: argparse.Namespace, profile: Profile | None, routes: tuple[MeasuredHop, ...]
) -> list[str]:
    """``--protocol``; else the profile's recommendation; else what the files carry."""
    if profile is not None:
        protocol = protocol_for(args, profile)
        if protocol not in ("websocket", "sse"):
            # The engine may recommend WebRTC; only its signalling WebSocket crosses the proxies.
            print(f"note: linting the signalling WebSocket of {protocol}", file=sys.stderr)
            protocol = "websocket"
        return [protocol]
    if args.protocol is not None:
        return [str(args.protocol)]
    carried = {p for route in routes for p in route.carries}
    return [p for p in ("websocket", "sse") if p in carried] or ["websocket"]


def _merge(
    from_profile: tuple[LintFinding, ...],
    from_files: tuple[LintFinding, ...],
    profile: Profile,
    measured_kinds: set[str],
) -> list[LintFinding]:
    """Files win over the profile for the hop kinds they describe; no finding twice."""
    path = profile.infrastructure.path
    kept = [
        f
        for f in from_profile
        if f.hop_index is None or path[f.hop_index].kind not in measured_kinds
    ]
    seen = {(f.check, f.message) for f in from_files}
    return [*from_files, *(f for f in kept if (f.check, f.message) not in seen)]


def run(args: argparse.Namespace) -> int:
    from selector.errors import EXIT_NEGATIVE, EXIT_OK, UsageError
    from selector.loading import load_profile, read_yaml
    from selector.planner.lint import lint_routes, lint_settings
    from selector.planner.sources import read_sources

    if args.profile is None and not args.sources:
        raise UsageError.single(
            "lint: nothing to check: pass a PROFILE, or the deployed configuration with "
            "--from FILE..."
        )
    profile = load_profile(args.profile) if args.profile else None
    # Read again for the source map, so findings point at the hop's line in the profile.
    document = read_yaml(args.profile) if args.profile else None
    settings = _settings(args, profile)
    if not args.sources and settings == _nothing():
        raise UsageError.single(
            "lint: nothing to check: pass the settings in use (--heartbeat SECONDS, "
            "--client-timeout SECONDS, --proxy-timeout HOP=SECONDS, --heartbeat-via, "
            "--sse-buffering, --settings FILE) or the deployed configuration (--from FILE...)"
        )
    routes = read_sources(list(args.sources)) if args.sources else ()
    if args.sources and settings.heartbeat_s is None:
        print(
            "note: no heartbeat stated (--heartbeat or --settings): idle timeouts are not "
            "judged against it",
            file=sys.stderr,
        )
    protocols = _protocols(args, profile, routes)
    findings: list[LintFinding] = []
    for protocol in protocols:
        from_files = lint_routes(routes, protocol, settings) if routes else ()
        if profile is None:
            findings.extend(from_files)
            continue
        from_profile = lint_settings(profile, protocol, settings)
        kinds = {route.kind for route in routes}
        findings.extend(_merge(from_profile, from_files, profile, kinds))
    fallback = args.settings or "<flags>"
    problems = [_as_problem(f, document, fallback) for f in findings]
    label = args.profile or ", ".join(args.sources)
    outcome = _Outcome(args.profile, list(args.sources), protocols, findings, problems)
    sys.stdout.write(RENDERERS[args.format](outcome))
    count = len(findings)
    verdict = "clean" if not count else f"{count} finding{'s' if count != 1 else ''}"
    print(f"{label}: {'+'.join(protocols)}: {verdict}", file=sys.stderr)
    return EXIT_NEGATIVE if findings else EXIT_OK
