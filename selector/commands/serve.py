"""``selector serve``: run the reference WebSocket + SSE server until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from selector.commands._argtypes import port, positive_float, positive_int

if TYPE_CHECKING:
    from selector.runtime.server.settings import ServerSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=port, default=8765, help="port (default 8765; 0 picks a free one)"
    )
    parser.add_argument(
        "--profile",
        metavar="PROFILE",
        help="workload profile: heartbeat and timeouts come from the lifetime planner",
    )
    parser.add_argument(
        "--state",
        metavar="PATH",
        help="SQLite file for durable state (marks, store, event log); default: in memory",
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help="require a bearer token (header, token= query or selector_token cookie); repeat for "
        "several clients' tokens: a client id claimed under one token refuses the others",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="browser Origin allowed on /ws, /echo and POSTs besides the server's own (repeatable)",
    )
    parser.add_argument(
        "--public-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="origin clients reach the server at, e.g. https://example.com behind a proxy: "
        "same-origin for browsers, and its host an allowed Host (repeatable)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="Host header value allowed besides the bound address and localhost (repeatable)",
    )
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="proxy IP or network whose X-Forwarded-For names the client (repeatable)",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=positive_int,
        default=64 * 1024,
        help="largest WebSocket message or POST body, inclusive (default 65536)",
    )
    parser.add_argument(
        "--max-connections-per-ip",
        type=positive_int,
        default=4096,
        help="WS + SSE (+ /echo) connections per client IP (default 4096)",
    )
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        default=10_000,
        help="open TCP connections in all, counted from accept (default 10000)",
    )
    parser.add_argument(
        "--header-timeout",
        type=positive_float,
        default=15.0,
        metavar="SECONDS",
        help="close a connection without complete request headers after this long; also "
        "the keep-alive idle timeout (default 15)",
    )
    parser.add_argument(
        "--echo",
        action="store_true",
        help="serve /echo, a plain WebSocket echo for conformance suites (default off)",
    )
    parser.add_argument(
        "--replay-events", type=int, help="replay buffer events (default: the plan's, else 1000)"
    )
    parser.add_argument("--queue-frames", type=positive_int, default=1000)
    parser.add_argument(
        "--max-client-ids",
        type=positive_int,
        default=100_000,
        help="client ids whose high-water mark and secret are kept; past it the least "
        "recently active is forgotten (default 100000)",
    )
    parser.add_argument(
        "--client-idle",
        type=positive_float,
        default=30 * 24 * 3600.0,
        metavar="SECONDS",
        help="forget a client id idle this long (default 30 days)",
    )
    parser.add_argument(
        "--delivery",
        choices=("reliable", "best_effort"),
        help="slow consumer policy: disconnect (reliable) or skip events (best_effort); "
        "default from the profile's delivery.guarantee, else reliable",
    )
    parser.add_argument("--ping-interval", type=positive_float, help="seconds (overrides)")
    parser.add_argument("--pong-timeout", type=positive_float, help="seconds (overrides)")
    parser.add_argument("--sse-heartbeat", type=positive_float, help="seconds (overrides)")
    parser.add_argument(
        "--no-heartbeat",
        action="store_true",
        help="send no pings, heartbeat events or SSE comments and reap nothing "
        "(a naive server, the control of a verification run)",
    )
    parser.add_argument("--no-uvloop", action="store_true", help="use the default asyncio loop")
    parser.add_argument("--quiet", action="store_true", help="no per-connection logs on stderr")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import dataclasses
    import logging
    import signal
    import sys

    from selector.errors import EXIT_NEGATIVE, EXIT_OK, UsageError
    from selector.runtime.server.settings import (
        NO_HEARTBEAT,
        PlannedSettings,
        ServerSettings,
        plan_for_profile,
    )

    if args.replay_events is not None and args.replay_events < 0:
        raise UsageError.single("--replay-events must be >= 0", path="--replay-events")
    planned = PlannedSettings()
    delivery = args.delivery
    if args.profile:
        from selector.loading import load_profile

        profile = load_profile(args.profile)
        planned = plan_for_profile(profile)
        for message in planned.problems:
            print(f"{args.profile}: lifetime plan problem: {message}", file=sys.stderr)
        if delivery is None and profile.delivery.guarantee == "best_effort":
            delivery = "best_effort"
    if args.no_heartbeat and (args.ping_interval or args.pong_timeout or args.sse_heartbeat):
        raise UsageError.single("--no-heartbeat excludes the other heartbeat flags")
    heartbeat = (
        NO_HEARTBEAT
        if args.no_heartbeat
        else dataclasses.replace(
            planned.heartbeat,
            ping_interval_s=args.ping_interval or planned.heartbeat.ping_interval_s,
            pong_timeout_s=args.pong_timeout or planned.heartbeat.pong_timeout_s,
            sse_comment_s=args.sse_heartbeat or planned.heartbeat.sse_comment_s,
        )
    )
    # Command-line flags win over the plan, the plan over the defaults.
    defaults = ServerSettings()
    replay_events = args.replay_events
    if replay_events is None:
        replay_events = planned.replay_max_events or defaults.replay_max_events
    settings = ServerSettings(
        host=args.host,
        port=args.port,
        heartbeat=heartbeat,
        state_path=args.state,
        tokens=tuple(args.token),
        allowed_origins=tuple(args.allow_origin),
        public_origins=tuple(args.public_origin),
        allowed_hosts=tuple(args.allowed_host),
        trusted_proxies=tuple(args.trusted_proxy),
        max_message_bytes=args.max_message_bytes,
        max_connections_per_ip=args.max_connections_per_ip,
        max_connections=args.max_connections,
        header_timeout_s=args.header_timeout,
        echo=args.echo,
        queue_max_frames=args.queue_frames,
        max_client_ids=args.max_client_ids,
        client_idle_s=args.client_idle,
        delivery=delivery or "reliable",
        replay_max_events=replay_events,
        replay_max_bytes=planned.replay_max_bytes or defaults.replay_max_bytes,
        sse_retry_ms=planned.sse_retry_ms or defaults.sse_retry_ms,
        sse_retry_min_ms=planned.sse_retry_min_ms,
        close_timeout_s=planned.close_timeout_s or defaults.close_timeout_s,
    )
    from selector.runtime.server.app import edge_policy
    from selector.runtime.server.edge import EdgeConfigError

    try:
        edge_policy(settings)
    except EdgeConfigError as exc:
        raise UsageError.single(str(exc), path=exc.flag) from None
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.quiet:
        logging.getLogger("selector.runtime.connection").setLevel(logging.WARNING)
    loop_factory = None
    if not args.no_uvloop:
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:
            pass
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            failed = runner.run(_serve(settings, signal_numbers=(signal.SIGTERM, signal.SIGINT)))
    except OSError as exc:
        raise UsageError.single(f"cannot serve on {args.host}:{args.port}: {exc}") from None
    except Exception as exc:
        import sqlite3

        if isinstance(exc, sqlite3.Error):
            raise UsageError.single(f"cannot use state file: {exc}", file=args.state) from None
        raise
    return EXIT_NEGATIVE if failed else EXIT_OK


async def _serve(settings: ServerSettings, signal_numbers: tuple[int, ...]) -> bool:
    """Serve until a signal (graceful shutdown) or a store failure; True on failure."""
    import asyncio

    from selector.runtime.server.app import running_server

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for number in signal_numbers:
        loop.add_signal_handler(number, stop.set)
    async with running_server(settings) as (hub, _port):
        stop_wait = asyncio.ensure_future(stop.wait())
        fail_wait = asyncio.ensure_future(hub.failed.wait())
        await asyncio.wait((stop_wait, fail_wait), return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        fail_wait.cancel()
        for number in signal_numbers:
            loop.remove_signal_handler(number)  # a second signal stops at once
        await hub.shutdown()
        return hub.failed.is_set()
