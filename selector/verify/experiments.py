"""Experiments that measure what a matrix rule claims, keyed by the rule's ``evidence`` id.

A rule of the matrix may name one experiment (``evidence: ack-rtt``). ``selector verify``
runs the experiments of the rules that decided the ranking, on the winner and on the
runner-up, and turns each result into a :class:`~selector.verify.verdict.Factor`: what the
model behind the rule predicts for that protocol, in numbers, what the run measured, and
whether the measurement supports or contradicts it. Every measured figure comes from the
wire (the fault proxy's byte counts) or from the clients' own clocks, never from the plan.

The list of ids is closed: an id not listed here is reported as not measurable, with why.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from selector.engine.bandwidth import TLS_MAX_RECORD, TLS_RECORD_OVERHEAD, message_bytes
from selector.rules.values import Facts
from selector.runtime.client import ClientOptions, ClientStoppedError, SseClient, WsClient
from selector.runtime.protocol.envelope import Publish
from selector.runtime.server.app import running_server
from selector.runtime.server.settings import NO_HEARTBEAT, ServerSettings
from selector.verify.evidence import percentile
from selector.verify.network import CLIENT_NETWORKS, Network
from selector.verify.proxy import FaultPolicy, FaultProxy
from selector.verify.verdict import Claim, Factor

__all__ = [
    "EXPERIMENTS",
    "MEASURED_HERE",
    "ExperimentContext",
    "Probe",
    "browser_streams",
    "buffering_factor",
    "chromium_unavailable",
    "factor_for",
    "not_measurable",
    "origin_factor",
    "probe",
    "through_buffering_hop",
    "through_stripping_hop",
    "upgrade_factor",
]

#: Every evidence id a rule may name, with what it measures.
EXPERIMENTS: dict[str, str] = {
    "ack-rtt": "ack round trips: one connection (WebSocket) against a POST beside a stream (SSE)",
    "wire-bytes": "bytes on the wire per message each way against the engine's own estimate",
    "connections-per-origin": "streams a browser opens per origin over HTTP/1.1",
    "upgrade-stripped": "a hop that strips the Upgrade header",
    "stream-buffered": "a hop that buffers a streamed response",
    "lifetime-rotation": "planned rotation through a hop's lifetime cap",
    "cpu-per-delivery": "server CPU per delivered message at the profile's fan-out",
    "heartbeat-survival": "the heartbeat keeping connections alive through idle windows",
    "loss-latency": "delivery latency under packet loss",
    "ack-event-order": "the order between an ack and the events it caused",
    "media-over-rtp": "media frames over RTP against the same frames over a WebSocket, "
    "under the same loss and round trip",
}

_WHY_NOT: dict[str, str] = {
    "cpu-per-delivery": "server CPU per delivery is not sampled by this version",
    "ack-event-order": "the reference runtime's mutations publish no events, so an ack has no "
    "events it caused to order against",
}

#: Experiments this version runs: every one but those :data:`_WHY_NOT` says why not. (A list
#: of its own had left out four that are built and tested, lifetime-rotation, loss-latency,
#: stream-buffered and upgrade-stripped, so verify called them "not run by this version".)
MEASURED_HERE = frozenset(EXPERIMENTS) - frozenset(_WHY_NOT)

#: Round trips an ack takes, by protocol: a WebSocket ack comes back on the connection the
#: mutation went up; an SSE mutation is a POST on a pooled keep-alive connection beside the
#: stream, answered with the ack in its response (one round trip once the connection exists).
PREDICTED_ACK_ROUND_TRIPS = {"websocket": 1.0, "sse": 1.0}
#: A measured ack may exceed the prediction by this many round trips, or ACK_SLACK_MS if
#: more (event-loop scheduling on a busy machine, jitter).
ACK_SLACK_ROUND_TRIPS = 0.5
ACK_SLACK_MS = 30.0
#: Measured bytes may differ from the engine's estimate by this fraction (or at least
#: WIRE_SLACK_BYTES): the runtime's envelope (id, event name, JSON keys) is not in the model.
WIRE_SLACK_FRACTION = 0.2
WIRE_SLACK_BYTES = 64
#: Round trip used by the ack-rtt experiment when the run emulates no network: loopback has
#: none, so round trips could not be counted.
DEFAULT_PROBE_NETWORK = Network(
    rtt_ms=CLIENT_NETWORKS["browser"][0],
    source="the experiment's own round trip (loopback has none): Lighthouse's desktop preset",
)
PROBE_CLIENTS = 2
PROBE_MESSAGES = 6
PROBE_GAP_S = 0.05
PROBE_TIMEOUT_S = 10.0
POLL_S = 0.01


@dataclass(frozen=True)
class Probe:
    """What one short, fault-free run of one protocol measured."""

    protocol: str
    network: Network
    ack_rtt_ms: tuple[float, ...]
    #: Bytes the proxy forwarded server -> client per delivered event.
    down_bytes_per_event: float
    #: Bytes the proxy forwarded client -> server per mutation.
    up_bytes_per_mutation: float


@dataclass(frozen=True)
class ExperimentContext:
    """What an experiment judges against: the profile's facts and its own network."""

    facts: Facts
    encoding: str
    up_payload: int
    down_payload: int
    network: Network


