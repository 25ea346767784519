"""``selector lint --from``: deployed configuration files, judged with FILE:LINE and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from selector.cli import main

CONFIGS = Path(__file__).resolve().parent / "configs"


def lint(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["lint", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def findings(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    code, out, _ = lint(capsys, *argv, "--format", "json")
    report = json.loads(out)
    assert code == (1 if report["findings"] else 0)
    found: list[dict[str, Any]] = report["findings"]
    return found


def at(found: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(f["check"], Path(f["file"]).name, f["line"]) for f in found]


def test_nginx_read_timeout_under_the_heartbeat_names_file_and_line(capsys) -> None:  # type: ignore[no-untyped-def]
    config = str(CONFIGS / "nginx-ws-20s.conf")
    code, out, err = lint(capsys, "--from", config, "--heartbeat", "25")
    assert code == 1
    assert out.startswith(f"{config}:26:1: proxy_read_timeout:")
    assert "[heartbeat-reaches-idle-timeout]" in out and "proxy_read_timeout 38s;" in out
    assert "1 finding" in err


def test_complete_nginx_conf_with_45s_lints_clean(capsys) -> None:  # type: ignore[no-untyped-def]
    # One WebSocket location, HTTP/1.1, literal Connection "upgrade", default proxy_buffering
    # and an explicit keepalive_timeout: none of that is a finding.
    code, out, err = lint(capsys, "--from", str(CONFIGS / "nginx-ws-45s.conf"), "--heartbeat", "25")
    assert (code, out) == (0, "")
    assert "websocket: clean" in err


def test_nginx_includes_are_followed_and_inherited_settings_found(capsys) -> None:  # type: ignore[no-untyped-def]
    config = str(CONFIGS / "included" / "nginx.conf")
    ws = findings(capsys, "--from", config, "--heartbeat", "25", "--protocol", "websocket")
    # The http-level 20 s read timeout is inherited by every location: one line to change.
    assert at(ws) == [
        ("heartbeat-reaches-idle-timeout", "nginx.conf", 11),
        ("upgrade-headers-missing", "app.conf", 22),
        ("upstream-not-http11", "app.conf", 22),
    ]
    sse = findings(capsys, "--from", config, "--heartbeat", "10", "--protocol", "sse")
    assert at(sse) == [("sse-buffering-on", "app.conf", 17)]
    assert sse[0]["fix"] == "set proxy_buffering off;"


def test_haproxy_tunnel_and_client_server_timeouts(capsys) -> None:  # type: ignore[no-untyped-def]
    config = str(CONFIGS / "haproxy.cfg")
    ws = findings(capsys, "--from", config, "--heartbeat", "25", "--protocol", "websocket")
    assert at(ws) == [("heartbeat-reaches-idle-timeout", "haproxy.cfg", 17)]
    assert "timeout tunnel 38s" in ws[0]["fix"]
    # SSE has no tunnel: the client timeout (30 s) and the server timeout (30000, bare
    # milliseconds) apply, both under the 1.5x margin of a 25 s heartbeat.
    sse = findings(capsys, "--from", config, "--heartbeat", "25", "--protocol", "sse")
    assert at(sse) == [
        ("hop-timeout-under-margin", "haproxy.cfg", 7),
        ("hop-timeout-under-margin", "haproxy.cfg", 8),
    ]
    assert findings(capsys, "--from", config, "--heartbeat", "10", "--protocol", "websocket") == []


def test_envoy_upgrade_idle_and_default_route_timeout(capsys) -> None:  # type: ignore[no-untyped-def]
    config = str(CONFIGS / "envoy.yaml")
    ws = findings(capsys, "--from", config, "--heartbeat", "25", "--protocol", "websocket")
    assert at(ws) == [
        ("upgrade-headers-missing", "envoy.yaml", 19),
        ("heartbeat-reaches-idle-timeout", "envoy.yaml", 12),
    ]
    sse = findings(capsys, "--from", config, "--heartbeat", "15", "--protocol", "sse")
    # The /sse route states no timeout: Envoy's 15 s default ends every stream.
    assert at(sse) == [("lifetime-cap-too-short", "envoy.yaml", 25)]
    assert sse[0]["fix"].startswith("set timeout: 0s")


def test_ingress_nginx_annotations(capsys) -> None:  # type: ignore[no-untyped-def]
    config = str(CONFIGS / "ingress.yaml")
    ws = findings(capsys, "--from", config, "--heartbeat", "25", "--protocol", "websocket")
    assert at(ws) == [("heartbeat-reaches-idle-timeout", "ingress.yaml", 6)]
    assert 'proxy-read-timeout: "38"' in ws[0]["fix"]
    sse = findings(capsys, "--from", config, "--heartbeat", "15", "--protocol", "sse")
    assert at(sse) == [("sse-buffering-on", "ingress.yaml", 22)]


def test_alb_attributes_json(capsys) -> None:  # type: ignore[no-untyped-def]
    config = str(CONFIGS / "alb-attributes.json")
    ws = findings(capsys, "--from", config, "--heartbeat", "25", "--protocol", "websocket")
    assert at(ws) == [("heartbeat-reaches-idle-timeout", "alb-attributes.json", 8)]
    assert findings(capsys, "--from", config, "--heartbeat", "10", "--protocol", "websocket") == []
    via = findings(capsys, "--from", config, "--heartbeat", "10", "--heartbeat-via", "http2-ping")
    # HTTP/2 PINGs do not count as activity: the heartbeat race is not judged, the mechanism is.
    assert [f["check"] for f in via] == ["http2-ping-behind-alb"]


def test_no_heartbeat_behind_deployed_timeouts(capsys) -> None:  # type: ignore[no-untyped-def]
    config = str(CONFIGS / "nginx-ws-45s.conf")
    ws = findings(capsys, "--from", config, "--heartbeat", "0")
    assert at(ws) == [("websocket-without-heartbeat", "nginx-ws-45s.conf", 26)]
    assert "every 30 s" in ws[0]["fix"]


def test_settings_file_gives_the_application_side(capsys, write_yaml) -> None:  # type: ignore[no-untyped-def]
    settings = write_yaml("heartbeat_s: 25\nclient_timeout_s: 40\n", name="app.yaml")
    config = str(CONFIGS / "nginx-ws-20s.conf")
    found = findings(capsys, "--from", config, "--settings", str(settings))
    assert [f["check"] for f in found] == [
        "heartbeat-reaches-idle-timeout",
        "client-timeout-under-2x-heartbeat",
    ]
    # Flags win over the file.
    assert (
        findings(capsys, "--from", config, "--settings", str(settings), "--heartbeat", "10") == []
    )
    bad = write_yaml("heartbeat_s: soon\nheartbeet: 3\n", name="bad.yaml")
    code, _, err = lint(capsys, "--from", config, "--settings", str(bad))
    assert code == 2 and f"{bad}:1:" in err and "heartbeet" in err and "Traceback" not in err


def test_github_format_annotates_the_config_file(capsys) -> None:  # type: ignore[no-untyped-def]
    config = str(CONFIGS / "nginx-ws-20s.conf")
    code, out, _ = lint(capsys, "--from", config, "--heartbeat", "25", "--format", "github")
    assert code == 1
    assert out.startswith(f"::error file={config},line=26,col=1::")


def test_profile_and_files_together(capsys) -> None:  # type: ignore[no-untyped-def]
    profile = str(Path(__file__).resolve().parents[2] / "profiles" / "chat.yaml")
    config = str(CONFIGS / "nginx-ws-20s.conf")
    found = findings(capsys, profile, "--from", config, "--heartbeat", "25")
    # The file replaces the profile's nginx hop; the profile's other hops are still judged.
    assert ("heartbeat-reaches-idle-timeout", "nginx-ws-20s.conf", 26) in at(found)
    assert all(not f["message"].startswith("nginx") for f in found if f["file"] == profile)


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("bad.conf", "http {\n  server {\n", ":2:"),
        (
            "bad-duration.conf",
            "location /ws {\n  proxy_pass http://a;\n  proxy_read_timeout soon;\n}\n",
            ":3:",
        ),
        ("bad.cfg", "backend ws\n    timeout tunnel forever\n", ":2:"),
        (
            "bad.json",
            '{"Attributes": [\n  {"Key": "idle_timeout.timeout_seconds", "Value": }\n]}',
            ":2:",
        ),
        ("bad.yaml", "kind: Ingress\nmetadata: [\n", ":"),
        ("other.yaml", "kind: Service\n", ": neither"),
    ],
)
def test_unreadable_configuration_is_a_located_usage_error(  # type: ignore[no-untyped-def]
    capsys, tmp_path: Path, name: str, text: str, where: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, out, err = lint(capsys, "--from", str(path), "--heartbeat", "25")
    assert code == 2 and out == ""
    assert f"{path}{where}" in err and "Traceback" not in err


_DEEP = 5_000
_HUGE = "9" * 400
#: Eight levels of nine aliases each: 9**8 values from a 300-byte file.
_LAUGHS = (
    "kind: Ingress\na: &a ["
    + ", ".join(["x"] * 9)
    + "]\n"
    + "".join(
        f"{n}: &{n} [{', '.join(['*' + a] * 9)}]\n"
        for a, n in zip("abcdefg", "bcdefgh", strict=True)
    )
).encode()


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        # Each of these ended in a traceback (RecursionError) or in a verdict on a timeout no
        # proxy can hold.
        ("alias.yaml", b"kind: Ingress\nmetadata: &x [*x]\n", ":1:"),
        ("deep.yaml", b"kind: Ingress\nmetadata: " + b"[" * _DEEP + b"]" * _DEEP, ":2:"),
        (
            "blocks.yaml",
            b"kind: Ingress\n" + b"".join(b"  " * i + b"k:\n" for i in range(100)),
            "nested more than 64 levels deep",
        ),
        (
            "laughs.yaml",
            _LAUGHS,
            "expands to more than",
        ),
        ("deep.json", b'{"Attributes": ' + b"[" * _DEEP + b"]" * _DEEP + b"}", "nested too deeply"),
        (
            "nan.json",
            b'{"Attributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "nan"}]}',
            "expected whole seconds",
        ),
        (
            "negative.json",
            b'{"Attributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "-5"}]}',
            "expected whole seconds",
        ),
        (
            "ingress-inf.yaml",
            b"kind: Ingress\nmetadata:\n  name: ws\n  annotations:\n"
            b'    nginx.ingress.kubernetes.io/proxy-read-timeout: "inf"\n',
            ":5:",
        ),
        (
            "huge.conf",
            b"location /ws {\n  proxy_pass http://a;\n  proxy_read_timeout "
            + _HUGE.encode()
            + b"s;\n}\n",
            ":3:",
        ),
        ("latin1.conf", b"http {\n  # caf\xe9\n}\n", ":2:8: not UTF-8 text (byte 0xe9)"),
        # crossplane reports this with an empty message: the line alone said nothing.
        ("bare.conf", b"events {}\nkeepalive\n", "is a directive missing its ';'?"),
    ],
)
def test_hostile_configuration_is_refused_with_its_place(  # type: ignore[no-untyped-def]
    capsys, tmp_path: Path, name: str, raw: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(raw)
    code, out, err = lint(capsys, "--from", str(path), "--heartbeat", "25")
    assert (code, out) == (2, "")
    assert err.startswith(str(path)) and message in err and "Traceback" not in err


def test_missing_file_and_nothing_to_check(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = lint(capsys, "--from", str(tmp_path / "nope.conf"))
    assert code == 2 and "cannot read file" in err
    code, _, err = lint(capsys)
    assert code == 2 and "--from FILE" in err and "PROFILE" in err


def test_pre_commit_hook_lints_the_files_it_matches(capsys) -> None:  # type: ignore[no-untyped-def]
    import re
    import shlex

    import yaml

    root = Path(__file__).resolve().parents[2]
    hooks = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "selector-lint-infra")
    pattern = re.compile(hook["files"])
    for name in ("deploy/nginx/site.conf", "haproxy.cfg", "k8s/ingress-feed.yaml", "alb.json"):
        assert pattern.search(name), name
    assert not pattern.search("profiles/chat.yaml")
    # pre-commit runs ENTRY ARGS... FILES...
    argv = [*shlex.split(hook["entry"])[1:], "--heartbeat", "25", *hook["args"]]
    assert main([*argv, str(CONFIGS / "nginx-ws-45s.conf")]) == 0
    assert main([*argv, str(CONFIGS / "nginx-ws-20s.conf")]) == 1
    capsys.readouterr()


def test_lint_from_and_loadtest_never_import_aiohttp(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from selector.cli import main\n"
        f"main(['lint', '--from', {str(CONFIGS / 'haproxy.cfg')!r}, "
        f"{str(CONFIGS / 'included' / 'nginx.conf')!r}, '--heartbeat', '25'])\n"
        f"main(['loadtest', 'profiles/chat.yaml', '--k6', '--url', 'http://x', "
        f"'--out', {str(tmp_path / 'x.js')!r}])\n"
        "print('aiohttp' in sys.modules, file=sys.stderr)\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert result.stderr.strip().splitlines()[-1] == "False", result.stderr
