// The cost of POST /publish alone (no streams). Usage: node load_publish.mjs BASE_URL SECONDS PUBLISHERS
// PUBLISHERS closed loops POST {"event":"tick","data":{"t":ms}}; after a 1 s warm-up prints
// {"phase":"start"}, then {"posts": N} after SECONDS.
import http from "node:http";
const [base, seconds, publishers] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const agent = new http.Agent({ keepAlive: true, maxSockets: publishers });
let posts = 0, running = true, measuring = false;
function loop() {
  if (!running) return;
  const body = `{"event":"tick","data":{"t":${Date.now()}}}`;
  const req = http.request(`${base}/publish`, { method: "POST", agent,
    headers: { "Content-Type": "application/json", "Content-Length": body.length } }, (res) => {
    res.resume(); res.on("end", () => { if (measuring) posts += 1; loop(); });
  });
  req.on("error", () => setTimeout(loop, 10));
  req.end(body);
}
for (let p = 0; p < publishers; p++) loop();
setTimeout(() => { measuring = true; console.log(JSON.stringify({phase: "start"}));
  setTimeout(() => { running = false; measuring = false; console.log(JSON.stringify({posts})); process.exit(0); }, seconds * 1000); }, 1000);
setTimeout(() => { console.log(JSON.stringify({ error: "timeout" })); process.exit(3); }, (seconds + 30) * 1000);