def _payload(size: int, encoding: str, rng: random.Random) -> str:
    if encoding == "binary":
        return base64.b64encode(rng.randbytes(size)).decode("ascii")
    return "x" * size


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("the experiment did not settle in time")
        await asyncio.sleep(POLL_S)


async def probe(protocol: str, context: ExperimentContext, *, random_state: int = 0) -> Probe:
    """A short run with no faults and no heartbeat: events down, then acked mutations up,
    counting the proxy's bytes of each phase and timing each ack on the client's clock."""
    rng = random.Random(f"{random_state}:probe:{protocol}")
    limit = max(64 * 1024, 4 * (max(context.up_payload, context.down_payload) + 1024))
    settings = ServerSettings(
        host="127.0.0.1", port=0, heartbeat=NO_HEARTBEAT, max_message_bytes=limit
    )
    loop = asyncio.get_running_loop()
    async with running_server(settings) as (hub, port):
        policy = FaultPolicy(network=context.network, random_state=random_state)
        async with FaultProxy(("127.0.0.1", port), policy) as proxy:
            url = f"http://127.0.0.1:{proxy.port}"
            # One options dict per client, its id included: an id passed beside the shared
            # options could also be in them, as far as mypy knows.
            options: list[ClientOptions] = [
                {"client_id": f"probe-{i}", "silence_timeout": 1e9, "keep_events": None}
                for i in range(PROBE_CLIENTS)
            ]
            clients: list[WsClient | SseClient] = [
                WsClient(url, max_message_size=limit, **own)
                if protocol == "websocket"
                else SseClient(url, max_event_chars=limit, **own)
                for own in options
            ]
            try:
                for client in clients:
                    await client.start()
                await asyncio.gather(*(c.wait_connected(PROBE_TIMEOUT_S) for c in clients))
                down_before = proxy.stats.bytes_downstream
                pad = _payload(context.down_payload, context.encoding, rng)
                for _ in range(PROBE_MESSAGES):
                    hub.publish(Publish("probe", {"pad": pad}))
                    await asyncio.sleep(PROBE_GAP_S)
                wanted = PROBE_MESSAGES
                await _until(lambda: all(len(c.events) >= wanted for c in clients), PROBE_TIMEOUT_S)
                down_bytes = proxy.stats.bytes_downstream - down_before
                up_before = proxy.stats.bytes_upstream
                value = _payload(context.up_payload, context.encoding, rng)
                sent: dict[tuple[str, int], float] = {}
                for _ in range(PROBE_MESSAGES):
                    for client in clients:
                        mutation = await client.send("set", {"key": "k", "value": value})
                        sent[(client.client_id, mutation.seq)] = loop.time()
                    await _until(lambda: not any(c.pending for c in clients), PROBE_TIMEOUT_S)
                up_bytes = proxy.stats.bytes_upstream - up_before
                rtts = [
                    (acked_at - sent[(client.client_id, seq)]) * 1000
                    for client in clients
                    for seq, acked_at in client.stats.ack_times
                    if (client.client_id, seq) in sent
                ]
            finally:
                await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    deliveries = PROBE_MESSAGES * PROBE_CLIENTS
    return Probe(
        protocol=protocol,
        network=context.network,
        ack_rtt_ms=tuple(rtts),
        down_bytes_per_event=down_bytes / deliveries,
        up_bytes_per_mutation=up_bytes / deliveries,
    )


