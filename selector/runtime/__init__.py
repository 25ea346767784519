"""Reference WebSocket + SSE runtime: a sans-I/O protocol core under thin aiohttp adapters."""
