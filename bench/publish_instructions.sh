#!/usr/bin/env bash
# Instructions per acknowledged WebSocket mutation (bench/publish_path.py under callgrind):
# the difference between a run of 2,000 and one of 12,000 acks, over 10,000, so start-up and
# imports cancel out. Deterministic, so it compares two checkouts on a busy machine:
#   bench/ws_ack_instructions.sh                 # this checkout
#   bench/ws_ack_instructions.sh /path/to/other  # another checkout, same .venv
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
checkout="$(cd "${1:-$here}" && pwd)"
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
count() {
  PYTHONPATH="$checkout" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$here/.venv/bin/python" "$here/bench/publish_path.py" "$1" 2>&1 >/dev/null \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
small=$(count 100)
large=$(count 400)
echo "$checkout: $(( (large - small) / 120000 )) instructions per delivery"