def not_measurable(rule: str, evidence: str | None, protocol: str, why: str) -> Factor:
    """A factor this run cannot measure, with why."""
    return Factor(
        rule=rule,
        evidence=evidence,
        protocol=protocol,
        prediction=Claim(text=EXPERIMENTS.get(evidence or "", "no experiment named")),
        measured=None,
        outcome="not_measurable",
        why=why,
    )


def judged(
    rule: str,
    evidence: str,
    protocol: str,
    prediction: Claim,
    measured: Claim,
    held: bool,
    why: str,
) -> Factor:
    """A measured factor: supported when the measurement ``held`` to the prediction."""
    return Factor(
        rule=rule,
        evidence=evidence,
        protocol=protocol,
        prediction=prediction,
        measured=measured,
        outcome="supported" if held else "contradicted",
        why=why,
    )


def why_not(evidence: str) -> str:
    """Why an experiment is not run here."""
    if evidence not in EXPERIMENTS:
        return f"no experiment is named {evidence!r} (known: {', '.join(sorted(EXPERIMENTS))})"
    return _WHY_NOT.get(evidence, "not run by this version")


def _without_tls(size: float) -> float:
    """The engine's estimate minus TLS record overhead: loopback runs carry no TLS."""
    return size - TLS_RECORD_OVERHEAD * max(1, math.ceil(size / TLS_MAX_RECORD))


def _ack_factor(rule: str, result: Probe) -> Factor:
    rtt = result.network.rtt_ms
    predicted = PREDICTED_ACK_ROUND_TRIPS[result.protocol]
    p50 = percentile(result.ack_rtt_ms, 50)
    prediction = Claim(
        text=f"{predicted:g} round trip per ack "
        + ("on the same connection" if result.protocol == "websocket" else "(a pooled POST)"),
        values={"round_trips": predicted, "rtt_ms": rtt, "ack_rtt_ms": predicted * rtt},
    )
    if p50 is None:
        return not_measurable(rule, "ack-rtt", result.protocol, "no ack came back")
    if rtt <= 0:
        # --loss alone emulates no round trip: there is nothing to count acks in.
        return not_measurable(
            rule, "ack-rtt", result.protocol, "no round-trip time emulated (pass --rtt)"
        )
    trips = p50 / rtt
    measured = Claim(
        text=f"ack p50 {p50:.1f} ms = {trips:.2f} round trips of {rtt:g} ms "
        f"({len(result.ack_rtt_ms)} acks; {result.network.source})",
        values={"ack_rtt_ms_p50": round(p50, 2), "round_trips": round(trips, 3)},
    )
    slack_ms = max(ACK_SLACK_ROUND_TRIPS * rtt, ACK_SLACK_MS)
    held = p50 <= predicted * rtt + slack_ms
    return judged(
        rule,
        "ack-rtt",
        result.protocol,
        prediction,
        measured,
        held,
        f"within {slack_ms:.0f} ms of the prediction"
        if held
        else f"{p50 - predicted * rtt:.0f} ms ({trips - predicted:.2f} round trips) more than "
        f"predicted, over the {slack_ms:.0f} ms allowance",
    )


#: The HTTP version of every loopback run: the reference runtime (aiohttp) speaks HTTP/1.1.
MEASURED_HTTP_VERSION = "1.1"


