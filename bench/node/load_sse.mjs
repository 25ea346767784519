// SSE fan-out load client (the same one for every server).
// Usage: node load_sse.mjs BASE_URL CLIENTS SECONDS PUBLISHERS
// CLIENTS streams read /sse; PUBLISHERS closed loops POST /publish {"event":"tick","data":{"t":ms}}.
// Counts deliveries (events received over all streams) and the p50 delivery latency
// (publish send time to receipt, sampled on the first 10 streams).
import http from "node:http";

const [base, clients, seconds, publishers] = [
  process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]),
];
const agent = new http.Agent({ keepAlive: true, maxSockets: publishers });
let deliveries = 0;
let published = 0;
let measuring = false;
let running = true;
let connected = 0;
const latencies = [];
const now = () => performance.timeOrigin + performance.now();

function stream(i) {
  http.get(`${base}/sse?client_id=bench-${i}`, (res) => {
    connected += 1;
    if (connected === clients) start();
    let rest = "";
    res.setEncoding("utf8");
    res.on("data", (chunk) => {
      const text = rest + chunk;
      let from = 0;
      for (;;) {
        const at = text.indexOf("data: ", from);
        if (at < 0) break;
        const end = text.indexOf("\n", at);
        if (end < 0) break;
        if (measuring) {
          deliveries += 1;
          if (i < 10) latencies.push(now() - Number(text.slice(at + 11, end - 1)));
        }
        from = end + 1;
      }
      rest = text.slice(from);
    });
  });
}

function publishLoop() {
  if (!running) return;
  const body = `{"event":"tick","data":{"t":${now()}}}`;
  const req = http.request(`${base}/publish`, {
    method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": body.length },
  }, (res) => {
    res.resume();
    res.on("end", () => { if (measuring) published += 1; publishLoop(); });
  });
  req.on("error", () => setTimeout(publishLoop, 10));
  req.end(body);
}

function start() {
  for (let p = 0; p < publishers; p++) publishLoop();
  setTimeout(() => {
    measuring = true;
    const t0 = performance.now();
    console.log(JSON.stringify({ phase: "start" }));
    setTimeout(() => {
      measuring = false;
      running = false;
      const elapsed = (performance.now() - t0) / 1000;
      latencies.sort((a, b) => a - b);
      const p50 = latencies.length ? latencies[Math.floor(latencies.length / 2)] : null;
      console.log(JSON.stringify({ phase: "end", deliveries, published, seconds: elapsed, p50_ms: p50 }));
      process.exit(0);
    }, seconds * 1000);
  }, 1000);
}

for (let i = 0; i < clients; i++) stream(i);
setTimeout(() => { console.log(JSON.stringify({ error: "timeout", connected })); process.exit(3); },
  (seconds + 60) * 1000);
