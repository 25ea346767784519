"""Evidence from a verification run: counts and percentiles computed from what was observed.

Pure functions over the records a run collects (ids sent, ids received in arrival order,
timestamps); nothing here looks at the plan, so the numbers can only come from the run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DirectionEvidence",
    "Distribution",
    "RunEvidence",
    "distribution",
    "downstream_evidence",
    "percentile",
    "upstream_evidence",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class Distribution(_Model):
    """A few order statistics of a measured quantity."""

    count: int
    p50: float | None
    p99: float | None
    max: float | None


def distribution(values: Sequence[float]) -> Distribution:
    """Summarise ``values`` (any unit; the field name carries it)."""
    return Distribution(
        count=len(values),
        p50=percentile(values, 50),
        p99=percentile(values, 99),
        max=max(values) if values else None,
    )


class DirectionEvidence(_Model):
    """Delivery in one direction, over all sampled clients."""

    sent: int = Field(description="Messages that should arrive (one per receiver).")
    delivered: int = Field(description="Distinct messages that arrived.")
    lost: int = Field(description="Messages that never arrived.")
    duplicated: int = Field(description="Extra copies that arrived or were applied.")
    out_of_order: int = Field(description="Arrivals with an id below one already seen.")


def _order_faults(ids: Iterable[int]) -> int:
    highest = -1
    faults = 0
    for item in ids:
        if item < highest:
            faults += 1
        highest = max(highest, item)
    return faults


def downstream_evidence(
    published: Sequence[int], received: Mapping[str, Sequence[int]]
) -> DirectionEvidence:
    """Server-to-client delivery: every client should receive every published id once, in order.

    ``received`` maps a client to the event ids it got, in arrival order (replays included).
    """
    expected = set(published)
    sent = len(expected) * len(received)
    delivered = duplicated = out_of_order = 0
    for ids in received.values():
        counts = Counter(i for i in ids if i in expected)
        delivered += len(counts)
        duplicated += sum(c - 1 for c in counts.values())
        out_of_order += _order_faults(ids)
    return DirectionEvidence(
        sent=sent,
        delivered=delivered,
        lost=sent - delivered,
        duplicated=duplicated,
        out_of_order=out_of_order,
    )


def upstream_evidence(
    sent: Mapping[str, Sequence[int]], applied: Sequence[tuple[str, int]]
) -> DirectionEvidence:
    """Client-to-server delivery, judged by what the server *applied*, in its order.

    ``sent`` maps a client to the seqs it sent; ``applied`` lists ``(client, seq)`` in the
    order the server's store applied them.
    """
    expected = {(client, seq) for client, seqs in sent.items() for seq in seqs}
    counts = Counter(pair for pair in applied if pair in expected)
    per_client: dict[str, list[int]] = {}
    for client, seq in applied:
        per_client.setdefault(client, []).append(seq)
    return DirectionEvidence(
        sent=len(expected),
        delivered=len(counts),
        lost=len(expected) - len(counts),
        duplicated=sum(c - 1 for c in counts.values()),
        out_of_order=sum(_order_faults(seqs) for seqs in per_client.values()),
    )


class RunEvidence(_Model):
    """What one run (one protocol, planned or naive settings) showed."""

    mode: str = Field(description="planned: the plan's settings; naive: the control.")
    server_to_client: DirectionEvidence | None
    client_to_server: DirectionEvidence | None
    ack_rtt_ms: Distribution = Field(description="Mutation send to ack arrival.")
    delivery_latency_ms: Distribution = Field(description="Event publish to client arrival.")
    detection_s: Distribution = Field(
        description="From the forced silent drop to each client noticing its connection dead."
    )
    detection_bound_s: float | None = Field(
        description="The plan's bound on detection (scaled); None for the naive control."
    )
    undetected: int = Field(description="Clients that never noticed the forced silent drop.")
    reconnects: int = Field(description="Reconnections made by all sampled clients.")
    resumes: int = Field(description="Reconnections that resumed the event stream by id.")
    resyncs: int = Field(description="Reconnections told to resync (gap older than the buffer).")
    wire_bytes_per_message: float | None = Field(
        description="Bytes the proxy forwarded downstream per delivered event (framing, "
        "encoding and heartbeats included)."
    )
    leaked_connections: int = Field(
        description="Server-side connections still registered after every client closed."
    )
    proxy_faults: dict[str, int] = Field(description="Faults the proxy applied, by kind.")
    duration_s: float = Field(description="Wall-clock length of the run.")
