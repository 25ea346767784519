"""The command line as users meet it: exit codes, formats, start-up imports."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from selector import __version__
from selector.cli import COMMANDS, main
from tests.conftest import PROFILES, ROOT

GOOD = (
    "schema_version: 1\nname: ok\ntraffic:\n  server_to_client: {rate_hz: 1, payload_bytes: 10}\n"
)


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selector", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_validate_reports_located_problems_and_exits_2(write_yaml, capsys) -> None:  # type: ignore[no-untyped-def]
    good = write_yaml(GOOD, "good.yaml")
    bad = write_yaml(GOOD.replace("rate_hz: 1", "rate_hz: fast"), "bad.yaml")
    assert main(["validate", str(good), str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out.strip() == (
        f"{bad}:4:31: traffic.server_to_client.rate_hz: Input should be a valid number "
        "(got text 'fast')"
    )
    # Text that reads as a number does get the hint.
    quoted = write_yaml(GOOD.replace("rate_hz: 1", 'rate_hz: "1"'), "quoted.yaml")
    assert main(["validate", str(quoted)]) == 2
    out, _ = capsys.readouterr()
    assert "(got text '1'; write numbers and booleans without quotes)" in out
    assert "2 files checked: 1 valid, 1 invalid (1 problem)" in err


def test_validate_all_good_exits_0(write_yaml, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["validate", str(write_yaml(GOOD))]) == 0
    assert capsys.readouterr().out == ""


def test_validate_folder_recurses_into_yaml_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text("schema_version: 2\n")
    (tmp_path / "notes.txt").write_text("not a profile")
    assert main(["validate", str(tmp_path)]) == 2
    assert "2 files checked: 1 valid, 1 invalid" in capsys.readouterr().err


def test_validate_empty_folder_is_bad_usage(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["validate", str(tmp_path)]) == 2
    assert "no profile files found" in capsys.readouterr().err


def test_validate_github_format_emits_annotations(write_yaml, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = write_yaml("schema_version: 1\nname: x\nmedia: loud, very\n")
    assert main(["validate", "--format", "github", str(bad)]) == 2
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"::error file={bad},line=3,col=8::media: Input should be")


def test_bad_usage_exits_2() -> None:
    result = run_cli("validate")
    assert result.returncode == 2
    assert "error:" in result.stderr
    assert run_cli().returncode == 2
    assert run_cli("no-such-command").returncode == 2


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"selector {__version__}"


def test_example_profiles_validate_through_the_cli() -> None:
    result = run_cli("validate", str(PROFILES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("argv", [["--help"], ["validate", "--help"]])
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    probe = (
        "import sys\n"
        "from selector.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'pydantic', 'jsonschema', 'aiohttp', 'yaml', 'tabulate', 'crossplane'}\n"
        "heavy &= set(sys.modules)\n"
        # Only the table of commands: no command module, no model, no rule is imported (the
        # output formats' enum is, for --format's choices).
        "heavy |= {m for m in sys.modules if m.startswith('selector.')} - {'selector.cli', "
        "'selector.errors', 'selector.commands', 'selector.commands.validate', "
        "'selector.render', 'selector.render.formats'}\n"
        "print(sorted(heavy), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.stderr.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_no_command_help_imports_a_heavy_module(command: str) -> None:
    # dataclasses brings inspect, the largest import a --help could make; the libraries are
    # what the commands load to run, never to describe themselves.
    probe = (
        "import sys, io, contextlib\n"
        "from selector.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        main([{command!r}, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'dataclasses', 'inspect', 'pydantic', 'jsonschema', 'aiohttp', 'yaml',\n"
        "         'tabulate', 'crossplane'} & set(sys.modules)\n"
        "print(sorted(heavy), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.stderr.strip().splitlines()[-1] == "[]", command


#: Every command that opens no connection, as a user runs it. ``probe``, ``verify``, ``serve``
#: and ``client`` open connections and ``loadtest --run`` starts k6; the rest never need aiohttp.
NO_CONNECTION_COMMANDS = (
    "recommend {chat}",
    "what-if {chat} --set media=audio",
    "plan {chat}",
    "lint {chat} --heartbeat 30 --client-timeout 60",
    "loadtest {chat} --k6 --url ws://127.0.0.1:9/ws",
    "config nginx {chat}",
    "adr {chat}",
    "validate {profiles}",
    "migrate {v1} --out {tmp}/migrated.yaml",
    "schema",
    "rules",
    "explain push-only-stream",
    "docs build --out {tmp}/docs",
    "docs check --out {tmp}/docs",
)


def test_commands_that_open_no_connection_never_import_aiohttp(tmp_path: Path) -> None:
    v1 = tmp_path / "v1.yaml"
    v1.write_text(
        (PROFILES / "chat.yaml").read_text().replace("schema_version: 2", "schema_version: 1")
    )
    commands = [
        c.format(chat=PROFILES / "chat.yaml", profiles=PROFILES, v1=v1, tmp=tmp_path).split()
        for c in NO_CONNECTION_COMMANDS
    ]
    assert {argv[0] for argv in commands} | {"probe", "verify", "serve", "client"} == {
        c.name for c in COMMANDS
    }
    # One interpreter runs them in turn and reports, after each, whether aiohttp is loaded.
    probe = (
        "import contextlib, io, sys\n"
        "from selector.cli import main\n"
        f"for argv in {commands!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        code = main(argv)\n"
        "    print('REPORT', argv[0], code, 'aiohttp' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    reports = [line.split()[1:] for line in result.stderr.splitlines() if line[:7] == "REPORT "]
    assert [r[0] for r in reports] == [argv[0] for argv in commands], result.stderr
    for name, code, imported in reports:
        assert code == "0", (name, result.stderr)
        assert imported == "False", f"selector {name} imported aiohttp"


def test_schema_command_prints_the_committed_schema() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    committed = json.loads((ROOT / "docs" / "profile.schema.json").read_text())
    assert json.loads(result.stdout) == committed, (
        "docs/profile.schema.json is stale: run `selector schema > docs/profile.schema.json`"
    )


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["recommnd", "profiles/chat.yaml"], "did you mean 'recommend'?"),
        (["recommend", "--formt", "json", "profiles/chat.yaml"], "did you mean '--format'?"),
        (["config", "nginxx", "profiles/chat.yaml"], "did you mean 'nginx'?"),
        # The other name of a format is suggested too (table is text).
        (["recommend", "--format", "tabel", "profiles/chat.yaml"], "did you mean 'table'?"),
    ],
)
def test_usage_typos_get_the_closest_spelling(
    capsys: pytest.CaptureFixture[str], argv: list[str], suggestion: str
) -> None:
    assert main(argv) == 2
    assert suggestion in capsys.readouterr().err


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_every_command_help_states_its_exit_codes(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert main([command, "--help"]) == 0
    assert "exit codes: 0" in capsys.readouterr().out


def test_recommend_folder_with_one_bad_file_reports_the_good_ones_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "chat.yaml").write_text((ROOT / "profiles" / "chat.yaml").read_text())
    (tmp_path / "broken.yaml").write_text("schema_version: 1\nname: broken\n")
    assert main(["recommend", str(tmp_path), "--format", "json"]) == 2
    out, err = capsys.readouterr()
    assert [r["profile"] for r in json.loads(out)] == ["chat"]
    assert f"{tmp_path / 'broken.yaml'}" in err


def test_a_bad_argument_no_file_holds_reads_like_argparse_s_own_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Checked by the command, not by argparse: the same form, not a '<input>:' location.
    assert main(["config", "nginx", "profiles/chat.yaml", "--upstream", "bad"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("selector config: error: --upstream: 'bad': expected HOST:PORT")
    assert "<input>" not in err
    # A problem in a file stays located in it.
    assert main(["recommend", "profiles/chat.yaml", "--matrix", "profiles/chat.yaml"]) == 2
    assert capsys.readouterr().err.startswith("profiles/chat.yaml:")


def test_ctrl_c_says_interrupted_and_exits_130(tmp_path: Path) -> None:
    """SIGINT while a command waits on its input: a message and the documented code, no
    traceback. The profile is a FIFO, so ``validate`` blocks reading it until the signal."""
    import os
    import signal
    import time

    from tests.runtime.conftest import UNIT

    fifo = tmp_path / "profile.yaml"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [sys.executable, "-m", "selector", "validate", str(fifo)],
        stderr=subprocess.PIPE,
        text=True,
    )
    writer = -1
    try:
        # Opening the write end without blocking succeeds once the command holds the read
        # end open: it has started and now waits in read().
        deadline = time.monotonic() + 30 * UNIT
        while writer < 0 and time.monotonic() < deadline and process.poll() is None:
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.01)
        assert writer >= 0, "the command never opened its input"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30 * UNIT)
    finally:
        if writer >= 0:
            os.close(writer)
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert err.strip() == "interrupted"


@pytest.mark.skipif(
    not (os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)),
    reason="no /dev/full character device on this machine",
)
@pytest.mark.parametrize("command", [["rules"], ["schema"], ["explain", "push-only-stream"]])
@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_output_that_cannot_be_written_is_reported_with_exit_2(
    command: list[str], unbuffered: str
) -> None:
    """Standard output on a full device (opened by the shell's way, never renamed over). A
    small output used to fail only at exit: 'rules' exited 0 having written nothing."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = unbuffered
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "selector", *command],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=env,
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr == "standard output: cannot write: No space left on device\n"
