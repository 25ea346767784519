"""``selector migrate``: v1 -> v2 by one text edit, comments kept, validated, atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from selector.builtin import recommend
from selector.cli import main
from selector.loading import load_profile, load_profile_text
from selector.migration import upgrade_text

V1 = (
    "# Chat for support agents\n"
    "schema_version: 1  # written before v2\n"
    "name: support-chat\n"
    "traffic:\n"
    "  # agents type a few messages a minute\n"
    "  server_to_client: {rate_hz: 2, payload_bytes: 300}\n"
    "  client_to_server: {rate_hz: 0.2, payload_bytes: 200, needs_ack: true}\n"
    "infrastructure: {serverless: true}\n"
)


def _write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_only_the_version_changes_and_comments_stay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, V1)
    assert main(["migrate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == V1.replace("schema_version: 1 ", "schema_version: 2 ")
    assert "nothing else changes" in err
    assert path.read_text() == V1  # stdout by default: the input is untouched
    before, after = recommend(load_profile(path)), recommend(load_profile_text(out))
    assert load_profile_text(out).schema_version == 2
    assert [(r.protocol, r.score) for r in before.ranking] == [
        (r.protocol, r.score) for r in after.ranking
    ]


def test_flow_style_mapping_is_edited_in_place(capsys: pytest.CaptureFixture[str]) -> None:
    text = "{schema_version: 1, name: x, media: audio}\n"
    assert upgrade_text(text) == "{schema_version: 2, name: x, media: audio}\n"


@pytest.mark.parametrize(
    ("written", "migrated"),
    [
        ("!!int 1", "!!int 2"),
        ("+1", "2"),
        ("&v 1", "&v 2"),
        ("&v !!int +1", "&v !!int 2"),
        ('!!int "1"', '!!int "2"'),
        ("0x1", "2"),
        ("1.0", "2"),
    ],
)
def test_other_spellings_of_version_1_are_rewritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, migrated: str
) -> None:
    # Each reads as version 1; the line at 4 puts the value where the audit found the crash
    # ("no schema_version value 1 at line 4, column 17").
    text = V1.replace("schema_version: 1 ", f"schema_version: {written} ")
    text = "# a\n# b\n" + text
    path = _write(tmp_path, text)
    assert load_profile(path).schema_version == 1
    assert main(["migrate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == text.replace(f"schema_version: {written} ", f"schema_version: {migrated} ")
    assert "nothing else changes" in err
    assert load_profile_text(out).schema_version == 2


def test_a_version_given_through_an_alias_becomes_the_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "name: support-chat\n"
        "traffic:\n"
        "  server_to_client: {rate_hz: &one 1, payload_bytes: 300}\n"
        "schema_version: *one  # same as the rate\n"
    )
    path = _write(tmp_path, text)
    assert main(["migrate", str(path)]) == 0
    out, _ = capsys.readouterr()
    # The anchor stays where it is (the rate keeps its value); the version is written out.
    assert out == text.replace("schema_version: *one ", "schema_version: 2 ")
    migrated = load_profile_text(out)
    assert migrated.schema_version == 2
    assert migrated.traffic.server_to_client is not None
    assert migrated.traffic.server_to_client.rate_hz == 1


@pytest.mark.parametrize(
    ("version", "expected"), [("1", "2"), ("!!int +1", "!!int 2"), ("&w 1", "&w 2"), ("*v", "2")]
)
def test_a_flow_mapping_document_is_rewritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str, expected: str
) -> None:
    text = (
        "{name: x, traffic: {server_to_client: {rate_hz: &v 1, payload_bytes: 10}}, "
        f"schema_version: {version}, media: none}}  # one line\n"
    )
    path = _write(tmp_path, text)
    target = tmp_path / "out.yaml"
    assert main(["migrate", str(path), "--out", str(target)]) == 0
    assert target.read_text() == text.replace(
        f"schema_version: {version},", f"schema_version: {expected},"
    )
    assert load_profile(target).schema_version == 2


def test_a_version_whose_anchor_is_used_elsewhere_is_refused_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Rewriting "&v 1" would change the rate that reads *v as well.
    text = (
        "# header\n"
        "schema_version: &v 1\n"
        "name: x\n"
        "traffic:\n"
        "  server_to_client: {rate_hz: *v, payload_bytes: 10}\n"
    )
    path = _write(tmp_path, text)
    target = tmp_path / "out.yaml"
    assert main(["migrate", str(path), "--out", str(target)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{path}:2:20: schema_version: cannot rewrite the value in place" in err
    assert "anchor &v is used elsewhere" in err and "Traceback" not in err
    assert not target.exists()
    assert path.read_text() == text


def test_a_version_on_several_lines_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = V1.replace("schema_version: 1  # written before v2\n", "schema_version: !!int |\n  1\n")
    path = _write(tmp_path, text)
    assert load_profile(path).schema_version == 1
    assert main(["migrate", str(path), "--out", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:" in err and "not a number on one line" in err
    assert path.read_text() == text


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_byte_order_mark_and_line_endings_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], eol: str
) -> None:
    raw = b"\xef\xbb\xbf" + V1.replace("\n", eol).encode("utf-8")
    path = tmp_path / "p.yaml"
    path.write_bytes(raw)
    assert main(["migrate", str(path), "--out", str(path)]) == 0
    capsys.readouterr()
    assert path.read_bytes() == raw.replace(b"schema_version: 1 ", b"schema_version: 2 ")
    # On stdout too.
    path.write_bytes(raw)
    assert main(["migrate", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert out.encode("utf-8") == raw.replace(b"schema_version: 1 ", b"schema_version: 2 ")


def test_out_writes_the_file_atomically_even_over_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, V1)
    assert main(["migrate", str(path), "--out", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"wrote {path}" in err
    assert path.read_text().startswith("# Chat for support agents\nschema_version: 2  #")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]  # no temporary left


def test_already_v2_says_so_and_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = V1.replace("schema_version: 1", "schema_version: 2")
    path = _write(tmp_path, text)
    assert main(["migrate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == text
    assert "already schema_version 2" in err


def test_invalid_input_is_located_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, V1.replace("rate_hz: 2,", "rate_hz: -2,"))
    target = tmp_path / "out.yaml"
    assert main(["migrate", str(path), "--out", str(target)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{path}:6:" in err and "traffic.server_to_client.rate_hz" in err
    assert not target.exists()


def test_out_to_a_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, V1)
    assert main(["migrate", str(path), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


RARE_MESSAGES = (
    "schema_version: 1\n"
    "name: room\n"
    "traffic:\n"
    "  server_to_client: {rate_hz: 0.5, payload_bytes: 2000}\n"
    "  client_to_server: {rate_hz: 0.1, payload_bytes: 400}\n"
    "delivery: {latency_p99_ms: 500}\n"
)


def test_migrating_names_the_v2_fields_that_would_change_the_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Rare client messages of 400 B (too large to read as in-band control): SSE as v1 reads
    # them, WebSocket if they travel on the stream.
    path = _write(tmp_path, RARE_MESSAGES)
    assert main(["migrate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "(answer now: sse)" in err
    asked = [line for line in err.splitlines() if line.startswith("  - ")]
    assert "  - switches to websocket when traffic.client_to_server.channel is set to in_band" in (
        "\n".join(asked)
    )
    # Each question is true of the migrated file: setting the field changes the answer.
    stated = out.replace("payload_bytes: 400}", "payload_bytes: 400, channel: in_band}")
    assert recommend(load_profile_text(stated)).protocol == "websocket"
    # Only version 2 fields are asked about: a v1 field's tipping point is not a question here.
    assert not any("rate_hz" in line or "latency" in line for line in asked)


def test_a_v2_field_the_file_already_states_is_not_asked_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stated = RARE_MESSAGES.replace(
        "payload_bytes: 400}", "payload_bytes: 400, channel: separate_requests}"
    )
    assert main(["migrate", str(_write(tmp_path, stated))]) == 0
    _, err = capsys.readouterr()
    assert "traffic.client_to_server.channel" not in err
    assert "nothing else changes" in err


def test_device_clients_are_asked_about_though_the_file_lists_its_clients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # v1 had no device kind, so gateways were written as servers: whether they are devices is
    # a question a v2 file can answer, even though this file lists its clients.
    text = RARE_MESSAGES + "clients: [server]\n"
    assert main(["migrate", str(_write(tmp_path, text))]) == 0
    out, err = capsys.readouterr()
    assert "when clients adds device" in err
    assert recommend(load_profile_text(out.replace("[server]", "[server, device]"))).protocol == (
        "websocket"
    )


def test_a_channel_read_from_small_messages_is_asked_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 200 B messages the v1 file cannot place read as in-band: migrating keeps that reading
    # (the channel stays unstated) and asks the question whose answer would change it.
    text = RARE_MESSAGES.replace("payload_bytes: 400}", "payload_bytes: 200}")
    assert main(["migrate", str(_write(tmp_path, text))]) == 0
    out, err = capsys.readouterr()
    assert "(answer now: websocket)" in err
    assert (
        "  - switches to sse when traffic.client_to_server.channel is set to separate_requests "
        "(now read as in_band: the profile does not state it)"
    ) in err.splitlines()
    assert recommend(load_profile_text(out)).protocol == "websocket"
    apart = out.replace("payload_bytes: 200}", "payload_bytes: 200, channel: separate_requests}")
    assert recommend(load_profile_text(apart)).protocol == "sse"
