"""Start-up cost of the CLI, as ratios against its unavoidable imports, from one run.

    .venv/bin/python bench/startup.py [--runs N]

Prints the median wall time of:
- ``selector validate profiles/chat.yaml`` vs ``python -c "import yaml; from pydantic import
  BaseModel"`` (target <= 1.35: the project's own models, loading and reporting add at most
  35 % over the libraries it cannot avoid), and
- ``selector --help`` vs ``python -c pass`` (target <= 2.0).
Runs are interleaved so drift on a busy machine hits both sides alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def compare(name: str, ours: list[str], peer: list[str], runs: int, target: float) -> bool:
    ours_times, peer_times = [], []
    for _ in range(runs):
        peer_times.append(timed(peer))
        ours_times.append(timed(ours))
    ours_median = statistics.median(ours_times)
    peer_median = statistics.median(peer_times)
    ratio = ours_median / peer_median
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(
        f"{name:<28} {ours_median * 1000:7.1f} ms vs {peer_median * 1000:7.1f} ms  "
        f"ratio {ratio:4.2f} (target <= {target}) {verdict}"
    )
    return ratio <= target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    results = [
        compare(
            "validate profiles/chat.yaml",
            [py, "-m", "selector", "validate", "profiles/chat.yaml"],
            [py, "-c", "import yaml; from pydantic import BaseModel"],
            args.runs,
            1.35,
        ),
        compare("--help", [py, "-m", "selector", "--help"], [py, "-c", "pass"], args.runs, 2.0),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
