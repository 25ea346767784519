"""Benchmarks of the reference runtime against Node peers, as ratios from the same run.

    .venv/bin/python bench/run.py [--rounds 3] [--seconds 5]

Needs Node 20, ``npm ci`` in bench/node and ``taskset``. Every server runs pinned to one core
(``--server-core``), every load client (the same Node client for all servers) to the other.
Server CPU is read from /proc/PID/stat over the measured window, memory from VmRSS. Rounds
are interleaved (A, B, A, B...) and the medians of the per-round ratios are printed, because
the same configuration varies between rounds on a shared machine. Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / "node"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@contextmanager
def server(kind: str, core: int, state_dir: Path) -> Iterator[tuple[int, int]]:
    """Start a server pinned to ``core``; yields (pid, port). Ends only its own process."""
    port = free_port()
    pin = ["taskset", "-c", str(core)]
    if kind.startswith("selector"):
        cmd = [sys.executable, "-m", "selector", "serve", "--port", str(port), "--quiet"]
        if kind == "selector-state":
            db = state_dir / f"bench-{port}.db"
            cmd += ["--state", str(db)]
    elif kind == "node-ws":
        cmd = ["node", str(NODE_DIR / "ws_server.mjs"), str(port)]
    else:
        mode = kind.removeprefix("node-sse-")
        cmd = ["node", str(NODE_DIR / "sse_server.mjs"), str(port), mode]
    process = subprocess.Popen(
        pin + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
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


def run_load(args: list[str], core: int, server_pid: int) -> dict[str, float]:
    """Run a Node load client; measure the server's CPU between its start and end lines."""
    process = subprocess.Popen(
        ["taskset", "-c", str(core), "node", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=NODE_DIR,
    )
    assert process.stdout is not None
    cpu_start = 0.0
    result: dict[str, float] = {}
    for line in process.stdout:
        message = json.loads(line)
        if "error" in message:
            raise RuntimeError(f"load client: {message}")
        if message.get("phase") == "start":
            cpu_start = cpu_seconds(server_pid)
        elif message.get("phase") == "end":
            result = {**message, "server_cpu_s": cpu_seconds(server_pid) - cpu_start}
    process.wait(30)
    return result


def idle_memory(server_pid: int, port: int, connections: int, core: int) -> float:
    """Server RSS growth per idle WebSocket connection."""
    before = rss_bytes(server_pid)
    process = subprocess.Popen(
        [
            "taskset",
            "-c",
            str(core),
            "node",
            "load_ws.mjs",
            f"ws://127.0.0.1:{port}/ws",
            str(connections),
            "0",
            "0",
            "idle",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=NODE_DIR,
    )
    assert process.stdout is not None
    try:
        message = json.loads(process.stdout.readline())
        if message.get("phase") != "open":
            raise RuntimeError(f"load client: {message}")
        time.sleep(2)  # let the server settle
        return (rss_bytes(server_pid) - before) / connections
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--ws-connections", type=int, default=50)
    parser.add_argument("--ws-window", type=int, default=16, help="mutations in flight per conn")
    parser.add_argument("--sse-clients", type=int, default=100)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--idle-connections", type=int, default=2000)
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--load-core", type=int, default=0)
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--skip", action="append", default=[], choices=("ws", "sse", "memory"))
    args = parser.parse_args()
    secs = str(args.seconds)
    rows: dict[str, list[dict[str, float]]] = {}

    def record(name: str, value: dict[str, float]) -> None:
        rows.setdefault(name, []).append(value)
        print(name, json.dumps(value), flush=True)

    for round_number in range(args.rounds):
        print(f"-- round {round_number + 1}", flush=True)
        if "ws" not in args.skip:
            for kind in ("node-ws", "selector", "selector-state"):
                with server(kind, args.server_core, args.state_dir) as (pid, port):
                    load = [
                        "load_ws.mjs",
                        f"ws://127.0.0.1:{port}/ws",
                        str(args.ws_connections),
                        secs,
                        str(args.ws_window),
                        "acks",
                    ]
                    result = run_load(load, args.load_core, pid)
                record(f"ws-acks {kind}", result)
        if "sse" not in args.skip:
            for kind in ("node-sse-per-event", "node-sse-coalesce", "selector"):
                with server(kind, args.server_core, args.state_dir) as (pid, port):
                    load = [
                        "load_sse.mjs",
                        f"http://127.0.0.1:{port}",
                        str(args.sse_clients),
                        secs,
                        str(args.publishers),
                    ]
                    result = run_load(load, args.load_core, pid)
                record(f"sse-fanout {kind}", result)
        if "memory" not in args.skip:
            for kind in ("node-ws", "selector"):
                with server(kind, args.server_core, args.state_dir) as (pid, port):
                    per_conn = idle_memory(pid, port, args.idle_connections, args.load_core)
                record(f"idle-memory {kind}", {"bytes_per_connection": per_conn})

    summarize(rows)


def _median_ratio(
    rows: dict[str, list[dict[str, float]]], a: str, b: str, key: str, per: str | None = None
) -> float | None:
    if a not in rows or b not in rows:
        return None
    ratios = []
    for ra, rb in zip(rows[a], rows[b], strict=False):
        va = ra[key] / ra[per] if per else ra[key]
        vb = rb[key] / rb[per] if per else rb[key]
        if vb:
            ratios.append(va / vb)
    return statistics.median(ratios) if ratios else None


def summarize(rows: dict[str, list[dict[str, float]]]) -> None:
    print("\n== medians of per-round ratios (selector / peer)")
    lines = [
        ("WS CPU per ack vs node ws", "ws-acks selector", "ws-acks node-ws", "cpu_per"),
        ("WS throughput vs node ws", "ws-acks selector", "ws-acks node-ws", "rate"),
        (
            "WS --state CPU per ack vs memory",
            "ws-acks selector-state",
            "ws-acks selector",
            "cpu_per",
        ),
        ("WS --state throughput vs memory", "ws-acks selector-state", "ws-acks selector", "rate"),
    ]
    for peer in ("node-sse-per-event", "node-sse-coalesce"):
        lines += [
            (f"SSE deliveries/s vs {peer}", "sse-fanout selector", f"sse-fanout {peer}", "drate"),
            (
                f"SSE CPU per delivery vs {peer}",
                "sse-fanout selector",
                f"sse-fanout {peer}",
                "dcpu",
            ),
        ]
    lines.append(
        (
            "idle WS memory per connection vs node ws",
            "idle-memory selector",
            "idle-memory node-ws",
            "mem",
        )
    )
    derived: dict[str, list[dict[str, float]]] = {}
    for name, values in rows.items():
        out = []
        for v in values:
            d = dict(v)
            if "acks" in v:
                d["rate"] = v["acks"] / v["seconds"]
                d["cpu_per"] = v["server_cpu_s"] / max(v["acks"], 1)
            if "deliveries" in v:
                d["drate"] = v["deliveries"] / v["seconds"]
                d["dcpu"] = v["server_cpu_s"] / max(v["deliveries"], 1)
            if "bytes_per_connection" in v:
                d["mem"] = v["bytes_per_connection"]
            out.append(d)
        derived[name] = out
    for label, a, b, key in lines:
        ratio = _median_ratio(derived, a, b, key)
        if ratio is not None:
            print(f"{label:48s} {ratio:6.2f}x")
    print("\n== medians of absolute figures")
    for name, values in derived.items():
        keys = [k for k in ("rate", "cpu_per", "drate", "dcpu", "p50_ms", "mem") if k in values[0]]
        figures = {k: statistics.median(v[k] for v in values if v.get(k) is not None) for k in keys}
        print(f"{name:32s} " + "  ".join(f"{k}={figures[k]:.6g}" for k in keys))


if __name__ == "__main__":
    main()
