"""``selector plan --from`` starts the plan from the deployed timeouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selector.cli import main

CONFIGS = Path(__file__).resolve().parent / "configs"
CHAT = str(Path(__file__).resolve().parents[2] / "profiles" / "chat.yaml")


def plan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    code = main(["plan", CHAT, "--protocol", "websocket", "--format", "json", *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_deployed_timeouts_replace_the_profile_hops(capsys) -> None:  # type: ignore[no-untyped-def]
    _, before, _ = plan(capsys)
    nginx_before = next(h for h in before["hops"] if h["kind"] == "nginx")
    assert nginx_before["idle_timeout_s"] == 60.0
    code, after, err = plan(capsys, "--from", str(CONFIGS / "nginx-ws-20s.conf"))
    assert code == 0
    nginx = next(h for h in after["hops"] if h["kind"] == "nginx")
    # 20 s read from the file: the plan raises it to 1.5x the 25 s heartbeat.
    assert nginx["idle_timeout_s"] == 20.0 and nginx["set_idle_timeout_s"] == 38.0
    assert "nginx-ws-20s.conf:26" in err
    assert [h["kind"] for h in after["hops"]] == [h["kind"] for h in before["hops"]]


def test_a_hop_kind_the_profile_lacks_is_added(capsys) -> None:  # type: ignore[no-untyped-def]
    code, after, err = plan(capsys, "--from", str(CONFIGS / "haproxy.cfg"))
    assert code == 0
    assert after["hops"][-1]["kind"] == "haproxy" and after["hops"][-1]["idle_timeout_s"] == 20.0
    assert "haproxy (added to the path)" in err and "haproxy.cfg:17" in err


def test_envoy_default_route_timeout_becomes_a_lifetime_cap(capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(
        [
            "plan",
            CHAT,
            "--protocol",
            "sse",
            "--format",
            "json",
            "--from",
            str(CONFIGS / "envoy.yaml"),
        ]
    )
    out = json.loads(capsys.readouterr().out)
    envoy = next(h for h in out["hops"] if h["kind"] == "envoy")
    # The 15 s default is read as a lifetime cap; the plan raises it (Envoy is operator-run).
    assert envoy["max_lifetime_s"] == 15.0 and envoy["set_max_lifetime_s"] == 3600.0
    assert code == 0
