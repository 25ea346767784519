"""Benchmark of the decision engine. One run, printed as ratios (never a timed test).

    .venv/bin/python bench/engine.py [--files 1000]

1. a full ``recommend()`` (tipping points included) on a pre-validated profile, against
   validating that profile with pydantic: the ratio (goal: under 10x);
2. scoring alone (facts + every rule + winner) in recommendations per second on one core
   (goal: at least 10,000/s), and the full ``recommend()`` rate for comparison;
3. ``selector recommend`` over N profile files against the single-file cold start
   (goal: under 3x: batching amortises start-up).
"""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selector.profile import Profile
    from selector.rules.model import Matrix

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"


def _per_call(fn: Callable[[], object], seconds: float = 0.5) -> float:
    """Median seconds per call over 5 rounds of about ``seconds / 5`` each."""
    fn()
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - start > 0.02:
            break
        n *= 2
    rounds = []
    per_round = max(1, int(n * (seconds / 5) / 0.02))
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(per_round):
            fn()
        rounds.append((time.perf_counter() - start) / per_round)
    return statistics.median(rounds)


def _score_and_pick(matrix: Matrix, profile: Profile) -> int | None:
    from selector.engine.score import score, winner
    from selector.rules.facts import profile_facts

    outcome = score(matrix, profile_facts(profile))
    return winner(outcome.scores, outcome.vetoes)


def bench_library() -> None:
    from selector.engine.recommend import recommend
    from selector.loading import load_profile
    from selector.profile import Profile
    from selector.rules.loading import default_matrix

    matrix = default_matrix()
    ratios, score_rates, full_rates = [], [], []
    for path in sorted(CORPUS.glob("*.yaml")):
        profile = load_profile(path)
        data = profile.model_dump()
        validate = _per_call(functools.partial(Profile.model_validate, data), 0.1)
        full = _per_call(functools.partial(recommend, profile), 0.1)
        scoring = _per_call(functools.partial(_score_and_pick, matrix, profile), 0.1)
        ratios.append(full / validate)
        score_rates.append(1 / scoring)
        full_rates.append(1 / full)
    print(
        f"recommend() / pydantic validation: median {statistics.median(ratios):.1f}x "
        f"(min {min(ratios):.1f}x, max {max(ratios):.1f}x) over {len(ratios)} corpus profiles"
    )
    print(
        f"scoring alone: median {statistics.median(score_rates):,.0f} recommendations/s "
        f"(min {min(score_rates):,.0f}/s); goal 10,000/s -> "
        f"{statistics.median(score_rates) / 10_000:.1f}x the goal"
    )
    print(
        f"full recommend() with tipping points, hits and estimates: median "
        f"{statistics.median(full_rates):,.0f}/s"
    )


def _cli(*args: str) -> float:
    """Wall time of one ``selector recommend --format json`` run.

    Waits with a blocking ``wait()`` (a timer kills a run past 600 s): ``subprocess.run``
    with a timeout polls with sleeps of up to 50 ms, which quantised every figure.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "selector", "recommend", "--format", "json", *args],
        stdout=subprocess.DEVNULL,
    )
    guard = threading.Timer(600, process.kill)
    guard.start()
    try:
        code = process.wait()
    finally:
        guard.cancel()
    elapsed = time.perf_counter() - start
    if code != 0:
        raise subprocess.CalledProcessError(code, process.args)
    return elapsed


def bench_cli(files: int) -> None:
    sources = sorted(CORPUS.glob("*.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in range(files):
            source = sources[n % len(sources)]
            text = source.read_text(encoding="utf-8")
            name = f"{source.stem}-{n}"
            text = text.replace(f"name: {source.stem}", f"name: {name}")
            (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
        single = statistics.median(_cli(str(sources[0])) for _ in range(5))
        batch = statistics.median(_cli(str(folder)) for _ in range(3))
    print(
        f"selector recommend: 1 file {single * 1000:.0f} ms cold, {files} files "
        f"{batch * 1000:.0f} ms -> {batch / single:.2f}x the single-file start (goal < 3x)"
    )
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    bench_library()
    bench_cli(args.files)


if __name__ == "__main__":
    main()
