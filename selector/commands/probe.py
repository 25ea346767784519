"""``selector probe URL``: measure the idle timeout of the live path to a WebSocket endpoint
(and, with ``--sse``, to an SSE endpoint behind the same infrastructure).

Exit codes: 0 measured (whatever the answer), 1 the path drops idle connections silently,
2 bad usage or an endpoint that does not accept a WebSocket (or open an SSE stream).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from selector.commands._argtypes import positive_float, positive_int
from selector.render.formats import OutputFormat, add_format_argument

if TYPE_CHECKING:
    from selector.verify.probe import ProbeResult, ProbeSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "exit codes: 0 measured, 1 silent drop found, 2 bad input or usage. The endpoint must "
        "answer WebSocket Pings and send nothing while idle (selector serve does, until its own "
        "ping interval). With --sse, each round ends with one POST to the publish URL, which "
        "the server broadcasts to every subscriber."
    )
    parser.add_argument(
        "url",
        metavar="URL",
        help="ws:// or wss:// endpoint; a client_id query parameter is made unique per connection",
    )
    parser.add_argument(
        "--max-idle",
        type=positive_float,
        default=900.0,
        metavar="SECONDS",
        help="longest idle time tried (default 900 s); beyond it the answer is 'none'",
    )
    parser.add_argument(
        "--precision",
        type=positive_float,
        default=1.0,
        metavar="SECONDS",
        help="stop narrowing a silent drop's timeout within this (default 1 s)",
    )
    parser.add_argument(
        "--connections",
        type=positive_int,
        default=8,
        metavar="N",
        help="connections held at once per round (default 8; at most 6 rounds)",
    )
    parser.add_argument(
        "--reply-timeout",
        type=positive_float,
        default=5.0,
        metavar="SECONDS",
        help="how long a Ping (with --sse: the published event) may go unanswered before the "
        "connection counts as dropped",
    )
    parser.add_argument(
        "--sse",
        action="store_true",
        help="also hold SSE streams idle (after the WebSocket search) and report them apart",
    )
    parser.add_argument(
        "--sse-url",
        metavar="URL",
        help="http(s):// SSE endpoint (implies --sse; default: URL with http(s) and its "
        "trailing /ws made /sse, as on selector serve)",
    )
    parser.add_argument(
        "--publish-url",
        metavar="URL",
        help='where the SSE probe POSTs {"event": "probe", "data": NONCE} as JSON at '
        "the end of each round, to be broadcast to its streams (default: /publish on the SSE "
        "URL's origin); a stream that never shows it was dropped silently",
    )
    add_format_argument(parser, FORMATS)
    parser.add_argument(
        "--write-profile",
        metavar="PROFILE",
        help="record the measured WebSocket idle timeout in this profile's hop (its "
        "idle_timeout_s, with a comment giving the date and URL); the file is rewritten whole or "
        "not at all",
    )
    parser.add_argument(
        "--hop",
        metavar="HOP",
        help="with --write-profile: the hop measured, by index in infrastructure.path or its "
        "kind (default: the only hop, or the outermost one with no stated idle_timeout_s)",
    )


def _hop_index(profile_path: str, ref: str | None) -> int:
    from selector.errors import UsageError
    from selector.loading import load_profile

    path = load_profile(profile_path).infrastructure.path
    listing = ", ".join(f"{i}={hop.kind}" for i, hop in enumerate(path)) or "the path is empty"
    if ref is None:
        unstated = [i for i, hop in enumerate(path) if hop.idle_timeout_s is None]
        if len(path) == 1 or unstated:
            return 0 if len(path) == 1 else unstated[0]
        raise UsageError.single(f"--write-profile: name the hop with --hop ({listing})")
    matches = [i for i, hop in enumerate(path) if ref in (str(i), hop.kind)]
    if len(matches) != 1:
        raise UsageError.single(f"--hop {ref!r}: not exactly one hop on the path ({listing})")
    return matches[0]


def _record(profile_path: str, index: int, seconds: float, comment: str) -> None:
    """Set ``infrastructure.path[index].idle_timeout_s`` in the file, keeping everything else
    as written; the result is validated before it replaces the file."""
    from pathlib import Path

    from selector.atomic import write_atomically
    from selector.errors import UsageError
    from selector.loading import load_profile_text, read_yaml

    document = read_yaml(profile_path)
    with open(profile_path, encoding="utf-8") as handle:
        lines = handle.read().splitlines(keepends=True)
    hop_loc = ("infrastructure", "path", index)
    line, col = document.source.locate(hop_loc)
    if "{" in lines[line - 1]:
        raise UsageError.single(
            "the hop is written in flow style ({...}); write it as a block to record into it",
            file=profile_path,
            line=line,
        )
    entry = f"{' ' * (col - 1)}idle_timeout_s: {seconds:g}  # {comment}\n"
    key = (*hop_loc, "idle_timeout_s")
    if key in document.source.keys:
        lines[document.source.keys[key][0] - 1] = entry
    else:
        lines.insert(line, entry)
    text = "".join(lines)
    load_profile_text(text, file=profile_path)
    try:
        write_atomically(Path(profile_path), text)
    except OSError as exc:
        raise UsageError.single(f"cannot write: {exc.strerror}", file=profile_path) from None


def sse_url_for(ws_url: str) -> str | None:
    """The SSE endpoint beside a ``selector serve`` WebSocket URL: same host and query,
    ``http(s)``, the trailing ``/ws`` made ``/sse``; None for any other path."""
    parts = urlsplit(ws_url)
    if not parts.path.endswith("/ws"):
        return None
    scheme = "https" if parts.scheme == "wss" else "http"
    return urlunsplit(parts._replace(scheme=scheme, path=parts.path[: -len("ws")] + "sse"))


def _report(result: ProbeResult, settings: ProbeSettings) -> dict[str, object]:
    return {
        "url": result.url,
        "idle_timeout_s": result.idle_timeout_s,
        "drop": result.drop,
        "interval_s": [result.low_s, result.high_s],
        "precision_s": settings.precision_s,
        "max_idle_s": settings.max_idle_s,
        "connections": result.connections,
        "rounds": result.rounds,
        "held": [
            {"idle_s": h.idle_s, "outcome": h.outcome, "closed_after_s": h.closed_after_s}
            for h in result.held
        ],
    }


def _answer(result: ProbeResult, unanswered: str) -> str:
    if result.drop == "none":
        return f"{result.url}: no drop: every connection survived {result.low_s:g} s idle"
    if result.drop == "silent":
        return (
            f"{result.url}: silent drop after {result.low_s:.1f}-{result.high_s or 0:.1f} s idle "
            f"(about {result.idle_timeout_s:g} s): no FIN or RST, {unanswered}; "
            "heartbeat below it with a 1.5x margin"
        )
    kind = "FIN (a clean close)" if result.drop == "fin" else "RST (a reset)"
    return (
        f"{result.url}: idle timeout {result.idle_timeout_s:g} s, closed with {kind}; "
        "heartbeat below it with a 1.5x margin"
    )


def _text(result: ProbeResult, sse: ProbeResult | None, settings: ProbeSettings) -> str:
    lines = [_answer(result, "the next Ping went unanswered")]
    if sse is not None:
        lines.append(_answer(sse, "the event published after the idle time never arrived"))
    return "".join(f"{line}\n" for line in lines)


def _json(result: ProbeResult, sse: ProbeResult | None, settings: ProbeSettings) -> str:
    import json

    report = _report(result, settings)
    if sse is not None:
        report["sse"] = _report(sse, settings)
    return json.dumps(report, indent=2) + "\n"


#: Output format -> renderer of the WebSocket (and SSE) answers.
RENDERERS: dict[OutputFormat, Callable[[ProbeResult, ProbeResult | None, ProbeSettings], str]] = {
    OutputFormat.TEXT: _text,
    OutputFormat.JSON: _json,
}
FORMATS: tuple[OutputFormat, ...] = tuple(RENDERERS)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from selector.errors import EXIT_NEGATIVE, EXIT_OK, UsageError
    from selector.verify.probe import ProbeError, ProbeSettings, probe_idle_timeout

    if not args.url.startswith(("ws://", "wss://")):
        raise UsageError.single("not a ws:// or wss:// URL", file=args.url)
    sse_url: str | None = None
    if args.sse or args.sse_url or args.publish_url:
        sse_url = args.sse_url or sse_url_for(args.url)
        if sse_url is None:
            raise UsageError.single(
                "--sse: the URL's path does not end in /ws; give the SSE endpoint with --sse-url",
                file=args.url,
            )
        for name, given in (("--sse-url", sse_url), ("--publish-url", args.publish_url)):
            if given is not None and not given.startswith(("http://", "https://")):
                raise UsageError.single(f"{name}: not an http:// or https:// URL", file=given)
    settings = ProbeSettings(
        max_idle_s=args.max_idle,
        precision_s=min(args.precision, args.max_idle),
        connections=args.connections,
        reply_timeout_s=args.reply_timeout,
    )

    index = _hop_index(args.write_profile, args.hop) if args.write_profile else None

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    async def measure() -> tuple[ProbeResult, ProbeResult | None]:
        ws = await probe_idle_timeout(args.url, settings, progress=progress)
        if sse_url is None:
            return ws, None
        from selector.verify.sseprobe import probe_sse_idle_timeout

        progress(f"SSE: {sse_url}")
        sse = await probe_sse_idle_timeout(
            sse_url, settings, publish_url=args.publish_url, progress=progress
        )
        return ws, sse

    try:
        result, sse = asyncio.run(measure())
    except ProbeError as exc:
        raise UsageError.single(str(exc), file=args.url) from None
    sys.stdout.write(RENDERERS[args.format](result, sse, settings))
    if args.write_profile and index is not None:
        import datetime

        if result.idle_timeout_s is None:
            print(
                f"{args.write_profile}: nothing dropped; the profile is unchanged", file=sys.stderr
            )
        else:
            today = datetime.date.today().isoformat()
            comment = f"measured by selector probe on {today} ({result.drop} drop, {args.url})"
            _record(args.write_profile, index, result.idle_timeout_s, comment)
            print(
                f"{args.write_profile}: infrastructure.path[{index}].idle_timeout_s = "
                f"{result.idle_timeout_s:g} (measured)",
                file=sys.stderr,
            )
    silent = result.drop == "silent" or (sse is not None and sse.drop == "silent")
    return EXIT_NEGATIVE if silent else EXIT_OK
