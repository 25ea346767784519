"""Prometheus metrics of the reference server.

Counters are plain integers the hot path bumps with ``+= 1`` (a WebSocket's own messages,
acks and replies on the connection itself, :class:`ConnectionTally`); a custom collector turns
them into metric families at scrape time. ``prometheus_client.Counter.inc()`` per message
measurably slowed the ack path (tools.md), a scrape every few seconds costs nothing.
Each server gets its own registry, so several servers (tests) can live in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "ConnectionTally", "Counters", "MetricsExporter"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

PROTOCOLS = ("ws", "sse", "http")


def _by_protocol() -> dict[str, int]:
    return dict.fromkeys(PROTOCOLS, 0)


class ConnectionTally(Protocol):
    """A WebSocket connection's counts of its own traffic, kept on the connection while it
    lives (a slot increment per message where a ``Counters`` dict increment cost ~540
    instructions: three of them per one-in-flight ack, 30,592 -> 28,984 instructions,
    bench/ws_ack_instructions.sh). :meth:`Counters.fold` adds them in when it ends;
    :meth:`Counters.with_live` adds the live ones to a reading."""

    #: Text messages read.
    messages_in: int
    #: Mutations acked (new and duplicate).
    acks: int
    #: Acks and errors written back (the event stream's frames are counted per flush).
    messages_out: int


@dataclass(slots=True)
class Counters:
    """Monotonic totals, labelled by protocol (``ws``, ``sse``, ``http``) where it matters."""

    messages_in: dict[str, int] = field(default_factory=_by_protocol)
    messages_out: dict[str, int] = field(default_factory=_by_protocol)
    acks: dict[str, int] = field(default_factory=_by_protocol)
    duplicates: dict[str, int] = field(default_factory=_by_protocol)
    invalid: dict[str, int] = field(default_factory=_by_protocol)
    resumes_replayed: dict[str, int] = field(default_factory=_by_protocol)
    resumes_resync: dict[str, int] = field(default_factory=_by_protocol)
    slow_disconnects: dict[str, int] = field(default_factory=_by_protocol)
    slow_skips: dict[str, int] = field(default_factory=_by_protocol)
    rejected_connections: dict[str, int] = field(default_factory=dict)
    events_published: int = 0
    reaped: int = 0
    #: Client ids whose mark and claim were forgotten (ledger bounds).
    evicted_clients: int = 0
    #: Transactions the durable store committed (each one fsync of its WAL).
    store_commits: int = 0

    def _add(self, tally: ConnectionTally) -> None:
        self.messages_in["ws"] += tally.messages_in
        self.acks["ws"] += tally.acks
        self.messages_out["ws"] += tally.messages_out

    def fold(self, tally: ConnectionTally) -> None:
        """Add an ended WebSocket connection's tally and zero it (a second fold adds 0)."""
        self._add(tally)
        tally.messages_in = tally.acks = tally.messages_out = 0

    def with_live(self, tallies: Iterable[ConnectionTally]) -> Counters:
        """A copy of these totals with the live connections' ``tallies`` added."""
        now = replace(
            self,
            messages_in=dict(self.messages_in),
            acks=dict(self.acks),
            messages_out=dict(self.messages_out),
        )
        for tally in tallies:
            now._add(tally)
        return now


class _CountersCollector(Collector):
    def __init__(
        self, counters: Callable[[], Counters], gauges: Callable[[], dict[str, int]]
    ) -> None:
        self._counters = counters
        self._gauges = gauges

    def collect(self) -> Iterator[Metric]:
        c = self._counters()
        gauges = self._gauges()
        for name, doc in (
            ("ws_connections_active", "Open WebSocket connections."),
            ("sse_connections_active", "Open SSE streams."),
            (
                "connections_leaked",
                "Connections in the server's registry whose transport is already closed.",
            ),
        ):
            yield GaugeMetricFamily(name, doc, value=gauges.get(name, 0))
        yield CounterMetricFamily(
            "connections_reaped",
            "WebSocket connections terminated for missing a pong deadline.",
            value=c.reaped,
        )
        yield CounterMetricFamily(
            "client_ids_evicted",
            "Client ids whose high-water mark and claim were forgotten (idle or over the cap).",
            value=c.evicted_clients,
        )
        yield CounterMetricFamily(
            "events_published", "Events published to the stream.", value=c.events_published
        )
        yield CounterMetricFamily(
            "store_commits",
            "Group commits of the durable store (--state): one WAL fsync each.",
            value=c.store_commits,
        )
        messages = CounterMetricFamily(
            "messages", "Messages by protocol and direction.", labels=["protocol", "direction"]
        )
        for protocol in PROTOCOLS:
            messages.add_metric([protocol, "in"], c.messages_in[protocol])
            messages.add_metric([protocol, "out"], c.messages_out[protocol])
        yield messages
        for name, doc, values in (
            ("acks", "Mutations acked (new and duplicate).", c.acks),
            ("duplicates", "Mutations acked again without being applied.", c.duplicates),
            ("invalid_payloads", "Messages answered with INVALID_PAYLOAD.", c.invalid),
            ("slow_consumer_disconnects", "Subscribers dropped as too slow.", c.slow_disconnects),
            (
                "slow_consumer_skips",
                "Events skipped for slow best-effort subscribers.",
                c.slow_skips,
            ),
        ):
            family = CounterMetricFamily(name, doc, labels=["protocol"])
            for protocol in PROTOCOLS:
                family.add_metric([protocol], values[protocol])
            yield family
        resumes = CounterMetricFamily(
            "resumes", "Subscriptions resumed from a last event id.", labels=["protocol", "outcome"]
        )
        for protocol in ("ws", "sse"):
            resumes.add_metric([protocol, "replay"], c.resumes_replayed[protocol])
            resumes.add_metric([protocol, "resync"], c.resumes_resync[protocol])
        yield resumes
        rejected = CounterMetricFamily(
            "connections_rejected", "Connections refused before upgrade.", labels=["reason"]
        )
        for reason, value in sorted(c.rejected_connections.items()):
            rejected.add_metric([reason], value)
        yield rejected


class MetricsExporter:
    """A registry holding the counters, live gauges and the heartbeat RTT histogram."""

    def __init__(
        self, counters: Callable[[], Counters], gauges: Callable[[], dict[str, int]]
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_CountersCollector(counters, gauges))
        self.heartbeat_rtt = Histogram(
            "heartbeat_rtt_seconds",
            "Round-trip time from a WebSocket ping to its pong.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
