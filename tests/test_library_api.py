"""The library API reference is read from the source, never imported: signatures as written
(numeric defaults folded to their value), aliases spelled out in model fields, dataclass and
inherited constructors, and the docstring a base passes down."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from selector.docs_gen.library_api import reference_sections

MODULES = {
    "__init__.py": "",
    "kinds.py": """
        from typing import Literal

        Colour = Literal["red", "blue"]
        SIZE = 4 * 1024
    """,
    "models.py": '''
        from __future__ import annotations

        from dataclasses import KW_ONLY, dataclass, field

        from pydantic import BaseModel, Field

        from demo.kinds import SIZE, Colour


        class _Base(BaseModel):
            """A base."""

            first: int = Field(default=1, description="First" " field.")


        class Paint(_Base):
            """Paint of one colour."""

            colour: Colour = Field(description="Which | colour.")
            _secret: int = 0

            @property
            def bright(self) -> bool:
                """Whether it shines.

                Only the summary is shown."""
                return True

            def mix(self, other: Paint, *, ratio: float = 0.5) -> Paint:
                """Mix two paints."""
                return self

            @classmethod
            def plain(cls, size: int = SIZE) -> Paint:
                """A plain paint."""
                raise NotImplementedError

            @staticmethod
            def helper(x: int) -> int:
                """Help."""
                return x


        @dataclass(frozen=True)
        class Brush:
            """A brush."""

            width: int = SIZE
            _: KW_ONLY
            tags: tuple[str, ...] = field(default_factory=tuple)
            hidden: int = field(default=0, init=False)


        class Failure(Exception):
            """It failed."""

            def __init__(self, reason: str = "x") -> None:
                super().__init__(reason)


        class Worse(Failure):
            pass


        def paint(colour: Colour, size: int = SIZE) -> Paint:
            """Paint something."""
            raise NotImplementedError
    ''',
}


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    root.mkdir()
    for name, text in MODULES.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


def section(lines: list[str], name: str) -> str:
    text = "\n".join(lines)
    return text.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]


def test_functions_keep_aliases_and_show_folded_numeric_defaults(package: Path) -> None:
    functions, _ = reference_sections({"paint": "demo.models"}, package)
    assert "`paint(colour: Colour, size: int = 4096) -> Paint` (from `demo.models`)" in functions
    assert "Paint something." in functions
    assert "demo" not in sys.modules and "demo.models" not in sys.modules


def test_a_model_lists_inherited_fields_first_and_spells_out_aliases(package: Path) -> None:
    _, classes = reference_sections({"Paint": "demo.models"}, package)
    text = section(classes, "Paint")
    assert "`Paint(**fields)` (class, from `demo.models`)" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `first` | `int` | First field. |",
        "| `colour` | `Literal['red', 'blue']` | Which \\| colour. |",
    ]
    methods = [line for line in text.splitlines() if line.startswith("- ")]
    assert methods == [
        "- `bright` (property): Whether it shines.",
        "- `mix(other: Paint, *, ratio: float = 0.5) -> Paint`: Mix two paints.",
        "- `plain(size: int = 4096) -> Paint`: A plain paint.",
        "- `helper(x: int) -> int`: Help.",
    ]


def test_a_dataclass_shows_the_constructor_it_generates(package: Path) -> None:
    _, classes = reference_sections({"Brush": "demo.models"}, package)
    text = section(classes, "Brush")
    assert "`Brush(width: int = 4096, *, tags: tuple[str, ...] = <factory>) -> None`" in text


def test_a_subclass_takes_its_base_constructor_and_docstring(package: Path) -> None:
    _, classes = reference_sections({"Worse": "demo.models"}, package)
    text = section(classes, "Worse")
    assert "`Worse(reason: str = 'x') -> None` (class, a `Failure`, from `demo.models`)" in text
    assert "It failed." in text


def test_a_name_the_module_does_not_define_is_an_error(package: Path) -> None:
    with pytest.raises(ValueError, match=r"Missing is not defined in demo\.models"):
        reference_sections({"Missing": "demo.models"}, package)
    with pytest.raises(ValueError, match=r"SIZE in demo\.kinds is neither"):
        reference_sections({"SIZE": "demo.kinds"}, package)
