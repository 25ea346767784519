// Peers for the SSE fan-out benchmark. Usage: node sse_server.mjs PORT MODE
// MODE "per-event": one res.write per event per client (the common way).
// MODE "coalesce": frames appended per client and flushed once per loop turn (setImmediate),
// capped at 16 KiB per write: the same policy as selector serve.
import http from "node:http";

const [port, mode] = [Number(process.argv[2]), process.argv[3]];
const clients = new Set();
let lastId = 0;
let scheduled = false;
const BATCH = 16 * 1024;

function flush() {
  scheduled = false;
  for (const c of clients) {
    if (!c.pending.length) continue;
    let batch = "";
    while (c.pending.length && (batch.length === 0 || batch.length + c.pending[0].length <= BATCH)) {
      batch += c.pending.shift();
    }
    c.res.write(batch);
    if (c.pending.length && !scheduled) { scheduled = true; setImmediate(flush); }
  }
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url.startsWith("/sse")) {
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache",
      "X-Accel-Buffering": "no",
    });
    res.write("retry: 2000\n\n");
    const client = { res, pending: [] };
    clients.add(client);
    req.on("close", () => clients.delete(client));
    return;
  }
  if (req.method === "POST" && req.url === "/publish") {
    let body = "";
    req.on("data", (chunk) => { body += chunk; });
    req.on("end", () => {
      let p;
      try { p = JSON.parse(body); } catch { res.writeHead(400); res.end(); return; }
      lastId += 1;
      const frame = `id: ${lastId}\nevent: ${p.event}\ndata: ${JSON.stringify(p.data ?? null)}\n\n`;
      for (const c of clients) {
        if (mode === "per-event") c.res.write(frame);
        else c.pending.push(frame);
      }
      if (mode !== "per-event" && !scheduled) { scheduled = true; setImmediate(flush); }
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(`{"id":${lastId}}`);
    });
    return;
  }
  res.writeHead(404);
  res.end();
});
server.listen(port, "127.0.0.1", () => console.log(JSON.stringify({ listening: port })));
