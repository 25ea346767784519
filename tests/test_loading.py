"""Loading and locating: every problem points at the node the user wrote."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selector.errors import ProfileError, SelectorError
from selector.loading import MAX_DEPTH, MAX_FILE_BYTES, load_profile, load_profile_text, parse_yaml

VALID = """\
schema_version: 1
name: demo
traffic:
  client_to_server:
    rate_hz: 2
    payload_bytes: 100
    needs_ack: true
"""


def problems_of(text: str | bytes) -> list[tuple[int, int, str, str]]:
    with pytest.raises(ProfileError) as caught:
        load_profile_text(text, "p.yaml")
    return [(p.line, p.col, p.path, p.message) for p in caught.value.problems]


def test_valid_profile_loads_with_defaults() -> None:
    profile = load_profile_text(VALID)
    assert profile.name == "demo"
    assert profile.delivery.guarantee == "reliable_ordered"
    assert profile.infrastructure.path == ()
    assert not profile.bidirectional


@pytest.mark.parametrize(
    ("text", "line", "col", "path", "fragment"),
    [
        (
            VALID.replace("rate_hz: 2", 'rate_hz: "2"'),
            5,
            14,
            "traffic.client_to_server.rate_hz",
            "valid number (got text '2'; write numbers",
        ),
        (
            VALID.replace("rate_hz: 2", "rate: 2"),
            5,
            5,
            "traffic.client_to_server.rate",
            "did you mean 'rate_hz'?",
        ),
        (VALID + "medai: audio\n", 8, 1, "medai", "did you mean 'media'?"),
        (VALID + "zzz: 1\n", 8, 1, "zzz", "allowed here: auth, clients"),
        (VALID + "media: sound\n", 8, 8, "media", "'none', 'audio', 'video' or 'audio_video'"),
        (
            VALID + "infrastructure:\n  http_version: 2\n",
            9,
            17,
            "infrastructure.http_version",
            'quote it: "2"',
        ),
        (
            VALID + "infrastructure:\n  http_version: 4\n",
            9,
            17,
            "infrastructure.http_version",
            'quote it, for example "1.1"',
        ),
        # A number's choices take no quotes: no hint to add them, one to take them off.
        (
            VALID.replace("schema_version: 1", "schema_version: 3"),
            1,
            17,
            "schema_version",
            "should be 1 or 2, got 3",
        ),
        (
            VALID.replace("schema_version: 1", 'schema_version: "2"'),
            1,
            17,
            "schema_version",
            "got '2'; write numbers without quotes",
        ),
        # YAML's true is 1 to Python: it must not pass for version 1.
        (
            VALID.replace("schema_version: 1", "schema_version: true"),
            1,
            17,
            "schema_version",
            "must be the number 1 or 2, got true",
        ),
        (VALID.replace("name: demo", "name: Demo App"), 2, 7, "name", "should match pattern"),
        (VALID.replace("schema_version: 1\n", ""), 1, 1, "schema_version", "required field"),
        (
            VALID.replace("rate_hz: 2", "rate_hz: 0"),
            7,
            16,
            "traffic.client_to_server.needs_ack",
            "nothing to acknowledge",
        ),
        (
            VALID.replace("payload_bytes: 100", "payload_bytes: 0"),
            6,
            20,
            "traffic.client_to_server.payload_bytes",
            "greater than or equal to 1",
        ),
        (
            VALID + "clients: [browser, tv]\n",
            8,
            20,
            "clients[1]",
            "'browser', 'mobile', 'server' or 'device'",
        ),
        (VALID + "clients: [browser, browser]\n", 8, 10, "clients", "more than once"),
        (VALID + "clients: []\n", 8, 10, "clients", "at least 1 item"),
        (
            VALID + "scale:\n  concurrent_connections: 10\n  fan_out: 20\n",
            10,
            12,
            "scale.fan_out",
            "exceeds concurrent_connections 10",
        ),
        (
            VALID + "infrastructure:\n  path:\n    - kind: aws_alb\n      idle_timeout_s: -1\n",
            11,
            23,
            "infrastructure.path[0].idle_timeout_s",
            "greater than 0",
        ),
        (VALID + "delivery:\n  resume: 'yes'\n", 9, 11, "delivery.resume", "valid boolean"),
        ("schema_version: 1\nname: quiet\n", 1, 1, "media", "no real-time traffic"),
        (
            VALID.replace("rate_hz: 2", "rate_hz: 1e3"),
            5,
            14,
            "traffic.client_to_server.rate_hz",
            "write 1.0e+3 (dot and sign) or 1000",
        ),
        (
            VALID.replace("rate_hz: 2", "rate_hz: 2.5e2"),
            5,
            14,
            "traffic.client_to_server.rate_hz",
            "write 1.0e+3 (dot and sign) or 1000",
        ),
        (
            VALID.replace("rate_hz: 2", "rate_hz: .inf"),
            5,
            14,
            "traffic.client_to_server.rate_hz",
            "finite number",
        ),
        (
            VALID + "delivery:\n  latency_p99_ms: .nan\n",
            9,
            19,
            "delivery.latency_p99_ms",
            "finite number",
        ),
    ],
)
def test_problem_is_located_at_the_offending_node(
    text: str, line: int, col: int, path: str, fragment: str
) -> None:
    found = problems_of(text)
    assert any((ln, c, p) == (line, col, path) and fragment in m for ln, c, p, m in found), found


def test_a_wrong_version_number_gets_no_hint_to_quote_it() -> None:
    # Quoting it is refused in turn ("write numbers without quotes"): the hint would loop.
    [(_, _, path, message)] = problems_of(VALID.replace("schema_version: 1", "schema_version: 3"))
    assert path == "schema_version" and "quote" not in message


def test_every_problem_of_a_file_is_reported_in_line_order() -> None:
    text = VALID.replace("rate_hz: 2", 'rate_hz: "2"') + "media: sound\nzzz: 1\n"
    found = problems_of(text)
    assert [f[0] for f in found] == sorted(f[0] for f in found)
    assert len(found) == 3


@pytest.mark.parametrize(
    ("raw", "fragment", "line"),
    [
        (b"", "file is empty", 0),
        (b"   \n\n", "file is empty", 0),
        (b"# only a comment\n", "no YAML document", 0),
        (b"- a\n- b\n", "top level must be a mapping", 1),
        (b"just a string\n", "top level must be a mapping", 1),
        (b"a: 1\n---\nb: 2\n", "2 YAML documents", 3),
        (b"a:\n\tb: 1\n", "tab character in indentation", 2),
        (b"name: caf\xe9\n", "not UTF-8", 1),
        (b"a: 1\nb: 2\na: 3\n", "duplicate key 'a' (first defined on line 1)", 3),
        (b"a: [1, 2\n", "invalid YAML", 2),
        (b"a: &x {k: 1}\nb:\n  <<: *x\n", "merge keys", 3),
        (b"? [1, 2]\n: v\n", "mapping keys must be plain strings", 1),
        (b"1: v\n", "must be a string", 1),
        (b"a: !!python/object:os.system x\n", "could not determine a constructor", 1),
        (b"a: 2001-02-30\n", "cannot read value: day is out of range", 1),
        (b"a: !!int x\n", "cannot read value: invalid literal for int()", 1),
        (b"!!float abc: 1\n", "cannot read value: could not convert string to float", 1),
    ],
)
def test_hostile_or_broken_files_get_one_clear_problem(
    raw: bytes, fragment: str, line: int
) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_yaml(raw, "bad.yaml")
    problems = caught.value.problems
    assert len(problems) == 1
    assert fragment in problems[0].message
    assert problems[0].line == line
    assert problems[0].file == "bad.yaml"


def test_oversized_file_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * MAX_FILE_BYTES)
    with pytest.raises(ProfileError, match="limit is 1048576"):
        load_profile(path)


def test_alias_expansion_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(ProfileError, match="alias expansion bomb"):
        parse_yaml("\n".join(lines).encode(), "bomb.yaml")


def test_a_file_nested_hundreds_of_levels_deep_is_a_located_error() -> None:
    """Reading recurses: 600 nested lists ended in a RecursionError traceback."""
    text = f"schema_version: 1\nname: x\nextra: {'[' * 600}1{']' * 600}\n"
    with pytest.raises(ProfileError) as exc:
        parse_yaml(text.encode(), "deep.yaml")
    (problem,) = exc.value.problems
    assert (problem.file, problem.line) == ("deep.yaml", 3)
    assert problem.path.startswith("extra[0][0]")
    assert f"nested more than {MAX_DEPTH} levels deep" in problem.message


def test_a_profile_value_nested_hundreds_of_mappings_deep_is_a_profile_problem() -> None:
    text = f"schema_version: 1\nname: x\ndescription: {'{a: ' * 600}1{'}' * 600}\n"
    with pytest.raises(ProfileError) as exc:
        load_profile_text(text, "deep.yaml")
    (problem,) = exc.value.problems
    assert problem.path.startswith("description.a.a")
    assert f"nested more than {MAX_DEPTH} levels deep" in problem.message


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ProfileError, match="recursive alias"):
        parse_yaml(b"a: &loop\n  b: *loop\n", "loop.yaml")


def test_missing_file_and_directory_are_problems(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read file"):
        load_profile(tmp_path / "nope.yaml")
    with pytest.raises(ProfileError, match="is a directory"):
        load_profile(tmp_path)


def test_utf8_bom_is_accepted() -> None:
    assert load_profile_text(b"\xef\xbb\xbf" + VALID.encode()).name == "demo"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_the_project_error(raw: bytes) -> None:
    with contextlib.suppress(SelectorError):
        load_profile_text(raw, "fuzz.yaml")


yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "schema_version",
                "name",
                "traffic",
                "delivery",
                "media",
                "clients",
                "scale",
                "infrastructure",
                "topology",
                "auth",
                "other",
            ]
        ),
        yaml_values,
        max_size=8,
    )
)
def test_arbitrary_yaml_documents_raise_only_the_project_error(document: dict[str, object]) -> None:
    import yaml

    text = yaml.safe_dump(document)
    try:
        load_profile_text(text, "fuzz.yaml")
    except SelectorError as exc:
        assert all(p.file == "fuzz.yaml" for p in exc.problems)


SCALARS = """\
plain_int: 30
hex: 0x1F
octal: 017
sexagesimal: 1:30
underscored: 1_000
signed_float: -1.5
exponent: 1.0e+3
text_exponent: 1e3
infinity: .inf
not_a_number: .nan
yes_word: yes
off_word: Off
bool_true: true
null_tilde: ~
null_word: null
empty:
quoted_int: "30"
single_quoted_bool: 'true'
quoted_null: "~"
date: 2024-01-31
stamp: 2024-01-31T10:20:30Z
binary: !!binary aGVsbG8=
tagged_str: !!str 42
tagged_int: !!int "7"
block: |
  30
