// Peer for the WS mutation/ack benchmarks, on Node `ws` (no compression, 64 KiB messages,
// one interval pinging every connection: the isAlive pattern). Usage: node ws_server.mjs PORT [MODE]
// MODE "bare" (default): parse the JSON, reply {"ack": seq}: the floor any server with an
//   ack contract pays (the reference peer).
// MODE "ledger": the same logic as selector serve's /ws hot path without its identity and
//   durability rules: validation, per-client high-water mark, store update, plain-integer counters.
import http from "node:http";
import { WebSocketServer } from "ws";

const port = Number(process.argv[2]);
const mode = process.argv[3] || "bare";
const marks = new Map();
const store = new Map();
const counters = { acks: 0, duplicates: 0, invalid: 0 };
const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 });

function bare(ws, raw) {
  let m;
  try { m = JSON.parse(raw); } catch { ws.send('{"error":"INVALID_PAYLOAD"}'); return; }
  ws.send(`{"ack":${m.seq}}`);
}

function ledger(ws, raw, clientId) {
  let m;
  try { m = JSON.parse(raw); } catch { counters.invalid++; ws.send('{"error":"INVALID_PAYLOAD"}'); return; }
  if (!Number.isInteger(m.seq) || m.seq < 1 || typeof m.op !== "string" || !m.op) {
    counters.invalid++; ws.send('{"error":"INVALID_PAYLOAD"}'); return;
  }
  if (m.seq <= (marks.get(clientId) || 0)) {
    counters.duplicates++; counters.acks++;
    ws.send(`{"ack":${m.seq},"status":"ok","duplicate":true}`); return;
  }
  if (m.op === "incr") store.set(m.data.key, (store.get(m.data.key) || 0) + (m.data.by ?? 1));
  else if (m.op === "set") store.set(m.data.key, m.data.value);
  marks.set(clientId, m.seq);
  counters.acks++;
  ws.send(`{"ack":${m.seq},"status":"ok"}`);
}

wss.on("connection", (ws, req) => {
  const clientId = new URL(req.url, "http://x").searchParams.get("client_id") || "anon";
  ws.isAlive = true;
  ws.on("pong", () => { ws.isAlive = true; });
  if (mode === "ledger") ws.on("message", (raw) => ledger(ws, raw, clientId));
  else ws.on("message", (raw) => bare(ws, raw));
});

setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) { ws.terminate(); continue; }
    ws.isAlive = false;
    ws.ping();
  }
}, 20000);

server.listen(port, "127.0.0.1", () => console.log(JSON.stringify({ listening: port })));