def _wire_factor(rule: str, result: Probe, context: ExperimentContext) -> Factor:
    protocol = result.protocol
    stated = context.facts["infrastructure.http_version"]
    # The run speaks HTTP/1.1 whatever the profile states, so its bytes are judged against
    # the engine's estimate for HTTP/1.1. Judged against the profile's HTTP/2 estimate, every
    # POST's uncompressed headers read as a contradiction of the matrix that the run made up.
    facts = {**context.facts, "infrastructure.http_version": MEASURED_HTTP_VERSION}
    down = _without_tls(message_bytes(protocol, True, context.down_payload, facts))
    up = _without_tls(message_bytes(protocol, False, context.up_payload, facts))
    unmeasured = ""
    if stated != MEASURED_HTTP_VERSION and protocol == "sse":
        profile_up = _without_tls(message_bytes(protocol, False, context.up_payload, context.facts))
        unmeasured = (
            f" (the run speaks HTTP/{MEASURED_HTTP_VERSION}; the profile's HTTP/{stated} "
            f"estimate, {profile_up:.0f} B per mutation up with compressed headers, is not "
            "measured here)"
        )
    prediction = Claim(
        text=f"the engine's estimate over HTTP/{MEASURED_HTTP_VERSION} without TLS: "
        f"{down:.0f} B per event down, {up:.0f} B per mutation up{unmeasured}",
        values={"down_bytes": round(down, 1), "up_bytes": round(up, 1)},
    )
    measured = Claim(
        text=f"{result.down_bytes_per_event:.0f} B per event down, "
        f"{result.up_bytes_per_mutation:.0f} B per mutation up (proxy byte counts)",
        values={
            "down_bytes": round(result.down_bytes_per_event, 1),
            "up_bytes": round(result.up_bytes_per_mutation, 1),
        },
    )
    off = []
    for name, want, got in (
        ("down", down, result.down_bytes_per_event),
        ("up", up, result.up_bytes_per_mutation),
    ):
        if want <= 0:
            continue
        if abs(got - want) > max(WIRE_SLACK_BYTES, WIRE_SLACK_FRACTION * want):
            off.append(f"{name} {got:.0f} B against {want:.0f} B ({(got - want) / want:+.0%})")
    return judged(
        rule,
        "wire-bytes",
        protocol,
        prediction,
        measured,
        not off,
        "; ".join(off)
        if off
        else f"within {WIRE_SLACK_FRACTION:.0%} (or {WIRE_SLACK_BYTES} B) of the estimate",
    )


def factor_for(rule: str, evidence: str, result: Probe, context: ExperimentContext) -> Factor:
    """The factor of ``rule`` from a probe of one protocol (ack-rtt or wire-bytes)."""
    if evidence == "ack-rtt":
        return _ack_factor(rule, result)
    return _wire_factor(rule, result, context)


#: Browsers allow this many HTTP/1.1 connections per origin (Chromium's per-group socket
#: limit; https://developer.mozilla.org/en-US/docs/Web/API/EventSource notes the limit of 6).
HTTP1_CONNECTIONS_PER_ORIGIN = 6
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: How long the page waits for its streams to open, and for one more request, in ms.
STREAMS_WAIT_MS = 1000
REQUEST_WAIT_MS = 1500

_STREAMS_SCRIPT = """
async ([address, n, protocol, waitMs, requestMs]) => {
  const opened = new Set();
  const conns = [];
  for (let i = 0; i < n; i++) {
    const c = protocol === "sse"
      ? new EventSource(`http://${address}/sse?client_id=tab-${i}`)
      : new WebSocket(`ws://${address}/ws?client_id=tab-${i}`);
    c.onopen = () => opened.add(i);
    conns.push(c);
  }
  await new Promise((r) => setTimeout(r, waitMs));
  const started = performance.now();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), requestMs);
  let answered = false;
  try {
    await fetch(`/healthz?n=${n}`, {signal: abort.signal, cache: "no-store"});
    answered = true;
  } catch (e) {}
  clearTimeout(timer);
  const requestMsTaken = performance.now() - started;
  window.streams = conns;
  return {open: opened.size, answered, requestMs: requestMsTaken};
}
"""


def chromium_unavailable() -> str | None:
    """Why the browser experiment cannot run here (None: it can)."""
    import importlib.util
    import os

    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install playwright)"
    if not any(os.path.exists(path) for path in CHROMIUM_PATHS):
        return "Debian chromium is not installed (apt-get install chromium)"
    return None


