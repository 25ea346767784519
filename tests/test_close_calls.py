"""Close calls: a margin of at most one point is reported, with the deciding questions and the
tie-break principle, and the tie-break never changes a score."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from selector.engine.recommend import CLOSE_MARGIN, recommend
from selector.loading import load_profile_text
from selector.profile import Profile
from selector.render.markdown import render_markdown
from selector.render.table import render_table

ROOT = Path(__file__).resolve().parent.parent

# Browser and mobile clients, 0.3 messages/s both ways, an nginx hop whose timeouts nobody
# controls: sse and websocket collect the same score from different rules.
TIED = """
schema_version: 1
name: tied
traffic:
  server_to_client: {rate_hz: 0.3, payload_bytes: 150}
  client_to_server: {rate_hz: 0.3, payload_bytes: 150}
clients: [browser, mobile]
infrastructure: {timeout_control: none, path: [{kind: nginx}]}
"""
CLEAR = """
schema_version: 1
name: clear
traffic:
  server_to_client: {rate_hz: 20, payload_bytes: 200}
  client_to_server: {rate_hz: 20, payload_bytes: 100}
"""


def _profile(text: str) -> Profile:
    return load_profile_text(text)


def test_a_tie_is_reported_and_broken_by_least_infrastructure() -> None:
    rec = recommend(_profile(TIED))
    first, second = rec.ranking[0], rec.ranking[1]
    assert first.score == second.score  # the tie stays visible in the scores
    assert (first.protocol, second.protocol) == ("sse", "websocket")
    assert rec.close is not None
    assert rec.close.runner_up == "websocket" and rec.close.margin == 0
    assert "least infrastructure" in rec.close.tie_break
    assert rec.close.deciding, "a tie names the questions that would decide it"
    assert all("websocket" in d for d in rec.close.deciding)
    assert rec.confidence == "low"


def test_each_deciding_question_hands_the_answer_to_the_runner_up() -> None:
    rec = recommend(_profile(TIED))
    assert rec.close is not None
    deciding = [t for t in rec.tipping_points if t.description in rec.close.deciding]
    assert deciding and all(t.protocol == rec.close.runner_up for t in deciding)


def test_a_clear_answer_has_no_close_call() -> None:
    rec = recommend(_profile(CLEAR))
    assert rec.margin is not None and rec.margin > CLOSE_MARGIN
    assert rec.close is None


def test_close_call_is_shown_in_table_and_markdown() -> None:
    rec = recommend(_profile(TIED))
    assert "Close call: sse and websocket tie on score." in render_table(rec)
    markdown = render_markdown([rec])
    assert "Close call: sse and websocket tie on score." in markdown
    assert "- tie-break: " in markdown


def test_confidence_drops_when_a_tipping_point_is_near() -> None:
    # The same workload at two rates: both lead by 4 points or more, but at 1.5 messages/s
    # up the answer flips below 1/s, within a factor of 2 of the estimate.
    def at(rate: float) -> tuple[float | None, str]:
        rec = recommend(
            _profile(
                f"schema_version: 1\nname: at\ntraffic:\n"
                f"  server_to_client: {{rate_hz: {rate}, payload_bytes: 200}}\n"
                f"  client_to_server: {{rate_hz: {rate}, payload_bytes: 100}}\n"
            )
        )
        return rec.margin, rec.confidence

    near_margin, near = at(1.5)
    far_margin, far = at(20)
    assert near_margin is not None and far_margin is not None
    assert near_margin >= 4 and far_margin >= 4
    assert (near, far) == ("medium", "high")


def test_json_keeps_its_keys_and_adds_close(tmp_path: Path) -> None:
    path = tmp_path / "tied.yaml"
    path.write_text(TIED, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "selector", "recommend", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # stdout is pure JSON
    assert {"protocol", "ranking", "hits", "margin", "confidence", "close"} <= set(data)
    assert {"protocol", "score", "vetoed"} <= set(data["ranking"][0])
    assert {"rule", "protocol", "delta", "effect"} <= set(data["hits"][0])
    assert data["close"]["runner_up"] == "websocket"
