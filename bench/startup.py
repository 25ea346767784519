"""Start-up cost of the CLI, as ratios against its unavoidable imports, from one run.

    .venv/bin/python bench/startup.py [--runs N]

Prints the median wall time of:
- ``selector validate profiles/chat.yaml`` vs ``bench/startup_peer.py profiles/chat.yaml``,
  the smallest pydantic program that validates the same YAML (target <= 1.25: located
  messages and the full schema add at most 25 %), and
- ``selector --help`` vs ``python -c pass`` (target <= 2.0).
``selector`` is the installed console script, as users run it. Runs are interleaved so drift
on a busy machine hits both sides alike; pin the run to one core (``taskset -c 1``) on a
shared machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        argv, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def compare(
    name: str,
    ours: list[str],
    peer: list[str],
    runs: int,
    target: float,
    peer_env: dict[str, str] | None = None,
) -> bool:
    """Print the median wall and CPU time of both sides and their ratios; the verdict is on
    the wall-time ratio (CPU time says how much of it is waiting on a busy machine)."""
    ours_times, peer_times = [], []
    for _ in range(runs):
        peer_times.append(timed(peer, peer_env))
        ours_times.append(timed(ours))
    ratio = 0.0
    for label, index in (("wall", 0), ("cpu", 1)):
        ours_median = statistics.median(t[index] for t in ours_times)
        peer_median = statistics.median(t[index] for t in peer_times)
        if index == 0:
            ratio = ours_median / peer_median
        print(
            f"{name:<31} {label:<4} {ours_median * 1000:7.1f} ms vs {peer_median * 1000:7.1f} ms"
            f"  ratio {ours_median / peer_median:4.2f}"
        )
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(f"{name:<31} target <= {target}: {verdict}")
    return ratio <= target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    selector = str(Path(py).parent / "selector")
    peer = [py, str(ROOT / "bench" / "startup_peer.py"), "profiles/chat.yaml"]
    results = [
        compare(
            "validate profiles/chat.yaml",
            [selector, "validate", "profiles/chat.yaml"],
            peer,
            args.runs,
            1.25,
        ),
        # selector skips pydantic's plugin scan (PYDANTIC_DISABLE_PLUGINS); a peer that skips
        # it too shows what the project's own code costs on top of pydantic's.
        compare(
            "validate, peer without plugins",
            [selector, "validate", "profiles/chat.yaml"],
            peer,
            args.runs,
            1.25,
            peer_env={**os.environ, "PYDANTIC_DISABLE_PLUGINS": "__all__"},
        ),
        compare("--help", [selector, "--help"], [py, "-c", "pass"], args.runs, 2.0),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
