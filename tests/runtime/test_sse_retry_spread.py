"""Each SSE stream gets its own ``retry:`` from the planned window, so a mass drop does not
bring every EventSource back on the same tick (EventSource adds no jitter of its own)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from selector.builtin import plan_lifetime
from selector.runtime.server.settings import settings_from_plans
from tests.runtime.conftest import UNIT, arun, eventually, serving
from tests.runtime.test_node_eventsource import NODE, NODE_DIR, node_peer
from tests.runtime.test_server_sse import RawSse

needs_node = pytest.mark.skipif(
    NODE is None or not (NODE_DIR / "node_modules" / "eventsource").exists(),
    reason="needs node and `npm ci` in tests/node (scripts/system-deps does it)",
)
#: Connections in the fleet: enough that a uniform draw over the window cannot bunch by
#: chance (all 12 inside a third of the window: about 1 in 5000 runs).
FLEET = 12


def test_each_stream_is_sent_its_own_retry_from_the_window() -> None:
    async def scenario() -> list[int]:
        retries = []
        async with (
            serving(sse_retry_ms=5000, sse_retry_min_ms=1000) as (_, address),
            aiohttp.ClientSession() as session,
        ):
            for n in range(FLEET):
                async with session.get(f"http://{address}/sse?client_id=raw-{n}") as response:
                    retries.append(int((await RawSse(response).block())["retry"][0]))
        return retries

    retries = arun(scenario())
    assert all(1000 <= r <= 5000 for r in retries), retries
    assert len(set(retries)) > FLEET // 2, retries


def test_without_a_window_every_stream_gets_the_same_retry() -> None:
    async def scenario() -> set[int]:
        async with (
            serving(sse_retry_ms=1234) as (_, address),
            aiohttp.ClientSession() as session,
        ):
            seen = set()
            for n in range(3):
                async with session.get(f"http://{address}/sse?client_id=raw-{n}") as response:
                    seen.add(int((await RawSse(response).block())["retry"][0]))
            return seen

    assert arun(scenario()) == {1234}


def _waits_after_a_mass_drop(**settings: Any) -> list[float]:
    """Seconds each of a fleet of npm ``eventsource`` clients waited to reconnect after the
    server cut every stream at once."""

    async def scenario() -> list[float]:
        async with (
            serving(**settings) as (hub, address),
            node_peer("sse_fleet.mjs", f"http://{address}/sse", str(FLEET)) as (fleet, lines),
        ):
            await eventually(lambda: len(hub.subscribers) == FLEET, timeout=15)
            await eventually(lambda: sum("open" in line for line in lines) == FLEET)
            for sub in list(hub.subscribers.values()):
                hub.drop(sub, "test_mass_drop")
            async with asyncio.timeout(20 * UNIT):
                code = await fleet.wait()
        assert code == 0, lines
        return [line["waited_ms"] / 1000 for line in lines if "waited_ms" in line]

    return arun(scenario(), timeout=60)


@pytest.mark.node
@needs_node
def test_eventsource_fleet_comes_back_spread_over_the_window() -> None:
    waits = _waits_after_a_mass_drop(sse_retry_ms=3000, sse_retry_min_ms=300)
    assert len(waits) == FLEET
    # Each waited the retry it was sent: inside the window (plus connection set-up).
    assert min(waits) >= 0.3 - 0.05 and max(waits) <= 3.0 + 1.0 * UNIT, waits
    # ...and the fleet spread over it instead of returning together.
    assert max(waits) - min(waits) >= 1.0, sorted(waits)


@pytest.mark.node
@needs_node
def test_eventsource_fleet_with_one_fixed_retry_comes_back_together() -> None:
    # The failure the window exists for: the same retry for all, the same tick for all.
    waits = _waits_after_a_mass_drop(sse_retry_ms=800)
    assert len(waits) == FLEET
    assert max(waits) - min(waits) < 0.5 * UNIT, sorted(waits)


def test_the_planned_window_reaches_the_server_settings() -> None:
    from selector.loading import load_profile_text

    profile = load_profile_text(
        "schema_version: 2\nname: feed\n"
        "traffic: {server_to_client: {rate_hz: 1, payload_bytes: 200}}\n"
        "delivery: {guarantee: reliable_ordered, latency_p99_ms: 1000, resume: true}\n"
        "clients: [browser]\nscale: {concurrent_connections: 200000, fan_out: 1}\n"
        "infrastructure: {path: [{kind: nginx}]}\n"
    )
    sse_plan = plan_lifetime(profile, "sse")
    assert sse_plan.sse is not None
    sse = sse_plan.sse
    # The window is the reconnect policy's full-jitter window, and the peak is what spreading
    # the fleet over it gives.
    assert (sse.retry_min_ms, sse.retry_ms) == (0, round(sse_plan.reconnect.base_s * 1000))
    assert sse.peak_reconnect_rate_per_s == pytest.approx(200000 / sse_plan.reconnect.base_s)
    planned = settings_from_plans(plan_lifetime(profile, "websocket"), sse_plan)
    assert (planned.sse_retry_min_ms, planned.sse_retry_ms) == (0, sse.retry_ms)
