"""The npm ``eventsource`` package (v4) as an independent SSE client, resuming with
Last-Event-ID after the server cuts its stream."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from selector.runtime.protocol.envelope import Publish
from tests.runtime.conftest import UNIT, arun, eventually, serving

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        NODE is None or not (NODE_DIR / "node_modules" / "eventsource").exists(),
        reason="needs node and `npm ci` in tests/node (scripts/system-deps does it)",
    ),
]


@asynccontextmanager
async def node_peer(
    script: str, *args: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[dict[str, Any]]]]:
    """Run ``tests/node/SCRIPT ARGS...``; yields the process and the JSON lines it printed,
    filled in as they arrive. A process still running on the way out is killed."""
    assert NODE is not None
    peer = await asyncio.create_subprocess_exec(
        NODE, str(NODE_DIR / script), *args, stdout=asyncio.subprocess.PIPE, cwd=NODE_DIR
    )
    lines: list[dict[str, Any]] = []

    async def read_lines() -> None:
        assert peer.stdout is not None
        async for line in peer.stdout:
            lines.append(json.loads(line))

    reader = asyncio.create_task(read_lines())
    try:
        yield peer, lines
        await reader
    finally:
        if peer.returncode is None:
            peer.kill()  # our own child, by its handle
            await peer.wait()
        reader.cancel()


def test_eventsource_resumes_with_last_event_id_after_a_cut() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], list[int], int]:
        async with (
            serving(sse_retry_ms=100) as (hub, address),
            node_peer("sse_client.mjs", f"http://{address}/sse?client_id=node", "9") as (
                client,
                lines,
            ),
        ):
            await eventually(lambda: any("open" in line for line in lines), timeout=10)

            def publish(n: int) -> int:
                return hub.publish(Publish(event="tick", data=n))

            expected = [publish(n) for n in range(3)]
            await eventually(lambda: sum("id" in line for line in lines) == 3)
            (sse,) = [s for s in hub.subscribers.values() if s.route == "sse"]
            hub.drop(sse, "test_cut")
            await eventually(lambda: not hub.subscribers)
            expected += [publish(n) for n in range(3, 6)]  # while it is away
            # no last_event_id in the URL: a replay proves the Last-Event-ID header
            await eventually(lambda: hub.counters.resumes_replayed["sse"] == 1)
            expected += [publish(n) for n in range(6, 9)]
            async with asyncio.timeout(10 * UNIT):
                code = await client.wait()
            return lines, expected, code

    lines, expected, code = arun(scenario(), timeout=40)
    assert code == 0
    events = [line for line in lines if "id" in line]
    assert [e["id"] for e in events] == expected  # each once, in order, across the cut
    assert [e["data"] for e in events] == list(range(9))
    assert {"error": 0} in lines  # it noticed the cut and reconnected (readyState CONNECTING)
