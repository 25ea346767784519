"""``selector probe`` finds the idle timeout of real proxies started here on loopback, and
tells a silent drop from a close. Timeouts are test-sized (2-3 s) to keep the run short."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from selector.verify.probe import ProbeSettings, connection_url, probe_idle_timeout
from selector.verify.proxy import FaultPolicy, FaultProxy
from selector.verify.sseprobe import probe_sse_idle_timeout, publish_url_for
from tests.runtime.conftest import UNIT, eventually, serving

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
)
#: Short searches: 4 connections per round, durations up to 6 s, 1 s precision.
SETTINGS = ProbeSettings(max_idle_s=6.0, precision_s=1.0, connections=4, reply_timeout_s=1.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def accepting(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def process(argv: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


@asynccontextmanager
async def upstream() -> AsyncIterator[int]:
    """The reference runtime on a free port (its own pings are 25 s apart and its SSE comment
    heartbeats 15 s: never inside the test's idle durations)."""
    async with serving() as (_, hostport):
        yield int(hostport.rsplit(":", 1)[1])


async def started(proc: subprocess.Popen[bytes], port: int) -> None:
    async def up() -> None:
        while not accepting(port):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            await asyncio.sleep(0.05)

    async with asyncio.timeout(10 * UNIT):
        await up()


def within(measured: float | None, expected: float, precision: float) -> bool:
    return measured is not None and abs(measured - expected) <= precision


def test_each_connection_gets_its_own_client_id() -> None:
    url = "ws://127.0.0.1:1/ws?client_id=ops&x=1"
    assert connection_url(url, 3) == "ws://127.0.0.1:1/ws?client_id=ops.probe3&x=1"
    assert connection_url("ws://127.0.0.1:1/echo", 3) == "ws://127.0.0.1:1/echo"
    sse = "http://127.0.0.1:1/sse?client_id=ops"
    assert connection_url(sse, 0, "sseprobe") == "http://127.0.0.1:1/sse?client_id=ops.sseprobe0"
    assert publish_url_for(sse) == "http://127.0.0.1:1/publish"


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (scripts/system-deps)")
async def test_probe_finds_nginx_read_timeout(tmp_path: Path) -> None:
    assert NGINX is not None
    port = free_port()
    async with upstream() as app_port:
        conf = tmp_path / "nginx.conf"
        conf.write_text(
            f"""
pid {tmp_path}/nginx.pid;
error_log stderr;
events {{ worker_connections 64; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        location /ws {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 3s;
            proxy_send_timeout 3s;
        }}
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_read_timeout 3s;
        }}
    }}
}}
""",
            encoding="utf-8",
        )
        argv = [NGINX, "-p", str(tmp_path), "-e", "stderr", "-c", str(conf), "-g", "daemon off;"]
        with process(argv) as proc:
            await started(proc, port)
            result = await probe_idle_timeout(f"ws://127.0.0.1:{port}/ws?client_id=t", SETTINGS)
            sse = await probe_sse_idle_timeout(f"http://127.0.0.1:{port}/sse?client_id=t", SETTINGS)
    assert result.drop == "fin", result
    assert within(result.idle_timeout_s, 3.0, SETTINGS.precision_s), result
    # The SSE stream through proxy_read_timeout 3s: closed with FIN too, one round.
    assert (sse.drop, sse.rounds) == ("fin", 1), sse
    assert within(sse.idle_timeout_s, 3.0, SETTINGS.precision_s), sse
    assert any(h.outcome == "survived" for h in sse.held), sse


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (scripts/system-deps)")
async def test_probe_finds_haproxy_tunnel_timeout(tmp_path: Path) -> None:
    assert HAPROXY is not None
    port = free_port()
    async with upstream() as app_port:
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(
            f"""
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout tunnel 3s

frontend public
    bind 127.0.0.1:{port}
    default_backend app

backend app
    server app 127.0.0.1:{app_port}
""",
            encoding="utf-8",
        )
        with process([HAPROXY, "-db", "-f", str(cfg)]) as proc:
            await started(proc, port)
            result = await probe_idle_timeout(f"ws://127.0.0.1:{port}/ws?client_id=t", SETTINGS)
    assert result.drop in ("fin", "rst")
    assert within(result.idle_timeout_s, 3.0, SETTINGS.precision_s), result


async def test_probe_reports_the_fault_proxy_silent_drop() -> None:
    async with upstream() as app_port:
        policy = FaultPolicy(idle_timeout_s=2.0, idle_action="silent_drop")
        async with FaultProxy(("127.0.0.1", app_port), policy) as proxy:
            await eventually(lambda: proxy.port != 0)
            result = await probe_idle_timeout(
                f"ws://127.0.0.1:{proxy.port}/ws?client_id=t", SETTINGS
            )
    assert result.drop == "silent"
    assert result.high_s is not None and result.high_s - result.low_s <= SETTINGS.precision_s
    assert result.low_s <= 2.0 <= result.high_s, result
    assert within(result.idle_timeout_s, 2.0, SETTINGS.precision_s)


async def test_sse_probe_reports_the_fault_proxy_silent_drop() -> None:
    async with upstream() as app_port:
        policy = FaultPolicy(idle_timeout_s=2.0, idle_action="silent_drop")
        async with FaultProxy(("127.0.0.1", app_port), policy) as proxy:
            await eventually(lambda: proxy.port != 0)
            result = await probe_sse_idle_timeout(
                f"http://127.0.0.1:{proxy.port}/sse?client_id=t", SETTINGS
            )
    # The streams stayed open; the ones idle past 2 s never showed the published event.
    assert result.drop == "silent", result
    assert {h.outcome for h in result.held} == {"survived", "silent"}, result
    assert result.high_s is not None and result.low_s <= 2.0 <= result.high_s, result
    assert within(result.idle_timeout_s, 2.0, SETTINGS.precision_s), result


async def test_probe_reports_none_when_nothing_drops() -> None:
    async with upstream() as app_port:
        settings = ProbeSettings(
            max_idle_s=2.0, precision_s=1.0, connections=2, reply_timeout_s=1.0
        )
        result = await probe_idle_timeout(f"ws://127.0.0.1:{app_port}/ws?client_id=t", settings)
    assert (result.drop, result.idle_timeout_s, result.high_s) == ("none", None, None)
    assert result.connections == 2 and result.rounds == 1


PROFILE = """\
schema_version: 1
name: ops
traffic:
  server_to_client: {rate_hz: 1.0, payload_bytes: 200}
infrastructure:
  path:
    - kind: aws_alb
      idle_timeout_s: 60  # ops ticket OPS-123: do not lower
    - kind: nginx
"""


async def test_probe_command_json_through_a_silent_drop(tmp_path: Path) -> None:
    import json
    import sys

    from selector.loading import load_profile

    profile = tmp_path / "ops.yaml"
    # As a Windows editor saves it: a byte-order mark and CRLF line endings.
    raw = b"\xef\xbb\xbf" + PROFILE.replace("\n", "\r\n").encode("utf-8")
    profile.write_bytes(raw)

    async with upstream() as app_port:
        policy = FaultPolicy(idle_timeout_s=2.0, idle_action="silent_drop")
        async with FaultProxy(("127.0.0.1", app_port), policy) as proxy:
            await eventually(lambda: proxy.port != 0)
            argv = [
                sys.executable, "-m", "selector", "probe",
                f"ws://127.0.0.1:{proxy.port}/ws?client_id=cli",
                "--max-idle", "4", "--connections", "4", "--reply-timeout", "1",
                "--format", "json", "--write-profile", str(profile), "--hop", "aws_alb", "--sse",
            ]  # fmt: skip
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            async with asyncio.timeout(60 * UNIT):
                out, err = await proc.communicate()
    assert proc.returncode == 1, err.decode()
    report = json.loads(out)
    assert report["drop"] == "silent"
    assert within(report["idle_timeout_s"], 2.0, 1.0), report
    # --sse: the streams beside /ws, on /sse through the same proxy, reported apart.
    sse = report["sse"]
    assert sse["url"] == f"http://127.0.0.1:{proxy.port}/sse?client_id=cli"
    assert sse["drop"] == "silent" and within(sse["idle_timeout_s"], 2.0, 1.0), sse
    assert b"round 1: holding" in err and b"SSE streams idle" in err
    # The measured value replaces the assumed one; the user's comment on its line, the
    # byte-order mark, the line endings and everything else are kept as written.
    hops = load_profile(profile).infrastructure.path
    assert within(hops[0].idle_timeout_s, 2.0, 1.0) and hops[1].idle_timeout_s is None
    measured = f"{hops[0].idle_timeout_s:g}".encode()
    assert profile.read_bytes() == raw.replace(
        b"idle_timeout_s: 60 ", b"idle_timeout_s: " + measured + b" "
    )
    assert b"the line's own comment is kept, not this note: measured by selector probe on" in err


RECORD_INTO = """\
schema_version: 2
name: ops
traffic:
  server_to_client: {rate_hz: 1.0, payload_bytes: 200}
infrastructure:
  path:
    - kind: aws_alb
      idle_timeout_s: 60
    - kind: nginx
      idle_timeout_s: 42  # ops ticket OPS-123: do not lower
    - kind: envoy
"""
NOTE = "measured by selector probe on 2026-12-04 (silent drop, ws://h/ws)"


def _profile(folder: Path, content: str | bytes) -> Path:
    path = folder / "ops.yaml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_record_keeps_the_users_comment_on_the_line(tmp_path: Path) -> None:
    from selector.commands.probe import _record

    path = _profile(tmp_path, RECORD_INTO)
    assert _record(str(path), 1, 50.0, NOTE) is False
    text = path.read_text(encoding="utf-8")
    assert "      idle_timeout_s: 50  # ops ticket OPS-123: do not lower\n" in text
    assert text == RECORD_INTO.replace("idle_timeout_s: 42 ", "idle_timeout_s: 50 ")


def test_record_adds_its_note_where_the_line_has_no_comment(tmp_path: Path) -> None:
    from selector.commands.probe import _record

    path = _profile(tmp_path, RECORD_INTO)
    assert _record(str(path), 0, 4.5, NOTE) is True
    assert path.read_text(encoding="utf-8") == RECORD_INTO.replace(
        "idle_timeout_s: 60\n", f"idle_timeout_s: 4.5  # {NOTE}\n"
    )
    # A hop with no idle_timeout_s gets one after its first line, with the note.
    assert _record(str(path), 2, 7.0, NOTE) is True
    assert path.read_text(encoding="utf-8").endswith(
        f"    - kind: envoy\n      idle_timeout_s: 7  # {NOTE}\n"
    )


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_record_keeps_crlf_line_endings_and_a_byte_order_mark(tmp_path: Path, bom: bytes) -> None:
    from selector.commands.probe import _record
    from selector.loading import load_profile

    raw = bom + RECORD_INTO.replace("\n", "\r\n").encode("utf-8")
    path = _profile(tmp_path, raw)
    _record(str(path), 1, 50.0, NOTE)
    _record(str(path), 2, 7.0, NOTE)
    added = b"- kind: envoy\r\n      idle_timeout_s: 7  # " + NOTE.encode("utf-8") + b"\r\n"
    expected = raw.replace(b"idle_timeout_s: 42 ", b"idle_timeout_s: 50 ")
    assert path.read_bytes() == expected.replace(b"- kind: envoy\r\n", added)
    assert [hop.idle_timeout_s for hop in load_profile(path).infrastructure.path] == [60, 50, 7]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ops.yaml"]  # no temporary left


def test_record_refuses_an_edit_that_would_change_another_value(tmp_path: Path) -> None:
    from selector.commands.probe import _record
    from selector.errors import UsageError

    shared = RECORD_INTO.replace("idle_timeout_s: 60", "idle_timeout_s: &t 60").replace(
        "- kind: envoy\n", "- kind: envoy\n      idle_timeout_s: *t\n"
    )
    path = _profile(tmp_path, shared)
    with pytest.raises(UsageError, match="would change other values too") as caught:
        _record(str(path), 0, 4.0, NOTE)
    assert f"{path}:8:" in str(caught.value)
    assert path.read_text(encoding="utf-8") == shared
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ops.yaml"]


def test_probe_command_refuses_what_it_cannot_probe(capsys) -> None:  # type: ignore[no-untyped-def]
    from selector.cli import main

    assert main(["probe", "http://127.0.0.1:1/ws"]) == 2
    assert "not a ws:// or wss:// URL" in capsys.readouterr().err
    assert main(["probe", f"ws://127.0.0.1:{free_port()}/ws", "--reply-timeout", "1"]) == 2
    assert "cannot open a WebSocket" in capsys.readouterr().err
    assert main(["probe", "ws://127.0.0.1:1/echo", "--sse"]) == 2
    assert "give the SSE endpoint with --sse-url" in capsys.readouterr().err
    assert main(["probe", "ws://127.0.0.1:1/ws", "--sse-url", "ws://127.0.0.1:1/sse"]) == 2
    assert "--sse-url: not an http:// or https:// URL" in capsys.readouterr().err


async def test_sse_probe_refuses_an_endpoint_that_does_not_publish() -> None:
    from selector.verify.probe import ProbeError

    async with upstream() as app_port:
        base = f"http://127.0.0.1:{app_port}"
        with pytest.raises(ProbeError, match=r"did not open an SSE stream: HTTP/1\.1 404"):
            await probe_sse_idle_timeout(f"{base}/nothing", SETTINGS)
        with pytest.raises(ProbeError, match="refused the probe's publish: HTTP 404"):
            await probe_sse_idle_timeout(
                f"{base}/sse?client_id=t", SETTINGS, publish_url=f"{base}/nothing"
            )


def test_the_sse_endpoint_beside_a_websocket_url() -> None:
    from selector.commands.probe import sse_url_for

    assert sse_url_for("wss://h:8/app/ws?client_id=a") == "https://h:8/app/sse?client_id=a"
    assert sse_url_for("ws://h/ws") == "http://h/sse"
    assert sse_url_for("ws://h/socket") is None
