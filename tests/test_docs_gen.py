"""Generated docs: current in the repository, and build/check behave."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from selector import docs_gen
from selector.profile import Profile
from tests.conftest import ROOT


def test_committed_docs_are_current() -> None:
    stale = docs_gen.check(ROOT / "docs")
    assert not stale, f"run `selector docs build`: stale {stale}"


def test_profile_reference_lists_every_field() -> None:
    text = docs_gen.generate()["reference/profile.md"]

    def paths(model: type, prefix: str = "") -> list[str]:
        out = []
        for name, info in model.model_fields.items():  # type: ignore[attr-defined]
            out.append(prefix + name)
            annotation = info.annotation
            for candidate in (annotation, *getattr(annotation, "__args__", ())):
                if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
                    sep = "[]." if name == "path" else "."
                    out += paths(candidate, prefix + name + sep)
        return out

    for path in paths(Profile):
        assert f"| `{path}` |" in text, path


def test_build_then_check_round_trip(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "selector", "docs"]
    check = subprocess.run([*cli, "check", "--out", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 1
    assert "stale or missing" in check.stdout
    build = subprocess.run([*cli, "build", "--out", str(tmp_path)], capture_output=True, text=True)
    assert build.returncode == 0
    assert (tmp_path / "reference" / "profile.md").is_file()
    again = subprocess.run([*cli, "check", "--out", str(tmp_path)], capture_output=True, text=True)
    assert again.returncode == 0, again.stdout
    (tmp_path / "reference" / "profile.md").write_text("edited by hand\n")
    edited = subprocess.run([*cli, "check", "--out", str(tmp_path)], capture_output=True, text=True)
    assert edited.returncode == 1
    assert "reference/profile.md" in edited.stdout
