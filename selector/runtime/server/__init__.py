"""The reference server: an aiohttp pump around the sans-I/O protocol core, on an injectable
clock (:mod:`selector.runtime.clock`).

Where things live:

- :mod:`.app`: routes, admission (token, Host/Origin via :mod:`.edge`, per-IP limits) and the
  request handlers; :func:`.app.running_server` runs it;
- :mod:`.hub`: the pump every handler shares: submit, publish, subscribe, end-of-tick flush;
- :mod:`.registry`: live subscribers, connection ids, per-IP counts, identity refusals;
- :mod:`.subscriber`: one WebSocket or SSE stream;
- :mod:`.commit`: the commit group of a loop tick and the flush that closes it;
- :mod:`.writer`: raw frame writes to transports (the fast path) and the slow-peer drain;
- :mod:`.heartbeat`: pings, pong deadlines, SSE comments, leaked-connection sweeps;
- :mod:`.shutdown`: graceful close of every stream with a spread retry hint;
- :mod:`.faults`: switches a test flips for faults a healthy server never makes (not settings);
- :mod:`.store`, :mod:`.metrics`, :mod:`.settings`, :mod:`.logs`: state, counters,
  configuration, structured log lines.
"""
