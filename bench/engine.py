"""Benchmark of the decision engine. One run, printed as ratios and bars (never a timed test).

    taskset -c 1 .venv/bin/python bench/engine.py [--files 1000] [--against DIR]

1. ``recommend()`` for one profile (tipping points, plan and estimates included), per call,
   median over the profiles of ``profiles/`` and ``tests/corpus`` (bar: under 0.5 ms on one
   core), against validating that profile with pydantic (the ratio), and scoring alone;
2. ``selector recommend`` over N profile files against the single-file cold start (bar: under
   3x: batching amortises start-up).

Times are CPU time of the process doing the work (``time.process_time``; children's CPU time
for the command line): on a machine shared with other jobs, wall time measures the neighbours
as much as the engine. Pin to one core (``taskset -c 1``) so the figures are for one core.

``--against DIR`` A/B-tests another checkout of the project (for example ``git worktree add
/tmp/main main``) in the same run: both versions are imported into this process side by side
(each under its own ``sys.modules``) and measured in alternating rounds, so both see the same
machine; the command line is measured for both too. The ratio this/other is printed.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
PROFILES = ROOT / "profiles"
#: The bars of issue #10.
RECOMMEND_BAR_S = 0.5e-3
BATCH_BAR = 3.0


def _per_call(fn: Callable[[], object], seconds: float = 0.05) -> float:
    """CPU seconds per call: median of 5 rounds of about ``seconds / 5`` each."""
    fn()
    n = 1
    while True:
        start = time.process_time()
        for _ in range(n):
            fn()
        if time.process_time() - start > 0.01:
            break
        n *= 2
    per_round = max(1, int(n * (seconds / 5) / 0.01))
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(per_round):
            fn()
        rounds.append((time.process_time() - start) / per_round)
    return statistics.median(rounds)


class Version:
    """One checkout of ``selector`` imported into this process under its own modules."""

    def __init__(self, label: str, root: Path) -> None:
        self.label = label
        self.root = root
        self.modules: dict[str, Any] = {}
        with self.active():
            sys.path.insert(0, str(root))
            try:
                import selector
                from selector import recommend  # the public name, in every version
                from selector.loading import load_profile
                from selector.profile import Profile
            finally:
                sys.path.remove(str(root))
            self.recommend = recommend
            self.load_profile = load_profile
            self.validate = Profile.model_validate
            assert Path(selector.__file__).resolve().is_relative_to(root.resolve()), root

    @contextmanager
    def active(self) -> Iterator[None]:
        """Make this version's ``selector`` modules the ones imports see (the engine imports
        some modules lazily, inside functions)."""
        saved = {
            k: v for k, v in sys.modules.items() if k == "selector" or k.startswith("selector.")
        }
        for name in saved:
            del sys.modules[name]
        sys.modules.update(self.modules)
        try:
            yield
        finally:
            self.modules = {
                k: v for k, v in sys.modules.items() if k == "selector" or k.startswith("selector.")
            }
            for name in self.modules:
                del sys.modules[name]
            sys.modules.update(saved)


def _paths() -> list[Path]:
    return sorted(PROFILES.glob("*.yaml")) + sorted(CORPUS.glob("*.yaml"))


def _readable(versions: list[Version], paths: list[Path]) -> list[Path]:
    """The profiles every version reads: an older checkout refuses the fields added since
    (a profile error), and both versions must time the same profiles."""
    kept = list(paths)
    for version in versions:
        with version.active():
            readable = []
            for path in kept:
                try:
                    version.load_profile(path)
                except Exception:  # the checkout's own ProfileError class, not this one's
                    continue
                readable.append(path)
            kept = readable
    if len(kept) < len(paths):
        print(f"{len(paths) - len(kept)} profile(s) left out: a version cannot read them")
    return kept


def bench_library(versions: list[Version], rounds: int) -> None:
    paths = _readable(versions, _paths())
    loaded = {}
    for version in versions:
        with version.active():
            loaded[version.label] = [version.load_profile(p) for p in paths]
    times: dict[str, list[list[float]]] = {v.label: [[] for _ in paths] for v in versions}
    ratios: dict[str, list[float]] = {v.label: [] for v in versions}
    # Alternate versions round by round, so that both see the same load on the machine.
    for _ in range(rounds):
        for version in versions:
            with version.active():
                for i, profile in enumerate(loaded[version.label]):
                    call = functools.partial(version.recommend, profile)
                    times[version.label][i].append(_per_call(call))
    # pydantic validation of every 4th profile, for the ratio (a yardstick that moves with
    # the machine).
    for version in versions:
        with version.active():
            for i in range(0, len(paths), 4):
                data = loaded[version.label][i].model_dump()
                validate = _per_call(functools.partial(version.validate, data))
                ratios[version.label].append(statistics.median(times[version.label][i]) / validate)
    medians = {}
    for version in versions:
        per_profile = [statistics.median(t) for t in times[version.label]]
        median = statistics.median(per_profile)
        medians[version.label] = median
        verdict = "meets" if median < RECOMMEND_BAR_S else "MISSES"
        print(
            f"[{version.label}] recommend(): median {median * 1e3:.3f} ms CPU per profile "
            f"(p90 {statistics.quantiles(per_profile, n=10)[-1] * 1e3:.3f} ms, max "
            f"{max(per_profile) * 1e3:.3f} ms) over {len(paths)} profiles -> "
            f"{median / RECOMMEND_BAR_S:.2f}x the 0.5 ms bar ({verdict} it); "
            f"{statistics.median(ratios[version.label]):.1f}x a pydantic validation"
        )
    if len(versions) == 2:
        this, other = versions[0].label, versions[1].label
        print(
            f"recommend(): {this} / {other} = {medians[this] / medians[other]:.2f} "
            f"(same run, {rounds} alternating rounds)"
        )


def _cli(root: Path, *args: str) -> tuple[float, float]:
    """Wall and CPU seconds of one ``selector recommend --format json`` run from ``root``.

    CPU time is the child's user + system time (``os.wait4``). A timer kills a run past
    600 s; ``subprocess.run`` with a timeout polls with sleeps that quantise wall figures.
    """
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(root))
    process = subprocess.Popen(
        [sys.executable, "-m", "selector", "recommend", "--format", "json", *args],
        stdout=subprocess.DEVNULL,
        cwd=root,
        env=env,
    )
    guard = threading.Timer(600, process.kill)
    guard.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        guard.cancel()
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    if code != 0:
        raise subprocess.CalledProcessError(code, process.args)
    return elapsed, usage.ru_utime + usage.ru_stime


def bench_cli(versions: list[Version], files: int, runs: int) -> None:
    sources = _readable(versions, sorted(CORPUS.glob("*.yaml")))
    folder = Path(tempfile.mkdtemp(prefix="selector-bench-"))
    try:
        for n in range(files):
            source = sources[n % len(sources)]
            text = source.read_text(encoding="utf-8")
            name = f"{source.stem}-{n}"
            text = text.replace(f"name: {source.stem}", f"name: {name}")
            (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
        single: dict[str, list[tuple[float, float]]] = {v.label: [] for v in versions}
        batch: dict[str, list[tuple[float, float]]] = {v.label: [] for v in versions}
        for _ in range(runs):
            for version in versions:
                single[version.label].append(_cli(version.root, str(sources[0])))
                batch[version.label].append(_cli(version.root, str(folder)))
        for version in versions:
            one = [statistics.median(x[k] for x in single[version.label]) for k in (0, 1)]
            many = [statistics.median(x[k] for x in batch[version.label]) for k in (0, 1)]
            ratio = many[1] / one[1]
            verdict = "meets" if ratio < BATCH_BAR else "MISSES"
            print(
                f"[{version.label}] selector recommend: 1 file {one[1] * 1e3:.0f} ms CPU "
                f"({one[0] * 1e3:.0f} ms wall) cold, {files} files {many[1] * 1e3:.0f} ms CPU "
                f"({many[0] * 1e3:.0f} ms wall) -> {ratio:.2f}x the single-file start in CPU "
                f"({many[0] / one[0]:.2f}x wall); bar < {BATCH_BAR:g}x ({verdict} it)"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating library rounds")
    parser.add_argument("--runs", type=int, default=3, help="command-line runs per version")
    parser.add_argument("--against", type=Path, help="another checkout to A/B against")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    print(f"python {sys.version.split()[0]}, cpus {affinity}, rounds {args.rounds}")
    versions = [Version("this", ROOT)]
    if args.against is not None:
        versions.append(Version("other", args.against))
    bench_library(versions, args.rounds)
    if not args.skip_cli:
        bench_cli(versions, args.files, args.runs)


if __name__ == "__main__":
    main()
