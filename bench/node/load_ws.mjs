// WebSocket load client (the same one for every server). Usage:
//   node load_ws.mjs URL CONNECTIONS SECONDS WINDOW acks   -> mutation/ack throughput
//   node load_ws.mjs URL CONNECTIONS 0 0 idle              -> hold idle connections open
// Prints JSON lines: {"phase":"start"} when measuring starts, then the result.
import { WebSocket } from "ws";

const [url, n, seconds, windowSize, mode] = [
  process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]),
  process.argv[6],
];
let acks = 0;
let measuring = false;
let opened = 0;
const sockets = [];

function open(i) {
  const ws = new WebSocket(`${url}?client_id=bench-${process.pid}-${i}`, { perMessageDeflate: false });
  let seq = 0;
  const send = () => {
    seq += 1;
    ws.send(`{"seq":${seq},"op":"incr","data":{"key":"k${i % 64}","by":1}}`);
  };
  ws.on("open", () => {
    opened += 1;
    if (mode === "acks") for (let k = 0; k < windowSize; k++) send();
    if (opened === n) ready();
  });
  ws.on("message", () => {
    if (measuring) acks += 1;
    if (mode === "acks") send();
  });
  ws.on("error", (e) => { console.log(JSON.stringify({ error: String(e) })); process.exit(2); });
  sockets.push(ws);
}

function ready() {
  if (mode === "idle") {
    console.log(JSON.stringify({ phase: "open", connections: opened }));
    return; // held until the orchestrator ends this process
  }
  setTimeout(() => {
    measuring = true;
    const t0 = performance.now();
    console.log(JSON.stringify({ phase: "start" }));
    setTimeout(() => {
      measuring = false;
      const elapsed = (performance.now() - t0) / 1000;
      console.log(JSON.stringify({ phase: "end", acks, seconds: elapsed }));
      process.exit(0);
    }, seconds * 1000);
  }, 1000); // warm-up
}

for (let i = 0; i < n; i++) open(i);
setTimeout(() => { console.log(JSON.stringify({ error: "timeout", opened })); process.exit(3); },
  (seconds + 60) * 1000);
