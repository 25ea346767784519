"""Kernel packet loss in a network namespace of the test's own (root with ip and iptables)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time

import pytest

from selector.verify.netns import kernel_loss, kernel_loss_unavailable
from selector.verify.proxy import FaultProxy

WHY = kernel_loss_unavailable()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"kernel loss unavailable: {WHY}")

#: Each round trip loses one of its two segments with probability about 0.19 at 10 % loss
#: each way; the test wants at least 3 retransmission timeouts. Over 30 rounds that failed
#: about once in 17 runs (binomial P(X <= 2) ~ 0.06, and CI met it); over 80 it is about
#: 1 in 100,000, for a few seconds more of waiting on timeouts.
ROUNDS = 80


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _round_trips(loss_pct: float) -> list[float]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with kernel_loss(loss_pct) as path:
        namespaces = subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=True
        ).stdout
        assert path.namespace.name in namespaces
        async with FaultProxy(("127.0.0.1", port), sock=path.listen()) as proxy:
            assert proxy.host == path.address
            reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
            times = []
            for i in range(ROUNDS):
                started = time.monotonic()
                writer.write(f"{i:04d}".encode())
                assert await asyncio.wait_for(reader.readexactly(4), 10) == f"{i:04d}".encode()
                times.append(time.monotonic() - started)
            writer.close()
    server.close()
    await server.wait_closed()
    after = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert path.namespace.name not in after  # removed on exit
    return times


def test_kernel_loss_makes_tcp_retransmit_and_is_cleaned_up() -> None:
    try:
        with kernel_loss(0.0):
            pass
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"this machine refuses network namespaces: {exc}")
    times = asyncio.run(_round_trips(10.0))
    # No byte is lost (TCP retransmits), but some round trips wait for the kernel's
    # retransmission timeout (at least 200 ms on Linux); loopback alone takes well under it.
    assert sum(t >= 0.2 for t in times) >= 3
    assert min(times) < 0.05


def test_delayed_link_gives_tcp_a_round_trip_and_is_cleaned_up() -> None:
    import threading

    from selector.verify.netns import delayed_link

    delay_s = 0.02
    with delayed_link(delay_s) as link:
        ready: list[int] = []
        stop = threading.Event()

        async def serve() -> None:
            writers: list[asyncio.StreamWriter] = []

            async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                writers.append(writer)
                await _echo(reader, writer)

            server = await asyncio.start_server(echo, link.far_address, 0)
            ready.append(server.sockets[0].getsockname()[1])
            while not stop.is_set():
                await asyncio.sleep(0.01)
            server.close()
            for writer in writers:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

        far = threading.Thread(target=link.far.call, args=(lambda: asyncio.run(serve()),))
        far.start()
        try:
            deadline = time.monotonic() + 10
            while not ready and time.monotonic() < deadline:
                time.sleep(0.01)
            assert ready, "the far side never listened"

            async def rounds() -> list[float]:
                reader, writer = await asyncio.open_connection(link.far_address, ready[0])
                times = []
                for _ in range(5):
                    started = time.monotonic()
                    writer.write(b"x")
                    await asyncio.wait_for(reader.readexactly(1), 10)
                    times.append(time.monotonic() - started)
                writer.close()
                await writer.wait_closed()
                return times

            times = link.near.call(lambda: asyncio.run(rounds()))
        finally:
            stop.set()
            far.join(10)
        names = (link.near.name, link.far.name)
    # Every round trip crossed the link twice: at least twice the delay.
    assert min(times) >= 2 * delay_s, times
    after = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in after for name in names)  # both removed on exit
