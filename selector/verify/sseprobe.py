"""Measure a live path's idle timeout with SSE streams held idle (``selector probe --sse``).

An SSE stream is one-way: the client has nothing to send that the server would answer, so a
silent drop can only show as data that should arrive and does not. The probe makes the server
send it: every stream of a round is opened so that its idle duration ends at the same moment,
and at that moment one ``POST /publish`` (``application/json``, ``{"event": "probe", "data":
NONCE}``) asks the server to broadcast an event. A stream that shows the nonce within the
reply timeout survived; one closed before (an empty read or ``ECONNRESET`` on the socket)
ended with FIN or RST after the time it stayed open; one that stays open and never shows it
was dropped silently. One broadcast per round, at its end, keeps each stream's path idle for
exactly its duration; it would reset every other stream's idle timer if streams ended at
different times.

Like the WebSocket probe, the stream is read on plain asyncio sockets (to tell FIN from RST);
whatever the server sends while idle (``selector serve``'s comment heartbeats, for one) is
read and ignored, but it resets the path's idle timer. The publish endpoint must broadcast to
the stream, as ``selector serve``'s ``/publish`` does.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

from selector.runtime.clock import SYSTEM_CLOCK, Clock
from selector.verify.idlesearch import Held
from selector.verify.probe import (
    ProbeError,
    ProbeResult,
    ProbeSettings,
    all_held,
    connection_url,
    search_rounds,
)

__all__ = ["probe_sse_idle_timeout", "publish_url_for"]

#: Bytes of the stream kept to find the nonce in (it may straddle two reads).
_TAIL = 4096


def publish_url_for(sse_url: str) -> str:
    """``/publish`` on the stream's origin, where ``selector serve`` takes broadcasts."""
    parts = urlsplit(sse_url)
    return f"{parts.scheme}://{parts.netloc}/publish"


async def _open(url: str, timeout_s: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A GET with ``Accept: text/event-stream``, its response head read and checked."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(
                parts.hostname or "localhost",
                parts.port or (443 if secure else 80),
                ssl=ssl.create_default_context() if secure else None,
            )
            writer.write(
                f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        why = str(exc) or type(exc).__name__
        raise ProbeError(f"cannot open an SSE stream: {why}") from None
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if " 200 " not in f"{status} " or b"text/event-stream" not in head.lower():
        writer.close()
        raise ProbeError(f"the endpoint did not open an SSE stream: {status}")
    return reader, writer


async def _publish(url: str, nonce: str, timeout_s: float) -> None:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.post(url, json={"event": "probe", "data": nonce}) as response,
        ):
            if response.status >= 300:
                raise ProbeError(f"{url} refused the probe's publish: HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ProbeError(f"cannot publish to {url}: {exc or type(exc).__name__}") from None


async def _hold(
    url: str,
    idle_s: float,
    end: float,
    published: asyncio.Event,
    nonce: bytes,
    settings: ProbeSettings,
    clock: Clock,
) -> Held:
    """Open at ``end - idle_s``, idle until ``end``, then wait for the nonce; every time is
    read and waited on ``clock`` (the idle durations are what is measured)."""
    now = clock.monotonic
    await clock.sleep(max(0.0, end - idle_s - now()))
    reader, writer = await _open(url, settings.reply_timeout_s)
    opened = now()
    tail = b""
    answer_by: float | None = None
    try:
        while nonce not in tail:
            if published.is_set():
                # Fixed once the publish is sent: heartbeats do not extend it.
                answer_by = answer_by or now() + settings.reply_timeout_s
                left = answer_by - now()
            else:
                left = end - now() + settings.reply_timeout_s
            try:
                async with clock.timeout(max(0.0, left)):
                    chunk = await reader.read(_TAIL)
            except TimeoutError:
                if published.is_set():
                    return Held(idle_s, "silent")
                await published.wait()
                continue
            except ConnectionResetError:
                return Held(idle_s, "rst", now() - opened)
            if not chunk:
                return Held(idle_s, "fin", now() - opened)
            tail = (tail + chunk)[-_TAIL:]
        return Held(idle_s, "survived")
    finally:
        writer.close()


async def probe_sse_idle_timeout(
    url: str,
    settings: ProbeSettings,
    *,
    publish_url: str | None = None,
    clock: Clock = SYSTEM_CLOCK,
    progress: Callable[[str], None] = lambda _: None,
) -> ProbeResult:
    """Search the idle timeout of the path to the SSE endpoint ``url`` within ``settings``'
    bounds; ``publish_url`` (default :func:`publish_url_for`) broadcasts the probe's event.
    Idle durations are read and waited on ``clock``."""
    now = clock.monotonic
    target = publish_url or publish_url_for(url)
    # One stream and one publish first, so a wrong endpoint is one clear error.
    _, writer = await _open(connection_url(url, 0, "sseprobe"), settings.reply_timeout_s)
    writer.close()
    await _publish(target, "selector-probe-check", settings.reply_timeout_s)

    async def round_(durations: list[float], first: int) -> list[Held]:
        end = now() + max(durations)
        published = asyncio.Event()
        nonce = os.urandom(8).hex()
        holds = [
            _hold(
                connection_url(url, first + i, "sseprobe"),
                d,
                end,
                published,
                nonce.encode(),
                settings,
                clock,
            )
            for i, d in enumerate(durations)
        ]
        tasks = asyncio.gather(*holds, return_exceptions=True)
        await clock.sleep(max(0.0, end - now()))
        try:
            await _publish(target, nonce, settings.reply_timeout_s)
        except BaseException:
            tasks.cancel()
            raise
        finally:
            published.set()
        return await all_held(tasks)

    return await search_rounds(url, settings, round_, progress, "SSE streams")
