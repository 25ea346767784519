#!/usr/bin/env bash
# Instructions per unit of work of a bench driver under callgrind: the difference between a
# run of SMALL and one of LARGE, divided by UNITS (the units of work between the two runs),
# so start-up and imports cancel out. Deterministic, so it compares checkouts on a busy machine.
#   bench/count_instructions.sh DRIVER SMALL LARGE UNITS LABEL [CHECKOUT]
# DRIVER is a script in bench/ taking the run size as its one argument; CHECKOUT (default:
# this one) is run with this checkout's .venv. Used by ws_ack_instructions.sh and
# publish_instructions.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
driver=$1 small_run=$2 large_run=$3 units=$4 label=$5
target="${6:-}"  # empty (a wrapper called without a checkout): this one
checkout="$(cd "${target:-$here}" && pwd)"
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
count() {
  PYTHONPATH="$checkout" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$here/.venv/bin/python" "$here/bench/$driver" "$1" 2>&1 >/dev/null \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
small=$(count "$small_run")
large=$(count "$large_run")
echo "$checkout: $(( (large - small) / units )) $label"
