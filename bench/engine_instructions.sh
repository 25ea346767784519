#!/bin/sh
# Instructions per recommend() call, counted by valgrind's callgrind: a figure that does not
# move with the load of a shared machine, unlike CPU time (bench/engine.py).
#
#     bench/engine_instructions.sh [CHECKOUT] [PASSES]
#
# CHECKOUT is the project checkout to measure (default: this one), PASSES the passes over
# the profiles of profiles/ and tests/corpus (default 2). The script loads every profile and
# calls recommend() once on each (imports, matrix compilation and caches warmed, uncounted),
# then makes PASSES passes inside sys.call_tracing(): callgrind counts only while that C
# function runs (--toggle-collect), so start-up is left out of the count. The count divided
# by PASSES x profiles is the mean per call; it repeats to within about 0.1 % from run to run
# (string hashing, and so the order of sets, changes between runs).
# Takes a minute or two: valgrind runs Python ~50x slower.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "${1:-$here}" && pwd)
passes=${2:-2}
python=${PYTHON:-$here/.venv/bin/python}
[ -x "$python" ] || python=/work/main/.venv/bin/python
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# From CHECKOUT itself: ``python -c`` puts the current directory first on sys.path.
cd "$root"
PYTHONPATH=$root valgrind --tool=callgrind --collect-atstart=no \
    --toggle-collect=sys_call_tracing --callgrind-out-file="$out/callgrind.out" \
    "$python" -c '
import sys
from pathlib import Path
from selector import recommend  # the public name, in every version
from selector.loading import load_profile
root = Path(sys.argv[1])
paths = sorted((root / "profiles").glob("*.yaml")) + sorted((root / "tests/corpus").glob("*.yaml"))
profiles = [load_profile(p) for p in paths]
for profile in profiles:
    recommend(profile)
def passes(n):
    for _ in range(n):
        for profile in profiles:
            recommend(profile)
sys.call_tracing(passes, (int(sys.argv[2]),))
print(len(profiles))
' "$root" "$passes" >"$out/n" 2>"$out/err" || { cat "$out/err" >&2; exit 1; }
total=$(sed -n 's/^summary: *//p' "$out/callgrind.out")
profiles=$(cat "$out/n")
calls=$((passes * profiles))
echo "$root: $((total / calls)) instructions per recommend() (mean of $calls calls: $passes passes over $profiles profiles)"
