"""The public library API: names, laziness and the error family."""

from __future__ import annotations

import subprocess
import sys

import selector
from tests.conftest import PROFILES, ROOT


def test_all_matches_the_lazy_export_table() -> None:
    assert set(selector.__all__) == set(selector._EXPORTS) | {"__version__"}
    for name in selector.__all__:
        assert getattr(selector, name) is not None


def test_importing_selector_is_cheap() -> None:
    probe = "import sys, selector; print(sorted({'pydantic','aiohttp','yaml'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_load_profile_and_model_validate_agree() -> None:
    import yaml

    path = PROFILES / "chat.yaml"
    loaded = selector.load_profile(path)
    direct = selector.Profile.model_validate(yaml.safe_load(path.read_text()))
    assert loaded == direct


def test_errors_are_one_family_with_locations(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "x.yaml"
    bad.write_text("schema_version: 1\nname: x\nmedia: none\n")
    try:
        selector.load_profile(bad)
    except selector.SelectorError as exc:
        assert isinstance(exc, selector.ProfileError)
        problem = exc.problems[0]
        assert (problem.file, problem.line, problem.path) == (str(bad), 3, "media")
        assert str(exc) == problem.format()
    else:
        raise AssertionError("expected a ProfileError")