list: [30, "30", true, 'true', ~, 1.5]
"""


@pytest.mark.parametrize("rounds", [1, 2])
def test_scalars_read_exactly_as_pyyaml_safe_load_reads_them(rounds: int) -> None:
    # Tags are remembered per text across documents: a second parse, where every text is
    # known, must still tell "30" from 30 and 'true' from true.
    import math

    import yaml

    expected = yaml.safe_load(SCALARS)
    for _ in range(rounds):
        data = parse_yaml(SCALARS.encode(), "scalars.yaml").data
    assert data.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(data[key]), key
            continue
        assert data[key] == value and type(data[key]) is type(value), key
    assert [type(v) for v in data["list"]] == [int, str, bool, str, type(None), float]


@pytest.mark.parametrize("extra", [0, 1, 200_000])
def test_size_limit_is_exact_for_files_read_in_chunks(tmp_path: Path, extra: int) -> None:
    # A profile padded with a comment to exactly the limit is read whole; one byte more is
    # refused, and so is a much larger file, with the same message (the reader stops one byte
    # past the limit). The sizes straddle the 64 KiB chunks the reader uses.
    from selector.loading import read_yaml

    head = b"schema_version: 1\nname: padded\n#"
    path = tmp_path / "padded.yaml"
    path.write_bytes(head + b"x" * (MAX_FILE_BYTES - len(head) - 1) + b"\n" + b"#" * extra)
    if extra:
        with pytest.raises(ProfileError, match=f"file is {MAX_FILE_BYTES + 1} bytes"):
            read_yaml(path)
    else:
        assert read_yaml(path).data == {"schema_version": 1, "name": "padded"}


def _rglob_reference(folder: Path) -> list[Path]:
    """What ``expand_paths`` gave for a folder before it listed folders itself."""
    return sorted(p for p in folder.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


def test_expand_paths_finds_what_rglob_finds_in_the_same_order(tmp_path: Path) -> None:
    from selector.loading import expand_paths

    for name in (
        "a/x.yaml", "a-b/x.yaml", "a/sub/y.yml", "b.yaml", "B.yaml", ".hidden/h.yaml",
        ".dot.yaml", "a/.yaml", "a/.yml", "c.YAML", "d.yaml.bak", "e.tar.yaml", "real/r.yaml",
        "dir.yaml/inner.yaml", "notes.txt",
    ):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("name: x\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "broken.yaml").symlink_to(tmp_path / "missing.yaml")
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    (tmp_path / "linked-dir").symlink_to(tmp_path / "real")
    (tmp_path / "dir-link.yaml").symlink_to(tmp_path / "real")
    (tmp_path / "a" / "up").symlink_to(tmp_path)
    found = list(expand_paths([tmp_path]))
    # Besides what rglob finds, the broken link and the loop: profiles that went missing,
    # for the reader to report rather than for a folder check to pass over.
    missing = [tmp_path / "broken.yaml", tmp_path / "loop.yaml"]
    assert sorted(found) == sorted([*_rglob_reference(tmp_path), *missing])
    assert [p for p in found if p not in missing] == _rglob_reference(tmp_path)
    assert tmp_path / "link.yaml" in found
    assert list(expand_paths([tmp_path / "linked-dir"])) == [tmp_path / "linked-dir" / "r.yaml"]
    # Files named directly are passed on as given, folders expanded in place.
    named = list(expand_paths([str(tmp_path / "nope.yaml"), f"{tmp_path}/real/", "b.yaml"]))
    assert named == [tmp_path / "nope.yaml", tmp_path / "real" / "r.yaml", Path("b.yaml")]


def test_expand_paths_of_the_profile_folders_matches_rglob() -> None:
    from selector.loading import expand_paths

    root = Path(__file__).resolve().parent.parent
    for folder in (root / "profiles", root / "tests"):
        assert list(expand_paths([folder])) == _rglob_reference(folder)


def test_a_folder_check_reports_a_profile_whose_link_broke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from selector.cli import main

    (tmp_path / "chat.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "feed.yaml").symlink_to(tmp_path / "moved-away.yaml")
    assert main(["validate", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert f"{tmp_path / 'feed.yaml'}: cannot read file" in out
    assert "2 files checked: 1 valid, 1 invalid" in err