async def browser_streams(protocol: str, streams: int) -> dict[str, float]:
    """A real Chromium page opens ``streams`` streams of ``protocol`` to the runtime over
    HTTP/1.1, then makes one more request to the same origin: streams the browser opened,
    streams the server registered, and whether (and how fast) the request was answered."""
    import os

    from playwright.async_api import async_playwright

    chromium = next(path for path in CHROMIUM_PATHS if os.path.exists(path))
    settings = ServerSettings(host="127.0.0.1", port=0)
    async with running_server(settings) as (hub, port), async_playwright() as playwright:
        address = f"127.0.0.1:{port}"
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=list(CHROMIUM_ARGS)
        )
        try:
            page = await browser.new_page()
            await page.goto(f"http://{address}/healthz")  # the page's origin: the runtime
            result = await page.evaluate(
                _STREAMS_SCRIPT, [address, streams, protocol, STREAMS_WAIT_MS, REQUEST_WAIT_MS]
            )
            kind = "ws" if protocol == "websocket" else "sse"
            registered = sum(1 for sub in hub.subscribers.values() if sub.route == kind)
            await page.evaluate("window.streams.forEach((c) => c.close())")
        finally:
            await browser.close()
    return {
        "streams": float(streams),
        "open": float(result["open"]),
        "server_registered": float(registered),
        "request_answered": 1.0 if result["answered"] else 0.0,
        "request_ms": round(float(result["requestMs"]), 1),
    }


def origin_factor(rule: str, protocol: str, measured: Mapping[str, float]) -> Factor:
    """connections-per-origin: what the browser did against what the 6-per-origin limit of
    HTTP/1.1 predicts (WebSockets are not drawn from that pool)."""
    n = int(measured["streams"])
    if protocol == "sse":
        open_ = min(n, HTTP1_CONNECTIONS_PER_ORIGIN)
        blocked = n >= HTTP1_CONNECTIONS_PER_ORIGIN
        text = f"{open_} of {n} EventSource streams open (6 HTTP/1.1 connections per origin)" + (
            "; the next request to the origin waits" if blocked else ""
        )
    else:
        open_, blocked = n, False
        text = f"all {n} WebSockets open; requests to the origin are not held up"
    prediction = Claim(
        text=text, values={"open": float(open_), "request_answered": 0.0 if blocked else 1.0}
    )
    answered = measured["request_answered"] == 1.0
    got = Claim(
        text=f"{measured['open']:.0f} of {n} open in Chromium "
        f"({measured['server_registered']:.0f} registered by the server); one more request "
        + (
            f"answered in {measured['request_ms']:.0f} ms"
            if answered
            else f"not answered within {REQUEST_WAIT_MS} ms"
        ),
        values=dict(measured),
    )
    held = measured["open"] == open_ and answered == (not blocked)
    return judged(
        rule,
        "connections-per-origin",
        protocol,
        prediction,
        got,
        held,
        "the browser behaved as predicted" if held else "the browser did otherwise",
    )


#: How long a client gets to connect through a hop that strips Upgrade.
UPGRADE_CONNECT_S = 3.0


async def through_stripping_hop(protocol: str) -> dict[str, float]:
    """Connect one reference client through a proxy that strips ``Upgrade`` and deliver one
    event: whether it connected and whether the event arrived."""
    settings = ServerSettings(host="127.0.0.1", port=0)
    async with running_server(settings) as (hub, port):
        policy = FaultPolicy(strip_upgrade=True)
        async with FaultProxy(("127.0.0.1", port), policy) as proxy:
            url = f"http://127.0.0.1:{proxy.port}"
            options: ClientOptions = {
                "client_id": "behind-strip",
                "connect_timeout": UPGRADE_CONNECT_S,
                "max_consecutive_failures": 2,
            }
            client: WsClient | SseClient = (
                WsClient(url, **options) if protocol == "websocket" else SseClient(url, **options)
            )
            connected = delivered = False
            try:
                await client.start()
                with contextlib.suppress(TimeoutError, ClientStoppedError):
                    await client.wait_connected(UPGRADE_CONNECT_S)
                    connected = True
                    hub.publish(Publish("probe", {"n": 1}))
                    await client.wait_events(1, UPGRADE_CONNECT_S)
                    delivered = True
            finally:
                await client.close()
    return {"connected": float(connected), "delivered": float(delivered)}


