"""``selector serve`` as users run it: bad input, graceful SIGTERM, light imports."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.runtime.conftest import UNIT, arun, subscribe
from tests.runtime.serve_process import ServeProcess


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selector", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30 * UNIT,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--port", "70000"], "must be 0-65535"),
        (["--ping-interval", "0"], "must be a finite number > 0"),
        (["--ping-interval", "inf"], "must be a finite number > 0"),
        (["--state", "/nonexistent-dir/x/state.db", "--port", "0"], "cannot use state file"),
        (["--replay-events", "-1"], "--replay-events must be >= 0"),
        (["--allow-origin", "app.example"], "not an origin"),
        (["--allow-origin", "https://app.example/path"], "not an origin"),
        (["--public-origin", "example.com"], "--public-origin: not an origin"),
        (["--allowed-host", "a b"], "--allowed-host: not a host name"),
        (["--trusted-proxy", "10.0.0.0/33"], "--trusted-proxy: not an IP address"),
        (["--header-timeout", "0"], "must be a finite number > 0"),
    ],
)
def test_bad_input_is_a_message_and_exit_2(args: list[str], fragment: str) -> None:
    result = run_serve(*args)
    assert result.returncode == 2
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_a_bad_profile_is_located(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("schema_version: 1\nname: x\nnot_a_field: 3\n", encoding="utf-8")
    result = run_serve("--profile", str(profile))
    assert result.returncode == 2 and str(profile) in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_is_a_message(tmp_path: Path) -> None:
    first = ServeProcess(tmp_path / "a.log")
    port = first.start()
    try:
        result = run_serve("--port", str(port))
        assert result.returncode == 2 and "cannot serve on" in result.stderr
    finally:
        first.stop()


def test_sigterm_closes_websockets_with_1001_and_exits_0(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "serve.log")
    port = server.start()

    async def scenario() -> tuple[int, str]:
        async with subscribe(f"ws://127.0.0.1:{port}/ws?client_id=a") as ws:
            await ws.send(json.dumps({"seq": 1, "op": "set", "data": {"key": "k", "value": 1}}))
            assert json.loads(await ws.recv())["ack"] == 1
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(10 * UNIT):
                    while True:
                        await ws.recv()
            assert closed.value.rcvd is not None
            return closed.value.rcvd.code, closed.value.rcvd.reason

    try:
        code, reason = arun(scenario())
        assert server.process is not None
        assert server.process.wait(15 * UNIT) == 0  # the first SIGTERM is enough
    finally:
        server.stop(signal.SIGKILL)
    assert code == 1001 and reason.startswith("retry_after_ms=")
    events = [e["event"] for e in server.log_events()]
    assert events[0] == "server.listening" and "ws.open" in events and "ws.closed" in events
    assert events[-1] == "server.stopped"


def test_serve_help_imports_no_aiohttp() -> None:
    code = (
        "import sys\n"
        "from selector.cli import build_parser\n"
        "build_parser()\n"
        "heavy = {'aiohttp', 'pydantic', 'jsonschema'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_serve_with_a_profile_starts(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "schema_version: 1\nname: chat\n"
        "traffic:\n  server_to_client: {rate_hz: 2.0, payload_bytes: 200}\n"
        "delivery: {guarantee: best_effort}\n",
        encoding="utf-8",
    )
    server = ServeProcess(tmp_path / "serve.log", "--profile", str(profile))
    server.start()
    (listening,) = [e for e in server.log_events() if e["event"] == "server.listening"]
    assert listening["delivery"] == "best_effort"  # from the profile's delivery.guarantee
    assert listening["ping_interval_s"] > 0 and listening["durable"] is False
    assert server.stop() == 0


def test_no_heartbeat_is_a_naive_server(tmp_path: Path) -> None:
    assert "excludes" in run_serve("--no-heartbeat", "--ping-interval", "5").stderr
    server = ServeProcess(tmp_path / "serve.log", "--no-heartbeat")
    server.start()
    (listening,) = [e for e in server.log_events() if e["event"] == "server.listening"]
    assert listening["ping_interval_s"] is None and listening["sse_comment_s"] is None
    assert server.stop() == 0


def test_two_tokens_and_a_client_id_cap_from_the_command_line(tmp_path: Path) -> None:
    import aiohttp

    server = ServeProcess(
        tmp_path / "serve.log", "--token", "t-one", "--token", "t-two", "--max-client-ids", "1"
    )
    port = server.start()

    async def scenario() -> list[tuple[int, str]]:
        url = f"http://127.0.0.1:{port}/mutations"
        seen = []
        async with aiohttp.ClientSession() as session:
            for token, client_id in (
                ("t-one", "a"),
                ("t-two", "a"),
                ("t-two", "b"),
                ("t-two", "a"),
            ):
                headers = {"Authorization": f"Bearer {token}"}
                body = {"client_id": client_id, "seq": 1, "op": "noop", "secret": "s"}
                async with session.post(url, json=body, headers=headers) as response:
                    seen.append((response.status, (await response.json()).get("error", "")))
        return seen

    # "a" is bound to t-one until "b" pushes it out of the one-id ledger.
    assert arun(scenario()) == [(200, ""), (403, "CLIENT_ID_BOUND"), (200, ""), (200, "")]
    assert server.stop() == 0
