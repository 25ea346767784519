"""Benchmarks of the reference runtime against Node peers, as ratios from the same run.

    .venv/bin/python bench/run.py                 # every section, 6 interleaved rounds
    .venv/bin/python bench/run.py --quick         # a smoke run: 2 short rounds
    .venv/bin/python bench/run.py --only ws --rounds 6

Sections (``--only`` / ``--skip``):

- ``ws``: one mutation in flight per connection (send, wait for the ack: what a UI does).
  50 connections, 100 warm-up then 1,500 acks each, ``{"seq": n, "op": "noop", "data": null}``
  on a fresh ``client_id`` (no handshake) against ``selector serve --quiet`` with its defaults
  and a bare Node ``ws`` server (parse, reply ``{"ack": seq}``). CPU per ack, acks/s, p99.
- ``windowed``: 16 mutations in flight per connection for ``--seconds`` (hides per-read costs).
- ``sse``: 100 streams, 4 closed-loop publishers; deliveries/s and CPU per delivery against
  a Node ``http`` server that coalesces frames per loop turn and one that writes per event.
- ``memory``: server RSS growth per idle WebSocket at 2,000 connections.
- ``state``: ``serve --state`` with the one-in-flight load: acks/s and store commits (one WAL
  fsync each with ``synchronous=FULL``) per ack, read from ``/metrics``.

Needs Node 20, ``npm ci`` in bench/node and ``taskset``. Every server runs pinned to one core
(``--server-core``), the load client (the same Node client for all servers) to the other.
Server CPU is read from /proc over the measured window (the process, its threads, its live
descendants and its reaped children), memory from VmRSS. Rounds are interleaved (the order of
the servers alternates between rounds) and the medians of the per-round ratios are printed,
because the same configuration varies between rounds on a shared machine. Only loopback, only
processes this script started are ended, every wait is bounded. Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / "node"
TICKS = os.sysconf("SC_CLK_TCK")
SECTIONS = ("ws", "windowed", "sse", "memory", "state")
Row = dict[str, float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` (all threads), its reaped children and its live descendants."""
    total = 0.0
    for i, p in enumerate([pid, *_descendants(pid)]):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        if i == 0:
            ticks += int(fields[13]) + int(fields[14])  # cutime + cstime (reaped children)
        total += ticks / TICKS
    return total


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@contextmanager
def server(
    kind: str, core: int, state_dir: Path, baseline: Path | None = None
) -> Iterator[tuple[int, int]]:
    """Start a server pinned to ``core``; yields (pid, port). Ends only its own process.
    ``selector-base`` is ``selector serve`` from the checkout at ``baseline``."""
    port = free_port()
    pin = ["taskset", "-c", str(core)]
    cwd, env = ROOT, None
    if kind == "selector-base":
        assert baseline is not None
        cwd, env = baseline, {**os.environ, "PYTHONPATH": str(baseline)}
    if kind.startswith("selector"):
        cmd = [sys.executable, "-m", "selector", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--quiet"]
        if kind == "selector-state":
            cmd += ["--state", str(state_dir / f"bench-{port}.db")]
    elif kind.startswith("node-ws"):
        mode = kind.removeprefix("node-ws").lstrip("-") or "bare"
        cmd = ["node", str(NODE_DIR / "ws_server.mjs"), str(port), mode]
    else:
        mode = kind.removeprefix("node-sse-")
        cmd = ["node", str(NODE_DIR / "sse_server.mjs"), str(port), mode]
    process = subprocess.Popen(
        pin + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{kind} did not start") from None
                time.sleep(0.05)
        yield process.pid, port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def run_load(args: list[str], core: int, server_pid: int, timeout_s: float = 150) -> Row:
    """Run a Node load client; measure the server's CPU between its start and end lines."""
    process = subprocess.Popen(
        ["timeout", str(timeout_s), "taskset", "-c", str(core), "node", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=NODE_DIR,
    )
    assert process.stdout is not None
    cpu_start = 0.0
    result: Row = {}
    for line in process.stdout:
        message = json.loads(line)
        if "error" in message:
            process.kill()
            raise RuntimeError(f"load client: {message}")
        if message.get("phase") == "start":
            cpu_start = cpu_seconds(server_pid)
        elif message.get("phase") == "end":
            result = {**message, "server_cpu_s": cpu_seconds(server_pid) - cpu_start}
            result.pop("phase")
    process.wait(30)
    if not result:
        raise RuntimeError(f"load client ended without a result: {args}")
    return result


def store_commits(port: int) -> float | None:
    """``store_commits_total`` from /metrics, None when the server has no such metric."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith("store_commits_total"):
            return float(line.split()[-1])
    return None


def idle_memory(server_pid: int, port: int, connections: int, core: int) -> float:
    """Server RSS growth per idle WebSocket connection."""
    before = rss_bytes(server_pid)
    cmd = ["load_ws.mjs", f"ws://127.0.0.1:{port}/ws", str(connections), "0", "0", "idle"]
    process = subprocess.Popen(
        ["timeout", "120", "taskset", "-c", str(core), "node", *cmd],
        stdout=subprocess.PIPE,
        text=True,
        cwd=NODE_DIR,
    )
    assert process.stdout is not None
    try:
        message = json.loads(process.stdout.readline() or '{"error": "no output"}')
        if message.get("phase") != "open":
            raise RuntimeError(f"load client: {message}")
        time.sleep(2)  # let the server settle (no assertion: a measurement)
        return (rss_bytes(server_pid) - before) / connections
    finally:
        process.terminate()
        process.wait(10)


@dataclass(frozen=True)
class Ratio:
    """One line of the summary: ``a`` over ``b`` for ``key``, and the bar it must meet."""

    label: str
    a: str
    b: str
    key: str
    bar: str = ""


RATIOS = [
    Ratio(
        "WS 1-in-flight CPU per ack vs node ws", "ws selector", "ws node-ws", "cpu_per", "<=0.95"
    ),
    Ratio("WS 1-in-flight acks/s vs node ws", "ws selector", "ws node-ws", "rate", ">=1.05"),
    Ratio("WS 1-in-flight p99 vs node ws", "ws selector", "ws node-ws", "p99_ms", "<=1.2"),
    Ratio("WS 1-in-flight p50 vs node ws", "ws selector", "ws node-ws", "p50_ms"),
    Ratio("WS windowed CPU per ack vs node ws", "windowed selector", "windowed node-ws", "cpu_per"),
    Ratio("WS windowed acks/s vs node ws", "windowed selector", "windowed node-ws", "rate"),
    Ratio(
        "SSE deliveries/s vs node coalescing",
        "sse selector",
        "sse node-sse-coalesce",
        "drate",
        ">=1.0",
    ),
    Ratio(
        "SSE CPU per delivery vs node coalescing",
        "sse selector",
        "sse node-sse-coalesce",
        "dcpu",
        "<=1.0",
    ),
    Ratio("SSE deliveries/s vs node per-event", "sse selector", "sse node-sse-per-event", "drate"),
    Ratio(
        "SSE CPU per delivery vs node per-event", "sse selector", "sse node-sse-per-event", "dcpu"
    ),
    Ratio(
        "idle memory per WS at N vs node ws", "memory selector", "memory node-ws", "mem", "<=1.0"
    ),
    Ratio("--state acks/s vs in memory", "state selector-state", "state selector", "rate"),
    Ratio("--state CPU per ack vs in memory", "state selector-state", "state selector", "cpu_per"),
]


def derive(v: Row) -> Row:
    """Add rates and per-unit figures to a raw measurement."""
    d = dict(v)
    if "acks" in v:
        d["rate"] = v["acks"] / v["seconds"]
        d["cpu_per"] = v["server_cpu_s"] / max(v["acks"], 1)
        if "commits" in v:
            d["commits_per_ack"] = v["commits"] / max(v["acks"], 1)
    if "deliveries" in v:
        d["drate"] = v["deliveries"] / v["seconds"]
        d["dcpu"] = v["server_cpu_s"] / max(v["deliveries"], 1)
    if "bytes_per_connection" in v:
        d["mem"] = v["bytes_per_connection"]
    return d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="2 short rounds (smoke run)")
    parser.add_argument("--only", action="append", default=[], choices=SECTIONS)
    parser.add_argument("--skip", action="append", default=[], choices=SECTIONS)
    parser.add_argument("--ws-connections", type=int, default=50)
    parser.add_argument("--ws-warmup", type=int, default=100, help="warm-up acks per connection")
    parser.add_argument("--ws-acks", type=int, default=1500, help="measured acks per connection")
    parser.add_argument("--seconds", type=float, default=5, help="windowed and SSE loads")
    parser.add_argument("--ws-window", type=int, default=16, help="windowed: in flight per conn")
    parser.add_argument("--sse-clients", type=int, default=100)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--idle-connections", type=int, default=2000)
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--load-core", type=int, default=0)
    parser.add_argument("--state-dir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another checkout (e.g. a git worktree of main): its selector serve is measured "
        "too, as selector-base, for before/after ratios from the same run",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds = min(args.rounds, 2)
        args.ws_warmup, args.ws_acks, args.seconds = 20, 300, 2.0
        args.idle_connections = min(args.idle_connections, 500)
    sections = [s for s in (args.only or SECTIONS) if s not in args.skip]
    with tempfile.TemporaryDirectory(dir=args.state_dir) as tmp:
        rows = run_rounds(args, sections, Path(tmp))
    summarize(rows)


def run_rounds(
    args: argparse.Namespace, sections: list[str], state_dir: Path
) -> dict[str, list[Row]]:
    rows: dict[str, list[Row]] = {}
    inflight1 = [str(args.ws_connections), str(args.ws_warmup), str(args.ws_acks), "inflight1"]
    base = ["selector-base"] if args.baseline else []

    def measure(section: str, kinds: list[str], round_number: int, load: list[str]) -> None:
        # Alternate the order between rounds so a drifting machine favours no server.
        for kind in kinds if round_number % 2 == 0 else kinds[::-1]:
            with server(kind, args.server_core, state_dir, args.baseline) as (pid, port):
                url = f"{'http' if section == 'sse' else 'ws'}://127.0.0.1:{port}"
                path = "" if section == "sse" else "/ws"
                commits_before = store_commits(port) if kind.startswith("selector") else None
                result = run_load([load[0], url + path, *load[1:]], args.load_core, pid)
                if commits_before is not None:
                    after = store_commits(port)
                    if after is not None:
                        result["commits"] = after - commits_before
            rows.setdefault(f"{section} {kind}", []).append(derive(result))
            print(f"{section} {kind}", json.dumps(result), flush=True)

    for round_number in range(args.rounds):
        print(f"-- round {round_number + 1}/{args.rounds}", flush=True)
        if "ws" in sections:
            measure("ws", ["node-ws", "selector", *base], round_number, ["load_ws.mjs", *inflight1])
        if "windowed" in sections:
            load = ["load_ws.mjs", str(args.ws_connections), str(args.seconds)]
            load += [str(args.ws_window), "windowed"]
            measure("windowed", ["node-ws", "selector", *base], round_number, load)
        if "sse" in sections:
            load = ["load_sse.mjs", str(args.sse_clients), str(args.seconds), str(args.publishers)]
            kinds = ["node-sse-coalesce", "selector", "node-sse-per-event", *base]
            measure("sse", kinds, round_number, load)
        if "memory" in sections:
            kinds = ["node-ws", "selector", *base]
            for kind in kinds if round_number % 2 == 0 else kinds[::-1]:
                with server(kind, args.server_core, state_dir, args.baseline) as (pid, port):
                    per_conn = idle_memory(pid, port, args.idle_connections, args.load_core)
                rows.setdefault(f"memory {kind}", []).append(
                    derive({"bytes_per_connection": per_conn})
                )
                print(f"memory {kind}", json.dumps({"bytes_per_connection": per_conn}), flush=True)
        if "state" in sections:
            kinds = ["selector-state", "selector"]
            measure("state", kinds, round_number, ["load_ws.mjs", *inflight1])
        print_round(rows, round_number)
    return rows


def ratios(rows: dict[str, list[Row]]) -> list[Ratio]:
    """:data:`RATIOS`, and the same for the baseline checkout when one was measured."""
    extra = [
        Ratio(
            r.label.replace("vs", "(before) vs", 1),
            r.a.replace("selector", "selector-base"),
            r.b,
            r.key,
            r.bar,
        )
        for r in RATIOS
        if r.a.endswith(" selector") and r.a.replace("selector", "selector-base") in rows
    ]
    return RATIOS + extra


def print_round(rows: dict[str, list[Row]], round_number: int) -> None:
    for ratio in ratios(rows):
        if ratio.a in rows and ratio.b in rows and len(rows[ratio.a]) > round_number:
            va = rows[ratio.a][round_number].get(ratio.key)
            vb = rows[ratio.b][round_number].get(ratio.key)
            if va is not None and vb:
                print(f"   {ratio.label:54s} {va / vb:6.2f}x", flush=True)


def summarize(rows: dict[str, list[Row]]) -> None:
    print(
        f"\n== medians of per-round ratios (selector / peer), {max(map(len, rows.values()))} rounds"
    )
    for ratio in ratios(rows):
        if ratio.a not in rows or ratio.b not in rows:
            continue
        per_round = [
            ra[ratio.key] / rb[ratio.key]
            for ra, rb in zip(rows[ratio.a], rows[ratio.b], strict=False)
            if ra.get(ratio.key) is not None and rb.get(ratio.key)
        ]
        if per_round:
            median = statistics.median(per_round)
            spread = " ".join(f"{r:.2f}" for r in per_round)
            bar = f"(bar {ratio.bar})" if ratio.bar else ""
            print(f"{ratio.label:54s} {median:6.2f}x {bar:12s} rounds: {spread}")
    print("\n== medians of absolute figures (rate /s, cpu_per s, latency ms, mem bytes)")
    keys = ("rate", "cpu_per", "p50_ms", "p99_ms", "drate", "dcpu", "mem", "commits_per_ack")
    for name, values in rows.items():
        present = [k for k in keys if any(v.get(k) is not None for v in values)]
        figures = {
            k: statistics.median(v[k] for v in values if v.get(k) is not None) for k in present
        }
        print(f"{name:28s} " + "  ".join(f"{k}={figures[k]:.4g}" for k in present))


if __name__ == "__main__":
    main()
