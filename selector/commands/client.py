"""``selector client ws|sse URL``: a reconnecting client for manual use and scripts.

Prints every event as one JSON line on stdout (``{"id", "event", "data"}``) and, on exit, one
JSON summary line on stderr (connects, reconnects, acks, mutations still pending, dead-peer
verdicts, why it stopped). Exit codes: 0 ok; 1 when the client never connected, stopped for
good (a fatal close or HTTP status) or a mutation given with ``--send`` was never
acknowledged; 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from selector.commands._argtypes import non_negative_int, positive_float, positive_int, seconds
from selector.jsonvalue import JsonValue

if TYPE_CHECKING:  # asyncio costs ~30 ms at import: only `run` needs it
    import asyncio


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "protocol",
        # "websocket" as every other command spells the protocol; "ws" as the URL scheme.
        choices=("ws", "websocket", "sse"),
        help="transport to use: ws (also spelled websocket) or sse",
    )
    parser.add_argument(
        "url",
        help="server URL, e.g. ws://127.0.0.1:8765 or http://127.0.0.1:8765 "
        "(/ws or /sse is added when the URL has no path)",
    )
    parser.add_argument("--client-id", help="stable id for dedupe across reconnects (random)")
    parser.add_argument(
        "--send",
        action="append",
        default=[],
        metavar="JSON",
        help='a mutation {"op": NAME, "data": ...}; repeatable, sent in order, each '
        "resent after reconnects until the server acks it",
    )
    parser.add_argument(
        "--last-event-id", type=non_negative_int, help="resume the stream after this id"
    )
    parser.add_argument("--first-seq", type=positive_int, default=1, help="first mutation seq (1)")
    parser.add_argument("--token", help="bearer token")
    parser.add_argument(
        "--count",
        type=non_negative_int,
        help="exit after this many events, once every --send mutation is acked "
        "(--count 0: send, wait for the acks, exit)",
    )
    parser.add_argument("--duration", type=seconds, help="exit after this many seconds")
    parser.add_argument(
        "--silence-timeout",
        type=positive_float,
        default=35.0,
        help="seconds without any frame, heartbeat or comment before the server counts as "
        "dead and the client reconnects (35)",
    )


def _usage_error(message: str, option: str) -> Exception:
    from selector.errors import UsageError

    return UsageError.single(message, path=option)


def _parse_mutations(values: list[str]) -> list[tuple[str, JsonValue]]:
    import json

    from selector.runtime.protocol.envelope import EnvelopeError, check_value

    mutations: list[tuple[str, JsonValue]] = []
    for index, raw in enumerate(values, start=1):
        option = f"--send #{index}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _usage_error(f"not JSON: {exc.msg} (column {exc.colno})", option) from None
        except RecursionError:
            # The stdlib parser recurses per level: thousands of "[" exhaust the stack.
            raise _usage_error("not JSON this client can send: nested too deeply", option) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("op"), str) or not obj["op"]:
            raise _usage_error('expected {"op": "NAME", "data": ...} with a non-empty op', option)
        unknown = sorted(set(obj) - {"op", "data"})
        if unknown:
            raise _usage_error(f"unknown keys {unknown}; only op and data", option)
        data: JsonValue = obj.get("data")
        try:
            # The server refuses these (wire contract): say so before connecting.
            check_value(data)
        except EnvelopeError as exc:
            raise _usage_error(str(exc), option) from None
        mutations.append((obj["op"], data))
    return mutations


def run(args: argparse.Namespace) -> int:
    import asyncio

    mutations = _parse_mutations(args.send)
    return asyncio.run(_run_client(args, mutations))


@contextlib.contextmanager
def _interrupt_cancels(task: asyncio.Future[None]) -> Iterator[None]:
    """While inside, SIGINT / SIGTERM end ``task`` (so the summary still prints)."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, task.cancel)
        except (NotImplementedError, RuntimeError):  # no signal handlers here (Windows)
            continue
        installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def _run_client(args: argparse.Namespace, mutations: list[tuple[str, JsonValue]]) -> int:
    import asyncio
    import json
    import sys

    from selector.errors import EXIT_NEGATIVE, EXIT_OK
    from selector.runtime.client import ClientStoppedError, SseClient, WsClient
    from selector.runtime.protocol.client_wire import ServerEvent

    def print_event(event: ServerEvent) -> None:
        line = {"id": event.id, "event": event.event, "data": event.data}
        print(json.dumps(line, ensure_ascii=False), flush=True)

    client_class = SseClient if args.protocol == "sse" else WsClient
    try:
        client = client_class(
            args.url,
            client_id=args.client_id,
            token=args.token,
            silence_timeout=args.silence_timeout,
            last_event_id=args.last_event_id,
            first_seq=args.first_seq,
            on_event=print_event,
        )
    except ValueError as exc:
        option = "--client-id" if "client_id" in str(exc) else "url"
        raise _usage_error(str(exc), option) from None

    count = args.count
    async with client:
        for index, (op, data) in enumerate(mutations, start=1):
            try:
                await client.send(op, data)
            except ValueError as exc:  # data JSON cannot carry, e.g. an integer over 64 bits
                raise _usage_error(str(exc), f"--send #{index}") from None
        waiting = asyncio.ensure_future(
            client.wait_until(
                lambda: (
                    count is not None and client.stats.events >= count and not client.pending
                ),  # --send mutations are acked before a --count exit
                args.duration,
            )
        )
        with _interrupt_cancels(waiting):
            try:
                await waiting
            except TimeoutError:
                pass  # --duration elapsed
            except ClientStoppedError:
                pass  # reported below from client.failure
            except asyncio.CancelledError:
                if not waiting.cancelled():
                    raise
                # Ctrl-C: fall through to the summary
    stats = client.stats
    failure = client.failure
    if failure is None and stats.connects == 0:
        last = stats.disconnects[-1] if stats.disconnects else "no attempt finished"
        failure = f"never connected ({last})"
    summary = {
        "connects": stats.connects,
        "reconnects": stats.reconnects,
        "events": stats.events,
        "acks": stats.acks,
        "duplicate_acks": stats.duplicate_acks,
        "pending": [m.seq for m in client.pending],
        "rejected": [m.seq for m in client.state.outbox.rejected],
        "dead_peers": [round(d.silent_for, 3) for d in stats.dead_peers],
        "resyncs": len(stats.resyncs),
        "failure": failure,
    }
    print(json.dumps(summary), file=sys.stderr)
    refused = client.pending or client.state.outbox.rejected
    return EXIT_NEGATIVE if failure or refused else EXIT_OK
