"""Headless Chromium's own WebSocket and EventSource against the server (via Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from selector.runtime.server.settings import Heartbeat
from selector.verify.experiments import CHROMIUM_ARGS
from tests.runtime.conftest import arun, eventually, serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = list(CHROMIUM_ARGS)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]

WS_SCRIPT = """
async (address) => {
  const ws = new WebSocket(`ws://${address}/ws?client_id=browser`);
  const frames = [];
  const seen = (pred) => new Promise((resolve) => {
    const check = () => {
      const f = frames.find(pred);
      if (f) resolve(f); else setTimeout(check, 10);
    };
    check();
  });
  ws.onmessage = (m) => frames.push(JSON.parse(m.data));
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  ws.send(JSON.stringify({seq: 1, op: "set", data: {key: "from", value: "chromium"}}));
  const ack = await seen((f) => f.ack === 1);
  const beat = await seen((f) => f.event === "heartbeat");
  const posted = await (await fetch("/publish", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({event: "hello", data: {n: 1}})})).json();
  const event = await seen((f) => f.id === posted.id);
  ws.close(1000);
  return {ack, beat, event};
}
"""

SSE_SCRIPT = """
async (address) => {
  window.received = [];
  window.errors = 0;
  const es = new EventSource(`http://${address}/sse?client_id=es`);
  window.es = es;
  es.addEventListener("tick", (e) => window.received.push(
    {id: Number(e.lastEventId), data: JSON.parse(e.data)}));
  es.onerror = () => { window.errors += 1; };
  await new Promise((resolve) => { es.onopen = resolve; });
  return es.readyState;
}
"""

CROSS_ORIGIN_SCRIPT = """
async (address) => {
  // A "simple" cross-site POST: no preflight, so only the server can refuse it.
  await fetch(`http://${address}/mutations`, {method: "POST", mode: "no-cors",
    body: JSON.stringify({client_id: "evil", seq: 1, op: "set",
                          data: {key: "evil", value: 1}})}).catch(() => null);
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${address}/ws?client_id=evil`);
    ws.onopen = () => resolve("open");
    ws.onclose = (e) => resolve(`closed ${e.code}`);
  });
}
"""


def test_chromium_websocket_and_event_source_with_resume() -> None:
    from playwright.async_api import async_playwright

    beat = Heartbeat(ping_interval_s=0.2, pong_timeout_s=2, sse_comment_s=1)

    async def scenario() -> dict[str, Any]:
        async with (
            serving(heartbeat=beat, sse_retry_ms=100) as (hub, address),
            async_playwright() as playwright,
        ):
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                page = await browser.new_page()
                await page.goto(f"http://{address}/healthz")  # the page's origin: the server
                ws_result = await page.evaluate(WS_SCRIPT, address)
                assert await page.evaluate(SSE_SCRIPT, address) == 1  # OPEN

                async def publish(n: int) -> int:
                    response = await page.request.post(
                        f"http://{address}/publish", data={"event": "tick", "data": n}
                    )
                    return int((await response.json())["id"])

                before = [await publish(n) for n in range(3)]
                await eventually(lambda: hub.counters.messages_out["sse"] >= 2)
                # cut the stream server-side; events published while the browser is away
                # must arrive after its automatic reconnect with Last-Event-ID
                (sse,) = [s for s in hub.subscribers.values() if s.route == "sse"]
                hub.drop(sse, "test_cut")
                during = [await publish(n) for n in range(3, 6)]
                await eventually(lambda: hub.counters.resumes_replayed["sse"] == 1)
                after = [await publish(n) for n in range(6, 8)]
                await page.wait_for_function("window.received.length >= 8", timeout=10_000)
                received = await page.evaluate("window.received")
                errors = await page.evaluate("window.errors")
                await page.evaluate("window.es.close()")

                other = await browser.new_page()
                await other.goto(f"http://localhost:{address.rsplit(':', 1)[1]}/healthz")
                cross = await other.evaluate(CROSS_ORIGIN_SCRIPT, address)
            finally:
                await browser.close()
            return {
                "ws": ws_result,
                "received": received,
                "expected": before + during + after,
                "errors": errors,
                "cross": cross,
                "kv": hub.store.view()["kv"],
            }

    result = arun(scenario(), timeout=60)
    ack = result["ws"]["ack"]
    assert ack["ack"] == 1 and ack["status"] == "ok" and isinstance(ack["secret"], str)
    assert result["ws"]["beat"]["event"] == "heartbeat" and "id" not in result["ws"]["beat"]
    assert result["ws"]["event"]["event"] == "hello" and result["ws"]["event"]["data"] == {"n": 1}
    assert result["kv"] == {"from": "chromium"}  # the cross-site POST was not applied
    # every event once, in order, across the cut
    assert [e["id"] for e in result["received"]] == result["expected"]
    assert [e["data"] for e in result["received"]] == list(range(8))
    assert result["errors"] >= 1  # the browser saw the cut and reconnected by itself
    assert result["cross"].startswith("closed")  # other origin: refused with 403
