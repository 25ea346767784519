"""Every configuration ``selector config`` writes reads back with the timeouts the plan set,
and lints clean against the plan's own heartbeat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selector.cli import main
from selector.planner.lint import CurrentSettings, lint_routes
from selector.planner.sources import read_source

ROOT = Path(__file__).resolve().parent.parent.parent
PROFILES = sorted((ROOT / "profiles").glob("*.yaml"))
SUFFIX = {
    "nginx": "conf",
    "haproxy": "cfg",
    "envoy": "yaml",
    "ingress_nginx": "yaml",
    "aws_alb": "json",
}


def _stdout(capsys: pytest.CaptureFixture[str], *argv: str) -> str | None:
    code = main(list(argv))
    out = capsys.readouterr().out
    return out if code == 0 else None


@pytest.mark.parametrize("target", sorted(SUFFIX))
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
def test_generated_config_reads_back_with_the_planned_timeouts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, profile: Path, target: str
) -> None:
    for protocol in ("websocket", "sse"):
        plan_text = _stdout(
            capsys, "plan", str(profile), "--protocol", protocol, "--format", "json"
        )
        config = _stdout(capsys, "config", target, str(profile), "--protocol", protocol)
        if plan_text is None or config is None:
            continue  # a plan that cannot be met writes no configuration to read back
        plan = json.loads(plan_text)
        path = tmp_path / f"{protocol}.{SUFFIX[target]}"
        path.write_text(config, encoding="utf-8")
        routes = read_source(str(path))
        assert routes, f"nothing read back from the {target} configuration"
        carrying = [r for r in routes if protocol in r.carries or r.kind == "aws_alb"]
        assert carrying, f"no route of the {target} configuration carries {protocol}"
        idle = {
            t.seconds
            for r in carrying
            for t in r.timeouts
            if t.role == "idle" and protocol in t.protocols and t.stated
        }
        planned = {
            hop["set_idle_timeout_s"] or hop["idle_timeout_s"]
            for hop in plan["hops"]
            if hop["kind"] == target
        }
        # Where the profile has this hop, the file holds the plan's timeout for it.
        if planned and target != "aws_alb":
            assert idle == planned, (target, protocol, idle, planned)
        heartbeat = plan["heartbeat_interval_s"]
        findings = lint_routes(routes, protocol, CurrentSettings(heartbeat_s=heartbeat))
        assert findings == (), [f.message for f in findings]
