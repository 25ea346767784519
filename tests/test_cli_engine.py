"""The engine's commands end to end through ``selector.cli.main`` (and a subprocess for the
start-up import checks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from selector.cli import main
from selector.engine.recommendation import recommendation_json_schema

CORPUS = Path(__file__).parent / "corpus"
CHAT = CORPUS / "team-chat.yaml"
FEED = CORPUS / "front-door-live-feed.yaml"

ALL_VETOED = """\
schema_version: 1
name: blocked-call
media: video
topology: peer_to_peer
clients: [browser]
"""
FORBID_WEBRTC = "overlay_version: 1\nforbid: {webrtc: the network team runs no TURN}\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_recommend_table_shows_ranking_reasons_with_ids_and_tipping_points(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "recommend", str(CHAT))
    assert code == 0
    assert out.startswith("team-chat: websocket (confidence")
    ranking, reasons = out.index("rank  protocol"), out.index("Reasons")
    tipping = out.index("Tipping points")
    assert ranking < reasons < tipping
    assert "interactive-acked-commands" in out[reasons:tipping]
    assert "switches to" in out[tipping:]
    assert "matrix sha256" in out


def test_recommend_json_is_one_object_or_a_list_and_matches_the_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    schema = recommendation_json_schema()
    code, out, _ = _run(capsys, "recommend", "--format", "json", str(CHAT))
    single = json.loads(out)
    assert code == 0 and isinstance(single, dict) and single["protocol"] == "websocket"
    jsonschema.validate(single, schema)
    code, out, _ = _run(capsys, "recommend", "--format", "json", str(CHAT), str(FEED))
    several = json.loads(out)
    assert isinstance(several, list) and [r["profile"] for r in several] == [
        "team-chat",
        "front-door-live-feed",
    ]
    for item in several:
        jsonschema.validate(item, schema)


def test_recommend_a_folder_gives_a_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "recommend", "--format", "json", str(CORPUS))
    assert code == 0
    assert len(json.loads(out)) == len(list(CORPUS.glob("*.yaml")))


def test_recommend_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "recommend", "--format", "markdown", str(FEED))
    assert code == 0
    assert "## front-door-live-feed" in out and "**Recommended: websocket**" in out
    assert "`veto` `azure-front-door-no-sse`" in out
    assert "| protocol" in out


def test_every_protocol_vetoed_exits_1_and_says_why(
    capsys: pytest.CaptureFixture[str], write_yaml: Any
) -> None:
    profile = write_yaml(ALL_VETOED)
    overlay = write_yaml(FORBID_WEBRTC, "org.yaml")
    code, out, err = _run(capsys, "recommend", str(profile), "--matrix", str(overlay))
    assert code == 1
    assert "no viable protocol" in out
    assert "blocked-call: every protocol is vetoed" in err
    assert "the network team runs no TURN" in err and "peer-to-peer-clients" in err


def test_bad_profile_exits_2_with_location(
    capsys: pytest.CaptureFixture[str], write_yaml: Any
) -> None:
    path = write_yaml("schema_version: 1\nname: x\ntraffic: {server_to_client: {rate_hz: -1}}\n")
    code, out, err = _run(capsys, "recommend", str(path))
    assert code == 2 and out == ""
    assert f"{path}:3:" in err and "Traceback" not in err


def test_bad_overlay_exits_2_with_location(
    capsys: pytest.CaptureFixture[str], write_yaml: Any
) -> None:
    overlay = write_yaml("overlay_version: 1\nweights: {no-such-rule: 2}\n", "org.yaml")
    code, _, err = _run(capsys, "recommend", str(CHAT), "--matrix", str(overlay))
    assert code == 2
    assert err.startswith(f"{overlay}:2:11: weights.no-such-rule: no rule with id")


def test_recommend_needs_a_profile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert _run(capsys, "recommend")[0] == 2
    assert _run(capsys, "recommend", str(tmp_path))[0] == 2  # empty folder


def test_print_schema_is_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "recommend", "--print-schema")
    committed = Path(__file__).resolve().parent.parent / "docs" / "recommendation.schema.json"
    assert code == 0
    assert json.loads(out) == json.loads(committed.read_text(encoding="utf-8")), (
        "regenerate: selector recommend --print-schema > docs/recommendation.schema.json"
    )


def test_what_if_shows_the_change(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "what-if",
        str(CORPUS / "notification-bell.yaml"),
        "--set",
        "traffic.client_to_server.rate_hz=30",
    )
    assert code == 0
    assert "winner: sse -> websocket" in out
    # 30 small messages/s: the upstream cost is charged once (high-rate-small-mutations).
    assert "high-rate-small-mutations" in out and "steady-upstream" not in out
    code, out, _ = _run(
        capsys,
        "what-if",
        str(CHAT),
        "--set",
        "media=video",
        "--set",
        "traffic.encoding=binary",
        "--format",
        "json",
    )
    data = json.loads(out)
    assert code == 0 and data["changed"] and data["protocol_after"] == "webrtc"
    assert {h["rule"] for h in data["rules_fired"]} >= {"media-needs-rtp"}


def test_what_if_creates_a_missing_direction_and_blames_bad_overrides(
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed = str(CORPUS / "shopify-bfcm-live-map.yaml")
    code, _, err = _run(capsys, "what-if", feed, "--set", "traffic.client_to_server.rate_hz=5")
    assert code == 2
    assert (
        "--set traffic.client_to_server.rate_hz=5: traffic.client_to_server.payload_bytes: "
        "required field is missing" in err
    )
    code, out, _ = _run(
        capsys,
        "what-if",
        feed,
        "--set",
        "traffic.client_to_server.rate_hz=30",
        "--set",
        "traffic.client_to_server.payload_bytes=100",
    )
    assert code == 0 and "winner: sse -> websocket" in out
    for bad in ("rate_hz", "media=", "media=[a", "traffic=1"):
        assert _run(capsys, "what-if", feed, "--set", bad)[0] == 2
    # A number where the field takes text is read as the text typed: no quoting needed.
    code, out, err = _run(
        capsys, "what-if", feed, "--set", "infrastructure.http_version=1.1", "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)["overrides"] == ["infrastructure.http_version=1.1"]
    code, _, err = _run(capsys, "what-if", feed, "--set", "infrastructure.http_version=4")
    assert code == 2 and "'1.1'" in err
    # List items as messages print them, path[0], or as path.0; both mean the same hop.
    assert _run(capsys, "what-if", feed, "--set", "infrastructure.path[0].kind=nginx")[0] == 0
    assert _run(capsys, "what-if", feed, "--set", "infrastructure.path.0.kind=nginx")[0] == 0
    assert _run(capsys, "what-if", feed, "--set", "infrastructure.path[x].kind=nginx")[0] == 2


def test_what_if_shows_what_changes_in_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    chat = str(Path(__file__).resolve().parent.parent / "profiles" / "chat.yaml")
    code, out, _ = _run(
        capsys, "what-if", chat, "--set", "infrastructure.path[0].idle_timeout_s=10"
    )
    assert code == 0
    assert "plan changes:" in out and "heartbeat: 25 s -> 6.6 s" in out
    code, out, _ = _run(capsys, "what-if", chat, "--set", "description=same path")
    assert "the lifetime plan is unchanged" in out and "plan changes:" not in out


def test_rules_and_explain(capsys: pytest.CaptureFixture[str], write_yaml: Any) -> None:
    code, out, _ = _run(capsys, "rules")
    assert code == 0 and "steady-upstream" in out and "sse -2" in out
    code, out, _ = _run(capsys, "rules", "--format", "json")
    rules = json.loads(out)
    assert any(
        r["id"] == "azure-front-door-no-sse" and r["effects"] == {"sse": "veto"} for r in rules
    )
    overlay = write_yaml("overlay_version: 1\ndisable: [steady-upstream]\n", "org.yaml")
    code, out, _ = _run(capsys, "rules", "--matrix", str(overlay))
    assert code == 0 and "steady-upstream" not in out
    code, out, _ = _run(capsys, "rules", "--facts")
    assert "traffic.client_to_server.rate_hz" in out and "contains_any" in out
    code, out, _ = _run(capsys, "rules", "--format", "markdown")
    assert out.startswith("| rule")
    code, out, _ = _run(capsys, "explain", "high-rate-small-mutations")
    assert code == 0
    assert "when:      traffic.client_to_server.rate_hz > 10 and" in out
    assert "https://www.rfc-editor.org/rfc/rfc6455#section-5.2" in out
    code, _, err = _run(capsys, "explain", "steady-upstrem")
    assert code == 2 and "did you mean 'steady-upstream'?" in err


@pytest.mark.parametrize("listing", ["--facts", "--subjects"])
def test_rules_vocabularies_follow_the_format(
    capsys: pytest.CaptureFixture[str], listing: str
) -> None:
    # --format json printed the text table here, which no JSON reader takes.
    code, out, _ = _run(capsys, "rules", listing, "--format", "json")
    rows = json.loads(out)
    first = "fact" if listing == "--facts" else "subject"
    assert code == 0 and rows and all(isinstance(row[first], str) for row in rows)
    names = {row[first] for row in rows}
    assert ("traffic.client_to_server.rate_hz" in names) == (listing == "--facts")
    assert ("server_to_client" in names) == (listing == "--subjects")
    code, out, _ = _run(capsys, "rules", listing, "--format", "markdown")
    assert code == 0 and out.startswith(f"| {first} ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rules", "--facts", "--subjects"], "not allowed with argument --facts"),
        (["rules", "--schema", "matrix", "--facts"], "not allowed with argument --schema"),
        (["rules", "--schema", "overlay", "--format", "markdown"], "a JSON Schema is JSON"),
        (["recommend", "--print-schema", "profiles/chat.yaml"], "--print-schema takes no"),
        (["recommend", "--print-schema", "--format", "markdown"], "a JSON Schema is JSON"),
    ],
)
def test_options_that_exclude_each_other_are_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Each of these was accepted with exit 0 while one of the options was ignored."""
    code, out, err = _run(capsys, *argv)
    assert (code, out) == (2, "") and message in err


