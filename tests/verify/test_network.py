"""The emulated network: per-direction delay in the proxy, measured on real runs."""

from __future__ import annotations

import asyncio
import itertools
import random
import time

import pytest

from selector.builtin import plan_lifetime
from selector.loading import load_profile_text
from selector.verify.network import MIN_RTO_S, Network, network_for_profile
from selector.verify.runner import PROGRESS_EVERY_S, run_mode
from selector.verify.traffic import VerifyOptions, build_traffic_plan
from tests.verify.test_runner import PROFILE


def quiet(_: str) -> None:
    pass


def test_delay_is_half_the_round_trip_each_way_and_never_less() -> None:
    rng = random.Random(1)
    network = Network(rtt_ms=80, jitter_ms=20, source="test")
    delays = [network.chunk_delay(rng) for _ in range(500)]
    assert min(delays) >= 0.040
    assert max(delays) <= 0.050
    assert max(delays) - min(delays) > 0.005  # jitter varies


def test_loss_holds_a_chunk_back_by_a_retransmission_timeout() -> None:
    rng = random.Random(2)
    network = Network(rtt_ms=20, loss_pct=30, source="test")
    delays = [network.chunk_delay(rng) for _ in range(1000)]
    late = [d for d in delays if d >= 0.010 + MIN_RTO_S]
    assert 0.2 < len(late) / len(delays) < 0.4
    assert Network().chunk_delay(rng) == 0.0


def test_profile_network_takes_the_slowest_client_kind_and_names_it() -> None:
    profile = load_profile_text(PROFILE.replace("[browser]", "[browser, mobile]"), "p.yaml")
    network = network_for_profile(profile)
    assert network.rtt_ms == 150 and "mobile" in network.source and "lighthouse" in network.source
    servers = load_profile_text(PROFILE.replace("[browser]", "[server]"), "p.yaml")
    assert not network_for_profile(servers).emulated


@pytest.mark.parametrize(("rtt", "low", "high"), [(80.0, 80.0, None), (0.0, None, 10.0)])
def test_ack_round_trip_follows_the_emulated_rtt(
    rtt: float, low: float | None, high: float | None
) -> None:
    profile = load_profile_text(PROFILE, "behind-nginx.yaml")
    options = VerifyOptions(clients=3, random_state=1, network=Network(rtt_ms=rtt, source="test"))
    plan = build_traffic_plan(profile, plan_lifetime(profile, "websocket"), options)
    said: list[float] = []

    def progress(_: str) -> None:
        said.append(time.monotonic())

    started = time.monotonic()
    run = asyncio.run(run_mode(plan, "planned", progress=progress))
    ended = time.monotonic()
    # Progress on stderr never goes quiet for long, whatever the phase.
    marks = [started, *said, ended]
    assert max(b - a for a, b in itertools.pairwise(marks)) < PROGRESS_EVERY_S + 1
    p50 = run.ack_rtt_ms.p50
    assert p50 is not None and run.ack_rtt_ms.count > 10
    if low is not None:
        assert p50 >= low
        assert plan.time_scale * plan_lifetime(profile, "websocket").heartbeat_interval_s >= 0.32
    if high is not None:
        assert p50 < high


def test_the_report_says_where_loss_is_made() -> None:
    modelled = Network(rtt_ms=10, loss_pct=1, source="t", kernel_unavailable="not root")
    assert "modelled in the proxy, not in the kernel (not root)" in modelled.describe()
    kernel = Network(rtt_ms=10, loss_pct=50, source="t", loss_in_kernel=True)
    assert "real packet loss in the kernel" in kernel.describe()
    # with loss in the kernel the proxy adds only the round trip
    rng = random.Random(3)
    assert {kernel.chunk_delay(rng) for _ in range(100)} == {0.005}


def test_cli_network_flags_override_the_profiles_figures() -> None:
    import argparse

    from selector.commands.verify import _network, add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    profile = load_profile_text(PROFILE.replace("[browser]", "[mobile]"), "p.yaml")
    plain = _network(parser.parse_args(["p.yaml"]), profile)
    assert not plain.emulated and plain.source == "none"
    typical = _network(parser.parse_args(["p.yaml", "--network", "profile"]), profile)
    assert typical.rtt_ms == 150 and "mobile" in typical.source
    mixed = _network(parser.parse_args(["p.yaml", "--network", "profile", "--loss", "2"]), profile)
    assert (mixed.rtt_ms, mixed.loss_pct) == (150, 2) and "overridden" in mixed.source
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["p.yaml", "--loss", "100"])
    assert exit_info.value.code == 2
