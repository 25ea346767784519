#!/usr/bin/env bash
# Write syscalls per publish and server CPU on the SSE fan-out, counted by perf stat on the
# server's process (needs perf and access to the syscalls tracepoints: root, or
# kernel.perf_event_paranoid <= -1):
#   bench/sse_writes.sh [CHECKOUT] [fanout|publish]
# fanout: 100 streams and 4 closed-loop publishers (bench/node/load_sse.mjs, as bench/run.py);
#   prints writes per publish and server CPU per delivery.
# publish: 4 closed-loop publishers and no streams (bench/node/load_publish.mjs); prints server
#   CPU per POST /publish.
# `selector serve` (CHECKOUT, this project's .venv) runs on core 1 and the Node load on core 0;
# counted for 4 s after a 2.5 s warm-up. CPU figures move with the machine's load: compare
# checkouts in alternating runs. Ends only the processes it started.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
checkout="$(cd "${1:-$here}" && pwd)"
mode="${2:-fanout}"
command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)" >&2; exit 2; }
out="$(mktemp -d)"
port="$("$here/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
cd "$checkout"
PYTHONPATH="$checkout" taskset -c 1 "$here/.venv/bin/python" -m selector serve \
  --host 127.0.0.1 --port "$port" --quiet >"$out/server.log" 2>&1 &
server=$!
load=""
cleanup() {
  [ -n "$load" ] && kill "$load" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "$url/healthz" && break
  sleep 0.1
done
published() { curl -s "$url/metrics" | awk '/^events_published_total /{print $2}'; }
if [ "$mode" = fanout ]; then
  taskset -c 0 node "$here/bench/node/load_sse.mjs" "$url" 100 7 4 >"$out/load.log" &
else
  taskset -c 0 node "$here/bench/node/load_publish.mjs" "$url" 6 4 >"$out/load.log" &
fi
load=$!
sleep 2.5
before="$(published)"
perf stat -x, -e 'syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendto,task-clock' \
  -p "$server" -- sleep 4 2>"$out/perf.txt"
after="$(published)"
wait "$load"
load=""
awk -F, -v n="$(python3 -c "print(float('$after') - float('$before'))")" -v mode="$mode" '
  { count[$3] = $1 }
  END {
    writes = count["syscalls:sys_enter_write"] + count["syscalls:sys_enter_writev"] + count["syscalls:sys_enter_sendto"]
    if (mode == "fanout")
      printf "publishes %d  writes per publish %.1f  server CPU per delivery %.2f us\n", n, writes / n, count["task-clock"] * 1000 / (n * 100)
    else
      printf "posts %d  server CPU per POST %.1f us\n", n, count["task-clock"] * 1000 / n
  }' "$out/perf.txt"