def upgrade_factor(rule: str, protocol: str, measured: Mapping[str, float]) -> Factor:
    """upgrade-stripped: a WebSocket needs the Upgrade handshake (RFC 6455 §4.1) and fails
    without it; an SSE stream is a plain GET and passes."""
    works = protocol != "websocket"
    prediction = Claim(
        text="connects and delivers through a hop that strips Upgrade"
        if works
        else "cannot connect through a hop that strips Upgrade (RFC 6455 handshake)",
        values={"connected": float(works), "delivered": float(works)},
    )
    connected, delivered = measured["connected"] == 1.0, measured["delivered"] == 1.0
    got = Claim(
        text=("connected" if connected else "did not connect")
        + (", event delivered" if delivered else ", no event delivered"),
        values=dict(measured),
    )
    held = connected == works and delivered == works
    return judged(
        rule,
        "upgrade-stripped",
        protocol,
        prediction,
        got,
        held,
        "as predicted" if held else "the client did otherwise",
    )


#: nginx's default proxy buffer (one memory page, ``proxy_buffer_size 4k|8k``), used by the
#: buffering hop; https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_buffering
BUFFERING_HOP_BYTES = 8 * 1024
BUFFERED_EVENTS = 5
BUFFERED_EVENT_BYTES = 100
BUFFERED_WAIT_S = 1.0


async def through_buffering_hop(protocol: str) -> dict[str, float]:
    """Publish a few small events through a hop that buffers responses: how many reached the
    client within a second."""
    settings = ServerSettings(host="127.0.0.1", port=0)
    async with running_server(settings) as (hub, port):
        policy = FaultPolicy(buffer_bytes=BUFFERING_HOP_BYTES)
        async with FaultProxy(("127.0.0.1", port), policy) as proxy:
            url = f"http://127.0.0.1:{proxy.port}"
            options: ClientOptions = {"client_id": "behind-buffer", "silence_timeout": 1e9}
            client: WsClient | SseClient = (
                WsClient(url, **options) if protocol == "websocket" else SseClient(url, **options)
            )
            try:
                await client.start()
                # The server registers the stream; the client may not know it is connected
                # (a buffering hop holds an SSE stream's headers too).
                await _until(lambda: len(hub.subscribers) >= 1, PROBE_TIMEOUT_S)
                for n in range(BUFFERED_EVENTS):
                    hub.publish(Publish("probe", {"n": n, "pad": "x" * BUFFERED_EVENT_BYTES}))
                with contextlib.suppress(TimeoutError):
                    await client.wait_events(BUFFERED_EVENTS, BUFFERED_WAIT_S)
                arrived = sum(1 for e in client.events if e.event == "probe")
            finally:
                await client.close()
    return {"published": float(BUFFERED_EVENTS), "arrived": float(arrived)}


def buffering_factor(rule: str, protocol: str, measured: Mapping[str, float]) -> Factor:
    """stream-buffered: a buffering hop holds a stream's small events until its buffer fills
    (SSE needs ``X-Accel-Buffering: no`` or buffering off); an upgraded WebSocket is not
    buffered."""
    n = measured["published"]
    expected = 0.0 if protocol == "sse" else n
    prediction = Claim(
        text=f"{expected:.0f} of {n:.0f} small events arrive within {BUFFERED_WAIT_S:g} s "
        f"through a hop buffering {BUFFERING_HOP_BYTES // 1024} KiB",
        values={"arrived": expected},
    )
    got = Claim(
        text=f"{measured['arrived']:.0f} of {n:.0f} arrived within {BUFFERED_WAIT_S:g} s",
        values=dict(measured),
    )
    held = measured["arrived"] == expected
    return judged(
        rule,
        "stream-buffered",
        protocol,
        prediction,
        got,
        held,
        "as predicted" if held else "the stream did otherwise",
    )
