"""The plan, lint and config commands end to end (in-process through selector.cli.main)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from selector.cli import main

GOOD = """\
schema_version: 1
name: chat
traffic:
  server_to_client: {rate_hz: 2.0, payload_bytes: 400}
delivery: {resume: true}
infrastructure:
  path:
    - kind: aws_alb
    - kind: nginx
"""

CONTRADICTORY = """\
schema_version: 1
name: tight
traffic:
  server_to_client: {rate_hz: 1.0, payload_bytes: 100}
infrastructure:
  path:
    - kind: other
      idle_timeout_s: 3.0
      controllable: false
"""

INVALID = """\
schema_version: 1
name: broken
traffic:
  server_to_client: {rate_hz: 1.0, payload_bytes: 100}
infrastructure:
  path:
    - kind: nginx
      idle_timeout_s: "60"
"""


@pytest.fixture
def good(write_yaml) -> Path:  # type: ignore[no-untyped-def]
    return write_yaml(GOOD)  # type: ignore[no-any-return]


@pytest.fixture
def contradictory(write_yaml) -> Path:  # type: ignore[no-untyped-def]
    return write_yaml(CONTRADICTORY, "tight.yaml")  # type: ignore[no-any-return]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- plan -------------------------------------------------------------------------------------


def test_plan_text_names_every_hop_and_the_heartbeat(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "plan", str(good), "--protocol", "websocket")
    assert code == 0
    assert "aws_alb" in out and "nginx" in out
    assert "pings every 25 s" in out
    assert "replay buffer" in out


def test_plan_json_is_machine_readable(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "plan", str(good), "--protocol", "sse", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["feasible"] is True and document["profile"] == "chat"
    assert document["sse"]["heartbeat_interval_s"] == document["heartbeat_interval_s"]
    assert [h["kind"] for h in document["hops"]] == ["aws_alb", "nginx"]


def test_plan_markdown_has_a_hop_table(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "plan", str(good), "--protocol", "webrtc", "--format", "markdown")
    assert code == 0
    assert out.startswith("## Lifetime plan for `chat`: webrtc")
    assert "| kind" in out.replace("|   # | kind", "| kind")
    assert "TURN" in out
    assert "- aws_alb: <https://docs.aws.amazon.com/" in out  # every default links its source


def test_plan_that_cannot_be_met_explains_and_exits_1(capsys, contradictory) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "plan", str(contradictory), "--protocol", "websocket")
    assert code == 1
    assert "CANNOT BE MET" in out and "heartbeat-too-short" in out and "fix:" in out
    assert "cannot be met" in err
    code, out, _ = run(
        capsys, "plan", str(contradictory), "--protocol", "websocket", "--format", "json"
    )
    assert code == 1 and json.loads(out)["feasible"] is False


def test_plan_on_invalid_profile_is_located_exit_2(capsys, write_yaml) -> None:  # type: ignore[no-untyped-def]
    path = write_yaml(INVALID)
    code, out, err = run(capsys, "plan", str(path), "--protocol", "sse")
    assert code == 2
    assert f"{path}:8:" in err and "idle_timeout_s" in err
    assert "Traceback" not in err and out == ""


def test_plan_without_protocol_follows_the_engine(capsys, good) -> None:  # type: ignore[no-untyped-def]
    from selector.builtin import recommend
    from selector.loading import load_profile

    expected = recommend(load_profile(good)).protocol
    code, out, _ = run(capsys, "plan", str(good))
    assert code == 0
    assert f"Lifetime plan for chat: {expected}" in out


def test_plan_without_protocol_when_every_protocol_is_vetoed_exits_1(  # type: ignore[no-untyped-def]
    capsys, good, tmp_path
) -> None:
    overlay = tmp_path / "forbid-all.yaml"
    overlay.write_text(
        "overlay_version: 1\nforbid:\n  websocket: policy\n  sse: policy\n  webrtc: policy\n"
    )
    code, out, err = run(capsys, "plan", str(good), "--matrix", str(overlay))
    assert code == 1
    # Located at the profile's file, as every error is, not at the profile's name.
    assert err.startswith(f"{good}: every protocol is vetoed") and "--protocol" in err
    assert out == ""


NO_WEBSOCKET = "overlay_version: 1\nforbid:\n  websocket: our gateway does not carry it\n"


def test_plan_lint_and_config_follow_the_matrix_overlay(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = Path(__file__).resolve().parents[2] / "profiles" / "chat.yaml"
    overlay = tmp_path / "no-ws.yaml"
    overlay.write_text(NO_WEBSOCKET)
    code, out, _ = run(capsys, "plan", str(good), "--format", "json")
    assert code == 0 and json.loads(out)["protocol"] == "websocket"
    code, out, _ = run(capsys, "plan", str(good), "--matrix", str(overlay), "--format", "json")
    assert code == 0 and json.loads(out)["protocol"] == "sse"
    code, out, _ = run(capsys, "config", "nginx", str(good), "--matrix", str(overlay))
    assert code == 0
    assert "location /sse" in out and "location /ws" not in out
    code, out, _ = run(capsys, "config", "nginx", str(good))
    assert "location /sse" in out and "location /ws" in out
    code, out, err = run(
        capsys, "lint", str(good), "--matrix", str(overlay), "--heartbeat", "10", "--format", "json"
    )
    assert json.loads(out)["protocol"] == "sse", err


# --- lint -------------------------------------------------------------------------------------


def test_lint_reports_the_alb_race_at_the_hop_line(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "lint", str(good), "--protocol", "websocket", "--heartbeat", "60")
    assert code == 1
    # path[0] (aws_alb) is on line 8 of the profile.
    assert f"{good}:8:7: infrastructure.path[0]:" in out
    assert "[heartbeat-reaches-idle-timeout]" in out and "fix:" in out
    assert "finding" in err


def test_lint_clean_settings_exit_0(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(
        capsys,
        "lint",
        str(good),
        "--protocol",
        "websocket",
        "--heartbeat",
        "25",
        "--client-timeout",
        "50",
        "--proxy-timeout",
        "nginx=60",
        "--proxy-timeout",
        "0=60",
    )
    assert code == 0, out
    assert out == "" and "clean" in err


def test_lint_json_and_github_formats(capsys, good) -> None:  # type: ignore[no-untyped-def]
    args = ["lint", str(good), "--protocol", "sse", "--heartbeat", "0", "--sse-buffering", "on"]
    code, out, _ = run(capsys, *args, "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["clean"] is False
    assert {f["check"] for f in report["findings"]} == {"sse-without-heartbeat", "sse-buffering-on"}
    code, out, _ = run(capsys, *args, "--format", "github")
    assert code == 1
    assert all(line.startswith("::error file=") for line in out.splitlines())


@pytest.mark.parametrize(
    "proxy_timeout",
    ["haproxy=30", "7=30", "nginx", "nginx=abc", "nginx=-5", "nginx=0"],
)
def test_lint_bad_proxy_timeout_is_usage_error(capsys, good, proxy_timeout: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(
        capsys, "lint", str(good), "--protocol", "websocket", "--proxy-timeout", proxy_timeout
    )
    assert code == 2
    assert "--proxy-timeout" in err and "Traceback" not in err


def test_lint_ambiguous_kind_must_be_named_by_index(capsys, write_yaml) -> None:  # type: ignore[no-untyped-def]
    path = write_yaml(GOOD + "    - kind: nginx\n")
    code, _, err = run(capsys, "lint", str(path), "--protocol", "sse", "--proxy-timeout", "nginx=5")
    assert code == 2 and "more than once" in err and "1=nginx" in err


def test_lint_heartbeat_0_for_websocket_is_a_finding(capsys, good) -> None:  # type: ignore[no-untyped-def]
    args = ["lint", str(good), "--protocol", "websocket", "--heartbeat", "0", "--format", "json"]
    code, out, _ = run(capsys, *args)
    assert code == 1
    findings = json.loads(out)["findings"]
    assert [f["check"] for f in findings] == ["websocket-without-heartbeat"]
    # The smallest idle timeout on the path (ALB and nginx both 60 s) bounds the fix.
    assert "40 s" in findings[0]["fix"]


def test_lint_with_nothing_to_check_is_usage_error(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "lint", str(good), "--protocol", "websocket")
    assert code == 2 and out == ""
    assert "nothing to check" in err and "--heartbeat" in err


def test_lint_bad_heartbeat_value_is_usage_error(capsys, good) -> None:  # type: ignore[no-untyped-def]
    assert main(["lint", str(good), "--heartbeat", "soon"]) == 2
    assert "not a number" in capsys.readouterr().err


# --- config -----------------------------------------------------------------------------------


def test_config_prints_ready_to_paste_nginx(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "config", "nginx", str(good))
    assert code == 0
    assert "location /ws" in out and "location /sse" in out and "proxy_buffering off;" in out


def test_config_protocol_limits_the_locations(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "config", "haproxy", str(good), "--protocol", "websocket")
    assert code == 0
    assert "timeout tunnel" in out and "/sse" not in out


def test_config_alb_keeps_stdout_pure_json(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "config", "aws_alb", str(good))
    assert code == 0
    json.loads(out)
    assert err.startswith("# ")


def test_config_ingress_defaults_to_a_service_named_after_the_profile(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "config", "ingress_nginx", str(good))
    assert code == 0 and "name: chat\n" in out


def test_config_refuses_a_plan_that_cannot_be_met(capsys, contradictory) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "config", "nginx", str(contradictory))
    assert code == 1
    assert out == ""
    assert "heartbeat-too-short" in err and "no configuration written" in err


def test_config_bad_upstream_is_usage_error(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "config", "envoy", str(good), "--upstream", "nowhere")
    assert code == 2 and out == "" and "--upstream" in err


def test_config_bad_listen_port_is_usage_error(capsys, good) -> None:  # type: ignore[no-untyped-def]
    assert main(["config", "nginx", str(good), "--listen", "0"]) == 2
    assert "not a TCP port" in capsys.readouterr().err


# --- start-up ---------------------------------------------------------------------------------


def test_help_imports_no_heavy_modules() -> None:
    probe = (
        "import sys\n"
        "from selector.cli import build_parser\n"
        "build_parser()\n"
        "heavy = [m for m in ('pydantic', 'jsonschema', 'aiohttp', 'yaml') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


# --- one answer for a lifetime cap ------------------------------------------------------------

LIFETIME_CAPPED = GOOD.replace("name: chat", "name: capped").replace(
    "kind: aws_alb", "kind: gcp_lb"
)


def test_a_fixed_lifetime_cap_is_planned_rotation_in_plan_and_config(  # type: ignore[no-untyped-def]
    capsys, write_yaml
) -> None:
    capped = write_yaml(LIFETIME_CAPPED, "capped.yaml")
    code, out, err = run(capsys, "plan", str(capped), "--protocol", "sse")
    assert code == 0, err
    assert "planned reconnect: gcp_lb (path[0]) ends connections after 30 s" in out
    assert "declared fixed in the profile" in out
    code, out, err = run(capsys, "config", "nginx", str(capped))
    assert code == 0, err
    assert "location /sse" in out and "proxy_read_timeout" in out
    code, out, _ = run(capsys, "recommend", str(capped))
    assert code == 0


def test_config_for_a_hop_not_on_the_path_warns_on_stderr_only(capsys, good) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "config", "haproxy", str(good))
    assert code == 0
    assert "no haproxy hop" in err and "warning" in err
    assert out.startswith("# selector: HAProxy") and "warning" not in out
    code, out, err = run(capsys, "config", "nginx", str(good))
    assert code == 0 and "warning" not in err


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_plan_shows_the_reconnect_peak_and_whether_its_rate_is_assumed(  # type: ignore[no-untyped-def]
    capsys, write_yaml, fmt
) -> None:
    fleet = GOOD + "scale: {concurrent_connections: 40000}\n"
    measured = fleet.replace("40000}", "40000, accept_rate_per_s: 2000}")
    shown = []
    for text, name in ((fleet, "fleet.yaml"), (measured, "measured.yaml")):
        code, out, _ = run(capsys, "plan", str(write_yaml(text, name)), "--format", fmt)
        assert code == 0
        shown.append(out)
    assumed, known = shown
    if fmt == "json":
        rc, rc_known = (json.loads(out)["reconnect"] for out in shown)
        assert (rc["accept_rate_from"], rc["accept_rate_per_s"]) == ("assumed", 1000)
        assert rc["base_s"] == 50 and rc["peak_reconnect_rate_per_s"] == 800
        assert (rc_known["accept_rate_from"], rc_known["accept_rate_per_s"]) == ("profile", 2000)
        assert rc_known["peak_reconnect_rate_per_s"] <= 2000
    else:
        assert "peak about 800 new connections/s, under an ASSUMED server accept rate" in assumed
        assert "random(0, min(50 s, 50 s x 2^n))" in assumed
        assert "under the servers' measured 2000/s (scale.accept_rate_per_s)" in known
        assert "ASSUMED" not in known
