"""Close calls: a margin of at most one point is reported, with the deciding questions and the
tie-break principle, and the tie-break never changes a score."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from selector.builtin import recommend
from selector.engine.recommend import (
    CLOSE_MARGIN,
    UNSTATED_NOTE,
    WORKLOAD_KIND_FIELDS,
    unstated,
)
from selector.loading import load_profile_text
from selector.profile import Profile
from selector.render.markdown import render_markdown
from selector.render.table import render_table

ROOT = Path(__file__).resolve().parent.parent

# Browser and mobile clients, 0.3 messages/s both ways (client messages of 400 B, too large to
# read as in-band control), an nginx hop whose timeouts nobody controls: sse and websocket
# collect the same score from different rules.
TIED = """
schema_version: 1
name: tied
traffic:
  server_to_client: {rate_hz: 0.3, payload_bytes: 150}
  client_to_server: {rate_hz: 0.3, payload_bytes: 400}
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


def _plain(question: str) -> str:
    """A deciding question without the note that its field was left to the default."""
    return question.replace(f", {UNSTATED_NOTE})", ")").replace(f" ({UNSTATED_NOTE})", "")


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
    asked = {_plain(d) for d in rec.close.deciding}
    deciding = [t for t in rec.tipping_points if t.description in asked]
    assert len(deciding) == len(asked)
    assert deciding and all(t.protocol == rec.close.runner_up for t in deciding)


COURIERS = """
schema_version: 2
name: couriers
traffic:
  server_to_client: {rate_hz: 0.3, payload_bytes: 150}
  client_to_server: {rate_hz: 0.3, payload_bytes: 400}
  encoding: text
delivery: {guarantee: reliable_unordered, latency_p99_ms: 3000, resume: false}
clients: [browser, mobile]
scale: {concurrent_connections: 30000, fan_out: 2}
infrastructure: {timeout_control: none, path: [{kind: heroku}]}
"""


def test_a_different_workload_is_asked_last() -> None:
    # Couriers' apps and customers' browsers behind Heroku's router: media is left unstated,
    # and audio would hand the answer to websocket; but a text feed that starts carrying audio
    # is another workload, not an open detail of this one.
    rec = recommend(_profile(COURIERS))
    assert rec.close is not None
    kinds = {t.description: t.field for t in rec.tipping_points}
    to_runner_up = [t for t in rec.tipping_points if t.protocol == rec.close.runner_up]
    assert any(t.field == "media" for t in to_runner_up), "the case this test is about"
    other = [t for t in to_runner_up if t.field not in WORKLOAD_KIND_FIELDS]
    assert len(other) >= len(rec.close.deciding)
    assert not any(kinds[_plain(d)] in WORKLOAD_KIND_FIELDS for d in rec.close.deciding)


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
                f"  client_to_server: {{rate_hz: {rate}, payload_bytes: 400}}\n"
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


def test_unstated_lists_only_fields_left_to_their_defaults() -> None:
    profile = _profile(TIED)
    open_fields = unstated(profile)
    # Given in the file: not open.
    assert not open_fields & {"clients", "infrastructure.timeout_control", "infrastructure.path"}
    assert "traffic.client_to_server.rate_hz" not in open_fields
    # Left to the default inside a part the file has: open.
    assert {"traffic.client_to_server.channel", "auth", "infrastructure.http_version"} <= (
        open_fields
    )
    # Nothing is open inside a direction the profile does not have (absent means none).
    upstream_only = "traffic: {client_to_server: {rate_hz: 1, payload_bytes: 9}}\n"
    only_up = unstated(_profile("schema_version: 2\nname: up\n" + upstream_only))
    assert not any(f.startswith("traffic.server_to_client.") for f in only_up)


def test_a_close_call_asks_first_what_the_profile_left_open() -> None:
    # Rare client messages beside a slow feed (400 B: too large to read as in-band control):
    # SSE by one point, and whether the messages travel on the stream is not stated, so it
    # is the first question, and says so.
    text = (
        "schema_version: 2\nname: open\n"
        "traffic:\n  server_to_client: {rate_hz: 0.2, payload_bytes: 300}\n"
        "  client_to_server: {rate_hz: 0.01, payload_bytes: 400}\n"
        "delivery: {latency_p99_ms: 500}\nclients: [browser]\nauth: cookie\n"
    )
    rec = recommend(_profile(text))
    assert rec.close is not None and rec.protocol == "sse"
    tips = {t.description: t for t in rec.tipping_points}
    assert rec.close.deciding, "a close call names its questions"
    marked = [d for d in rec.close.deciding if d.endswith("the profile does not state it)")]
    assert marked and rec.close.deciding[: len(marked)] == marked  # open questions first
    assert any("traffic.client_to_server.channel is set to in_band" in d for d in marked)
    # Once the profile states the channel, the question is no longer marked open.
    stated = recommend(
        _profile(
            text.replace("payload_bytes: 400}", "payload_bytes: 400, channel: separate_requests}")
        )
    )
    assert stated.close is not None
    assert not any("channel" in d and "does not state" in d for d in stated.close.deciding)
    # Each marked question is a tipping point of the profile, and its field is one left open.
    open_fields = unstated(_profile(text))
    for question in marked:
        tip = tips[_plain(question)]
        assert tip.protocol == "websocket" and tip.field in open_fields


# A shared feed of 20 messages/s with rare client messages beside it, four streams per browser
# over HTTP/1.1: no rule scores websocket, which wins on what the rules cost sse.
WON_ON_COSTS = """
schema_version: 2
name: won-on-costs
traffic:
  server_to_client: {rate_hz: 20, payload_bytes: 1000}
  client_to_server: {rate_hz: 0.01, payload_bytes: 300, channel: separate_requests}
scale: {concurrent_connections: 200, fan_out: 5, streams_per_client: 4}
"""


def test_a_winner_no_rule_scores_says_why_it_ranks_first() -> None:
    rec = recommend(_profile(WON_ON_COSTS))
    assert rec.protocol == "websocket"
    assert not [h for h in rec.hits if h.protocol == "websocket"]
    why = "no rule fired: it ranks first on what the rules below cost the others"
    table = " ".join(render_table(rec).split())  # the reasons column wraps
    assert why in table
    assert f"- {why}" in render_markdown([rec])


def test_a_tied_winner_no_rule_scores_points_at_the_tie_break() -> None:
    # Uploads only, from browsers: no rule scores sse or websocket, and the tie-break ranks.
    rec = recommend(
        _profile(
            "schema_version: 2\nname: uploads\n"
            "traffic: {client_to_server: {rate_hz: 0.5, payload_bytes: 100}}\n"
        )
    )
    assert rec.close is not None and rec.close.margin == 0
    assert not [h for h in rec.hits if h.protocol in ("sse", "websocket")]
    rows = render_table(rec).splitlines()
    assert any(
        row.split()[:1] == [rec.protocol] and "ranks first by the tie-break" in row for row in rows
    )
    assert any(
        row.split()[:1] == [rec.close.runner_up] and row.rstrip().endswith("no rule fired")
        for row in rows
    )
