"""``selector client``: a real process against the real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from selector.cli import main
from selector.runtime.protocol.envelope import Publish
from selector.runtime.server.hub import Hub
from selector.runtime.server.settings import Heartbeat
from tests.runtime.conftest import UNIT, eventually, serving

FAST_BEAT = Heartbeat(ping_interval_s=0.1, pong_timeout_s=5 * UNIT, sse_comment_s=0.1)


async def _run_cli(hub: Hub, *args: str, publish: int) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "selector",
        "client",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(15 * UNIT):
            if publish:
                await eventually(lambda: hub.subscribers, 15)
            for i in range(publish):
                hub.publish(Publish("tick", {"n": i}))
            stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


@pytest.mark.parametrize("protocol", ["ws", "websocket", "sse"])
def test_prints_events_as_json_lines_and_sends_mutations(protocol: str) -> None:
    async def main_() -> tuple[int, str, str, list[tuple[str, int]], dict[str, object]]:
        async with serving(heartbeat=FAST_BEAT) as (hub, address):
            hub.applied_log = []
            sends = [
                '{"op": "set", "data": {"key": "a", "value": 1}}',
                '{"op": "incr", "data": {"key": "n"}}',
            ]
            args = [protocol, f"http://{address}", "--client-id", "cli-1", "--count", "2"]
            for send in sends:
                args += ["--send", send]
            code, out, err = await _run_cli(hub, *args, publish=2)
            return code, out, err, hub.applied_log, hub.store.view()["kv"]

    code, out, err, applied, kv = asyncio.run(main_())
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": 1, "event": "tick", "data": {"n": 0}},
        {"id": 2, "event": "tick", "data": {"n": 1}},
    ]
    assert applied == [("cli-1", 1), ("cli-1", 2)]
    assert kv == {"a": 1, "n": 1}
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["events"] == 2
    assert summary["pending"] == []
    assert summary["failure"] is None


def test_count_zero_sends_waits_for_the_acks_and_exits() -> None:
    async def main_() -> tuple[int, str, list[tuple[str, int]], dict[str, object]]:
        async with serving() as (hub, address):
            hub.applied_log = []
            code, _, err = await _run_cli(
                hub, "ws", f"http://{address}", "--client-id", "once", "--count", "0",
                "--send", '{"op": "incr", "data": {"key": "k", "by": 2}}',
                publish=0,
            )  # fmt: skip
            return code, err, hub.applied_log, hub.store.view()["kv"]

    code, err, applied, kv = asyncio.run(main_())
    assert code == 0, err
    assert applied == [("once", 1)] and kv == {"k": 2}
    assert json.loads(err.strip().splitlines()[-1])["acks"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["ws", "ws://127.0.0.1:9", "--send", "{bad"],
            "selector client: error: --send #1: not JSON",
        ),
        (["ws", "ws://127.0.0.1:9", "--send", '{"data": 1}'], "--send #1: expected"),
        # The stdlib parser recursed out of stack here: a traceback.
        (
            ["ws", "ws://127.0.0.1:9", "--send", '{"op": "x", "data": ' + "[" * 100_000],
            "--send #1: not JSON this client can send: nested too deeply",
        ),
        # The server refuses what the wire contract refuses: said before connecting.
        (
            [
                "sse",
                "http://127.0.0.1:9",
                "--send",
                '{"op": "x", "data": ' + "[" * 40 + "]" * 40 + "}",
            ],
            "--send #1: data is nested deeper than 32 levels",
        ),
        (["sse", "ftp://example", "--duration", "0"], "url: expected an absolute"),
        (["ws", "ws://127.0.0.1:9", "--client-id", "a b"], "--client-id: client_id must be"),
        (["ws", "ws://127.0.0.1:9", "--count", "-1"], "--count: must be >= 0"),
    ],
)
def test_bad_usage_is_a_located_message_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["client", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_client_that_never_connects_exits_1_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"ws://127.0.0.1:{port}"
    assert main(["client", "ws", url, "--duration", str(0.3 * UNIT)]) == 1
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert summary["connects"] == 0
    assert summary["failure"].startswith("never connected (connect failed")
    # In words, the host and the cause, not a repr of the connection key's fields.
    assert f"Cannot connect to host 127.0.0.1:{port}" in summary["failure"]
    assert "ConnectionKey(" not in summary["failure"]


def test_help_imports_neither_aiohttp_nor_pydantic() -> None:
    code = (
        "import sys; from selector.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('aiohttp', 'pydantic', 'jsonschema') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"


def test_ctrl_c_still_prints_the_summary() -> None:
    async def main_() -> tuple[int, str, str]:
        async with serving(heartbeat=FAST_BEAT) as (hub, address):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "selector", "client", "sse", f"http://{address}",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert process.stdout is not None
            try:
                async with asyncio.timeout(15 * UNIT):
                    await eventually(lambda: hub.subscribers, 15)
                    hub.publish(Publish("tick", 1))
                    first = await process.stdout.readline()  # the event, printed
                    process.send_signal(signal.SIGINT)
                    rest, stderr = await process.communicate()
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        assert process.returncode is not None
        return process.returncode, (first + rest).decode(), stderr.decode()

    code, out, err = asyncio.run(main_())
    assert code == 0, err
    assert json.loads(out) == {"id": 1, "event": "tick", "data": 1}
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["events"] == 1
    assert summary["connects"] == 1


def test_a_send_the_real_server_refuses_exits_1_and_is_reported(tmp_path: Path) -> None:
    from tests.runtime.serve_process import ServeProcess

    server = ServeProcess(tmp_path / "serve.log")
    port = server.start()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "selector",
                "client",
                "ws",
                f"ws://127.0.0.1:{port}",
                "--send",
                '{"op": "incr", "data": {"key": "k", "by": "two"}}',
                "--send",
                '{"op": "incr", "data": {"key": "k", "by": 2}}',
                "--count",
                "0",
                "--duration",
                str(10 * UNIT),
            ],
            capture_output=True,
            text=True,
            timeout=60 * UNIT,
        )
    finally:
        server.stop()
    summary = json.loads(result.stderr.strip().splitlines()[-1])
    assert result.returncode == 1
    assert summary["rejected"] == [1] and summary["pending"] == [] and summary["acks"] == 1


def test_a_send_json_cannot_carry_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    too_big = '{"op": "set", "data": {"v": 99999999999999999999}}'
    assert main(["client", "ws", "ws://127.0.0.1:9", "--send", too_big, "--duration", "1"]) == 2
    assert "--send #1" in capsys.readouterr().err
