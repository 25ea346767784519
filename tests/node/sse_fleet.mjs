// A fleet of npm `eventsource` (v4) clients for selector's tests: how long each waits to
// reconnect after its stream is cut, which is the `retry:` it was sent (EventSource adds no
// jitter of its own).
// Usage: node sse_fleet.mjs URL N
// Opens N EventSources (client_id fleet-0 .. fleet-N-1). Prints {"open": i} per first open,
// then, for each connection, {"i": i, "waited_ms": T}: the time from its error to its
// reconnected open. Exits 0 once all N have reconnected, 1 after 30 s.
import { EventSource } from "eventsource";

const [url, n] = [process.argv[2], Number(process.argv[3])];
const sources = [];
const erroredAt = new Array(n).fill(null);
let reconnected = 0;
const timer = setTimeout(() => {
  console.log(JSON.stringify({ timeout: reconnected }));
  process.exit(1);
}, 30000);
for (let i = 0; i < n; i += 1) {
  const es = new EventSource(`${url}?client_id=fleet-${i}`);
  sources.push(es);
  es.onopen = () => {
    if (erroredAt[i] === null) {
      console.log(JSON.stringify({ open: i }));
      return;
    }
    console.log(JSON.stringify({ i, waited_ms: performance.now() - erroredAt[i] }));
    reconnected += 1;
    if (reconnected === n) {
      clearTimeout(timer);
      sources.forEach((s) => s.close());
      process.exit(0);
    }
  };
  es.onerror = () => {
    if (erroredAt[i] === null) erroredAt[i] = performance.now();
  };
}
