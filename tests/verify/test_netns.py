"""Kernel packet loss in a network namespace of the test's own (root with ip and iptables)."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from selector.verify.netns import kernel_loss, kernel_loss_unavailable
from selector.verify.proxy import FaultProxy

WHY = kernel_loss_unavailable()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"kernel loss unavailable: {WHY}")

ROUNDS = 30


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