def _imported_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    return set(result.stdout.split())


def test_engine_commands_never_import_aiohttp_and_help_stays_light() -> None:
    light = _imported_after(
        "from selector.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert not light & {"pydantic", "jsonschema", "aiohttp", "tabulate"}
    heavy = _imported_after(
        f"from selector.cli import main\nmain(['recommend', '{CHAT}'])\n"
        f"main(['what-if', '{CHAT}', '--set', 'media=audio'])\nmain(['rules'])"
    )
    assert "selector.engine.recommend" in heavy
    assert "aiohttp" not in heavy


def test_what_if_addresses_list_items_and_reports_unchanged_winners(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "what-if", str(FEED), "--set", "infrastructure.path.0.kind=nginx")
    assert code == 0
    assert "winner: websocket -> sse" in out
    assert "azure-front-door-no-sse" in out[out.index("no longer fires") :]
    code, out, _ = _run(capsys, "what-if", str(FEED), "--set", "description=hello")
    assert code == 0
    assert "winner: websocket (unchanged)" in out
    assert "no rule changed" in out
    code, _, err = _run(capsys, "what-if", str(FEED), "--set", "infrastructure.path.7.kind=nginx")
    assert code == 2 and "index 7 is past the end of a list of 2" in err
    code, _, err = _run(capsys, "what-if", str(FEED), "--set", "infrastructure.path.0=nginx")
    assert code == 2
    assert err.startswith("--set infrastructure.path.0=nginx: infrastructure.path[0]: ")


def test_what_if_to_all_vetoed_exits_1(capsys: pytest.CaptureFixture[str], write_yaml: Any) -> None:
    overlay = write_yaml(FORBID_WEBRTC, "org.yaml")
    code, out, err = _run(
        capsys,
        "what-if",
        str(CORPUS / "p2p-file-drop.yaml"),
        "--set",
        "traffic.encoding=text",
        "--matrix",
        str(overlay),
    )
    assert code == 1
    assert "nothing (all vetoed)" in out
    assert "every protocol is vetoed" in err


def test_json_output_is_identical_across_processes_and_hash_seeds() -> None:
    outputs = []
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-m", "selector", "recommend", "--format", "json", str(CORPUS)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]


def test_other_renderings(capsys: pytest.CaptureFixture[str], write_yaml: Any) -> None:
    code, out, _ = _run(capsys, "recommend", str(CHAT), str(FEED))
    assert code == 0 and out.count("Tipping points") == 2 and "=" * 78 in out
    profile = write_yaml(ALL_VETOED)
    overlay = write_yaml(FORBID_WEBRTC, "org.yaml")
    code, out, _ = _run(
        capsys, "recommend", str(profile), "--matrix", str(overlay), "--format", "markdown"
    )
    assert code == 1 and "**No viable protocol**" in out
    code, out, _ = _run(capsys, "explain", "udp-blocked", "--format", "json")
    rule = json.loads(out)
    assert code == 0 and rule["effects"] == {"webrtc": -3.0} and rule["origin"] == "default"
    code, out, _ = _run(capsys, "explain", "forbid-webrtc", "--matrix", str(overlay))
    assert code == 0 and "the network team runs no TURN" in out and str(overlay) in out


def test_infinite_numbers_are_bad_input_not_a_crash(
    capsys: pytest.CaptureFixture[str], write_yaml: Any
) -> None:
    path = write_yaml(
        "schema_version: 1\nname: inf\n"
        "traffic: {server_to_client: {rate_hz: .inf, payload_bytes: 10}}\n"
    )
    code, out, err = _run(capsys, "recommend", str(path))
    assert code == 2 and out == ""
    assert f"{path}:3:39: traffic.server_to_client.rate_hz: Input should be a finite number" in err
    code, _, err = _run(capsys, "what-if", str(CHAT), "--set", "delivery.latency_p99_ms=.inf")
    assert code == 2
    assert err.startswith(
        "--set delivery.latency_p99_ms=.inf: delivery.latency_p99_ms: "
        "Input should be a finite number"
    )


def _cyclic_garbage_of(capsys: pytest.CaptureFixture[str], *argv: str) -> int:
    """Objects only the cyclic collector could free after one ``main`` run of ``argv``."""
    import gc

    gc.collect()
    gc.disable()
    try:
        code, out, _ = _run(capsys, *argv)
        assert code == 0 and out
        del out
        return gc.collect()
    finally:
        gc.enable()


def test_recommend_batch_leaves_no_cycles_per_file_and_restores_the_collector(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The batch pauses the cyclic collector, which is safe only while loading, scoring and
    # rendering a profile leave no cycles behind (else a large batch would grow unbounded).
    # Building the argument parser leaves some once per run: the same for 1 file or 28.
    import gc

    _run(capsys, "recommend", "--format", "json", str(CORPUS))  # warm caches and imports
    one = _cyclic_garbage_of(capsys, "recommend", "--format", "json", str(CHAT))
    every = _cyclic_garbage_of(capsys, "recommend", "--format", "json", str(CORPUS))
    assert len(list(CORPUS.glob("*.yaml"))) > 10
    assert every == one
    code, _, _ = _run(capsys, "recommend", "--format", "json", str(CHAT))
    assert code == 0 and gc.isenabled()
