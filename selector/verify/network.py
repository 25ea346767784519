"""The network a verification run emulates: round trip, jitter and loss (pure).

Nothing is emulated unless asked (``--rtt``, ``--jitter``, ``--loss`` or ``--network
profile``). Figures are wall-clock and never scaled with the run's timeline: a round trip is
as long in a compressed run as on the real path.

The fault proxy applies them per direction: half the round trip each way, so a request and
its answer cross the full round trip (never less); jitter adds a random delay of up to half
``jitter_ms`` each way, so a round trip gains at most ``jitter_ms``. Loss is modelled on what
TCP does with a lost segment: the bytes arrive late, after a retransmission timeout, and
everything behind them on the same connection waits (head-of-line blocking).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from selector.profile import Profile

__all__ = [
    "CLIENT_NETWORKS",
    "MIN_RTO_S",
    "PROXY_LIMITS",
    "Network",
    "network_for_profile",
]

#: Linux's minimum retransmission timeout (``TCP_RTO_MIN``, 200 ms; RFC 6298 §2.4 allows 1 s).
MIN_RTO_S = 0.2

#: Typical figures by client kind: (rtt_ms, jitter_ms, loss_pct, source).
CLIENT_NETWORKS: dict[str, tuple[float, float, float, str]] = {
    "mobile": (
        150.0,
        0.0,
        0.0,
        "Lighthouse's mobile preset ('Slow 4G': 150 ms latency, no packet loss; about the "
        "bottom quarter of 4G connections), "
        "https://github.com/GoogleChrome/lighthouse/blob/main/docs/throttling.md",
    ),
    "browser": (
        40.0,
        0.0,
        0.0,
        "Lighthouse's desktop preset (40 ms round trip, no packet loss), "
        "https://github.com/GoogleChrome/lighthouse/blob/main/core/config/constants.js",
    ),
}

#: What a user-space TCP proxy cannot show, said next to every emulated run.
PROXY_LIMITS = (
    "the proxy terminates TCP on both sides and acknowledges bytes itself: it delays and "
    "holds bytes back but drops no packets, so congestion-window collapse, kernel "
    "retransmission and their effect on throughput are modelled (one retransmission "
    f"timeout of at least {MIN_RTO_S * 1000:.0f} ms per lost chunk, head-of-line blocking "
    "behind it), not measured; the TCP and TLS handshakes to the proxy are not delayed"
)


@dataclass(frozen=True)
class Network:
    """A round trip, its jitter and a loss rate, with where the figures came from."""

    rtt_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    source: str = "none"
    #: The loss is real packet loss in a network namespace (see :mod:`selector.verify.netns`),
    #: so the proxy does not model it.
    loss_in_kernel: bool = False
    #: Why loss could not be made in the kernel, when it was asked for and is modelled.
    kernel_unavailable: str | None = None

    def __post_init__(self) -> None:
        if self.rtt_ms < 0 or self.jitter_ms < 0:
            raise ValueError("rtt_ms and jitter_ms must be >= 0")
        if not 0 <= self.loss_pct < 100:
            raise ValueError("loss_pct must be in [0, 100)")

    @property
    def emulated(self) -> bool:
        """Whether the run adds anything to loopback."""
        return self.rtt_ms > 0 or self.jitter_ms > 0 or self.loss_pct > 0

    @property
    def one_way_s(self) -> float:
        """Delay added in each direction: half the round trip."""
        return self.rtt_ms / 2000

    @property
    def rto_s(self) -> float:
        """Retransmission timeout of the loss model (RFC 6298: SRTT + 4 RTTVAR, floored)."""
        return max(MIN_RTO_S, (self.rtt_ms + 4 * self.jitter_ms) / 1000)

    def chunk_delay(self, rng: random.Random) -> float:
        """Seconds one chunk spends in one direction: half the round trip, jitter, and one
        retransmission timeout (doubling, as TCP backs off) for each time it is lost."""
        delay = self.one_way_s
        if self.jitter_ms:
            delay += rng.uniform(0, self.jitter_ms / 2000)
        rto = self.rto_s
        loss = 0.0 if self.loss_in_kernel else self.loss_pct / 100
        # Bounded: a chunk lost more than a few times in a row is vanishingly rare.
        for _ in range(6):
            if not loss or rng.random() >= loss:
                break
            delay += rto
            rto *= 2
        return delay

    def describe(self) -> str:
        """One line for the report."""
        if not self.emulated:
            return "loopback, no network emulated"
        text = (
            f"round trip +{self.rtt_ms:g} ms, jitter up to {self.jitter_ms:g} ms, "
            f"loss {self.loss_pct:g} % per direction ({self.source})"
        )
        if not self.loss_pct:
            return text
        if self.loss_in_kernel:
            return f"{text}; loss is real packet loss in the kernel (network namespace)"
        why = f" ({self.kernel_unavailable})" if self.kernel_unavailable else ""
        return f"{text}; loss modelled in the proxy, not in the kernel{why}"


def network_for_profile(profile: Profile) -> Network:
    """Typical figures for the profile's clients: the slowest kind it lists.

    Server clients have no typical figure here (they sit in a datacenter next to the
    service); a profile of servers only gets no emulation, and says so.
    """
    known = [(CLIENT_NETWORKS[kind], kind) for kind in profile.clients if kind in CLIENT_NETWORKS]
    if not known:
        return Network(source="profile clients are servers: no typical network, none emulated")
    (rtt, jitter, loss, source), kind = max(known, key=lambda item: item[0][0])
    return Network(
        rtt_ms=rtt, jitter_ms=jitter, loss_pct=loss, source=f"typical for {kind}: {source}"
    )
