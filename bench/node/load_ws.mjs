// WebSocket load client (the same one for every server). Usage:
//   node load_ws.mjs URL CONNECTIONS WARMUP COUNT inflight1
//       one mutation in flight per connection (send, wait for its ack: what a UI does):
//       WARMUP acks each, a barrier, then COUNT measured acks each; prints rate and latency
//   node load_ws.mjs URL CONNECTIONS SECONDS WINDOW windowed
//       WINDOW mutations in flight per connection for SECONDS after a 1 s warm-up
//   node load_ws.mjs URL CONNECTIONS 0 0 idle
//       hold idle connections open until ended
// Mutations are {"seq": n, "op": "noop", "data": null} on a fresh client_id per connection (no
// handshake). Only replies with an "ack" count: selector serve also sends a position event.
// Prints JSON lines: {"phase":"start"} when measuring starts, then {"phase":"end", ...}.
import { WebSocket } from "ws";

const [url, n, a, b, mode] = [
  process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]),
  process.argv[6],
];
const now = () => performance.now();
const fail = (e) => { console.log(JSON.stringify({ error: String(e) })); process.exit(2); };
let opened = 0;
const sockets = [];

function open(i, onOpen, onAck) {
  const ws = new WebSocket(`${url}?client_id=bench-${process.pid}-${i}`, { perMessageDeflate: false });
  ws.on("open", () => { opened += 1; onOpen(ws); if (opened === n) ready(); });
  ws.on("message", (data) => {
    // {"ack":N...}: byte 2 is 'a' (an ack) rather than 'e' (event) or 'e' of "error".
    if (data[2] === 0x61) onAck(ws);
    else if (data[2] === 0x65 && data[3] === 0x72) fail(`server error: ${data}`);
  });
  ws.on("error", fail);
  sockets.push(ws);
}

const send = (ws) => { ws.seq += 1; ws.send(`{"seq":${ws.seq},"op":"noop","data":null}`); };
let ready = () => {};

if (mode === "inflight1") {
  const warmup = a, count = b;
  const latencies = new Float64Array(n * count);
  let recorded = 0, warmDone = 0, measuredDone = 0, t0 = 0;
  const waiting = [];
  const startMeasured = () => {
    console.log(JSON.stringify({ phase: "start" }));
    t0 = now();
    for (const ws of waiting) { ws.sentAt = now(); send(ws); }
  };
  const onAck = (ws) => {
    ws.done += 1;
    if (ws.done <= warmup) {
      if (ws.done === warmup) {
        waiting.push(ws);
        warmDone += 1;
        if (warmDone === n) startMeasured();
        return;
      }
      send(ws);
      return;
    }
    latencies[recorded++] = now() - ws.sentAt;
    if (ws.done === warmup + count) {
      measuredDone += 1;
      if (measuredDone === n) finish();
      return;
    }
    ws.sentAt = now();
    send(ws);
  };
  const finish = () => {
    const elapsed = (now() - t0) / 1000;
    const sorted = latencies.subarray(0, recorded).sort();
    const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    console.log(JSON.stringify({
      phase: "end", acks: recorded, seconds: elapsed, p50_ms: q(0.5), p99_ms: q(0.99),
    }));
    process.exit(0);
  };
  for (let i = 0; i < n; i++) {
    open(i, (ws) => { ws.seq = 0; ws.done = 0; ws.sentAt = 0; }, onAck);
  }
  ready = () => { for (const ws of sockets) send(ws); };
} else if (mode === "windowed") {
  const seconds = a, windowSize = b;
  let acks = 0, measuring = false;
  for (let i = 0; i < n; i++) {
    open(i, (ws) => { ws.seq = 0; for (let k = 0; k < windowSize; k++) send(ws); },
      (ws) => { if (measuring) acks += 1; send(ws); });
  }
  ready = () => setTimeout(() => {
    measuring = true;
    const t0 = now();
    console.log(JSON.stringify({ phase: "start" }));
    setTimeout(() => {
      measuring = false;
      console.log(JSON.stringify({ phase: "end", acks, seconds: (now() - t0) / 1000 }));
      process.exit(0);
    }, seconds * 1000);
  }, 1000);
} else if (mode === "idle") {
  for (let i = 0; i < n; i++) open(i, () => {}, () => {});
  ready = () => console.log(JSON.stringify({ phase: "open", connections: opened }));
} else {
  fail(`unknown mode ${mode}`);
}

setTimeout(() => { console.log(JSON.stringify({ error: "timeout", opened })); process.exit(3); },
  120 * 1000);
