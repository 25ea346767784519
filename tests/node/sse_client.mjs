// An independent SSE client for selector's tests: the npm `eventsource` package (v4).
// Usage: node sse_client.mjs URL COUNT
// Prints one JSON line per received "tick" event ({"id", "data"}) and per error
// ({"error": readyState}); exits 0 after COUNT events, 1 after 20 s.
import { EventSource } from "eventsource";

const [url, count] = [process.argv[2], Number(process.argv[3])];
const es = new EventSource(url);
let received = 0;
const timer = setTimeout(() => {
  console.log(JSON.stringify({ timeout: received }));
  process.exit(1);
}, 20000);
es.onopen = () => console.log(JSON.stringify({ open: true }));
es.onerror = () => console.log(JSON.stringify({ error: es.readyState }));
es.addEventListener("tick", (event) => {
  console.log(JSON.stringify({ id: Number(event.lastEventId), data: JSON.parse(event.data) }));
  received += 1;
  if (received >= count) {
    clearTimeout(timer);
    es.close();
    process.exit(0);
  }
});
