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
    from selector.yaml_edit import ValueSpot


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


def _record(profile_path: str, index: int, seconds: float, comment: str) -> bool:
    """Set ``infrastructure.path[index].idle_timeout_s`` in the file, keeping everything else
    as written (comments, a byte-order mark, line endings); the result is validated, and
    checked to differ only there, before it replaces the file (atomically).

    The value gets ``# comment`` unless its line holds a comment already: the user's comment
    is kept and False returned.
    """
    import copy
    from pathlib import Path

    import yaml

    from selector.atomic import write_atomically
    from selector.errors import SelectorError, UsageError
    from selector.loading import load_profile_text, parse_yaml
    from selector.yaml_edit import BOM, read_source, replace_scalar, value_spot

    whole, before = read_source(profile_path)
    bom = BOM if whole.startswith(BOM) else ""
    text = whole[len(bom) :]
    hop_loc = ("infrastructure", "path", index)
    field = f"infrastructure.path[{index}].idle_timeout_s"
    value = _number(seconds)
    line, col = before.source.locate(hop_loc)

    def refuse(why: str) -> UsageError:
        return UsageError.single(
            f"cannot record the measured idle timeout: {why}; set {field} to {value} by hand",
            file=profile_path,
            line=line,
            col=col,
        )

    try:
        hop = value_spot(text, hop_loc)
        spot = value_spot(text, (*hop_loc, "idle_timeout_s"))
    except yaml.YAMLError:
        raise refuse("PyYAML's pure-Python parser cannot read the file") from None
    if hop is None or hop.kind != "mapping":
        raise refuse("the hop is not a mapping written in the file (an alias?)")
    if hop.style == "flow":
        raise UsageError.single(
            "the hop is written in flow style ({...}); write it as a block to record into it",
            file=profile_path,
            line=hop.line,
        )
    note = f"  # {comment}"
    noted = True
    if spot is not None:
        line, col = spot.line, spot.col
        edited = replace_scalar(text, spot, value, keep_quotes=False)
        if edited is None:
            raise refuse("its value is not one line of text")
        if spot.rest_of_line.strip():
            noted = False  # the user's comment stays, and the note is left out
        else:  # the note replaces trailing blanks, before the line break
            cut = spot.end + len(edited) - len(text)
            edited = edited[:cut] + note + edited[cut + len(spot.rest_of_line) :]
    else:
        edited = _insert_entry(text, hop, before.data, hop_loc, f"idle_timeout_s: {value}{note}")
    try:
        after = parse_yaml((bom + edited).encode("utf-8"), profile_path)
        load_profile_text((bom + edited).encode("utf-8"), file=profile_path)
    except SelectorError as exc:
        raise refuse(f"the edited file does not read ({exc})") from None
    expected = copy.deepcopy(before.data)
    hops = expected["infrastructure"]
    assert isinstance(hops, dict) and isinstance(hops["path"], list)
    hops["path"][index]["idle_timeout_s"] = float(value)
    if after.data != expected:
        raise refuse("the edit would change other values too (an anchor used elsewhere?)")
    try:
        write_atomically(Path(profile_path), bom + edited)
    except OSError as exc:
        raise UsageError.single(f"cannot write: {exc.strerror}", file=profile_path) from None
    return noted


def _number(seconds: float) -> str:
    """``seconds`` as YAML reads a number back (``1e+06`` would be text to YAML 1.1)."""
    short = f"{seconds:g}"
    return f"{seconds:.1f}" if "e" in short else short


def _insert_entry(
    text: str, hop: ValueSpot, data: dict[str, object], hop_loc: tuple[str, str, int], entry: str
) -> str:
    """``text`` with ``entry`` (``key: value  # note``) added to the block mapping ``hop``:
    after its first line where that line holds its whole first entry (``- kind: nginx``),
    else before its first key, at the same indentation."""
    from selector.yaml_edit import value_spot

    breaks = ("\r\n", "\n", "\r")
    indent = " " * (hop.col - 1)
    hops = data["infrastructure"]
    assert isinstance(hops, dict) and isinstance(hops["path"], list)
    first_key = next(iter(hops["path"][hop_loc[2]]), None)
    first = value_spot(text, (*hop_loc, first_key)) if isinstance(first_key, str) else None
    if (
        first is not None
        and first.kind in ("scalar", "alias")
        and first.style in (None, "'", '"')
        and first.line == hop.line
        and not any(brk in text[hop.start : first.end] for brk in breaks)
    ):
        end = first.end + len(first.rest_of_line)
        eol = next((brk for brk in breaks if text.startswith(brk, end)), "")
        if eol:
            return f"{text[: end + len(eol)]}{indent}{entry}{eol}{text[end + len(eol) :]}"
        # The last line, with no line break: give it the file's own.
        eol = next((brk for brk in breaks if brk in text), "\n")
        return f"{text}{eol}{indent}{entry}{eol}"
    eol = next((brk for brk in breaks if brk in text), "\n")
    return f"{text[: hop.start]}{entry}{eol}{indent}{text[hop.start :]}"


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
            noted = _record(args.write_profile, index, result.idle_timeout_s, comment)
            kept = "" if noted else f"; the line's own comment is kept, not this note: {comment}"
            print(
                f"{args.write_profile}: infrastructure.path[{index}].idle_timeout_s = "
                f"{_number(result.idle_timeout_s)} (measured{kept})",
                file=sys.stderr,
            )
    silent = result.drop == "silent" or (sse is not None and sse.drop == "silent")
    return EXIT_NEGATIVE if silent else EXIT_OK
